"""People the prompt gate treats as named public figures beyond the pack's own list: those an
accepted likeness claim protects (an estate's, an agent's, the person's own). Data, not a pack
edit and not a retraining: the engine merges these names into the pack's `public_figures` term
group (so `real-person.named` and `impersonation.real-person` apply in every language the
normaliser folds), reading the table again at most every REFRESH_S seconds per database.

An `opt_in` claim licenses accounts: its names (added with the claim's source) are left out of
the rules for those accounts only, by the licence the protected bank keeps for the same source
(`protected_people.licensed_user_ids`); everyone else is refused as before."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cameoguard.db import Base, session_scope, utcnow
from cameoguard.settings import get_settings
from safety.consent.tables import ProtectedPerson

log = logging.getLogger("cameoguard.policy")
REFRESH_S = 2.0


class NamedPerson(Base):
    """A name (or alias) the prompt gate must treat as a real, protected person."""

    __tablename__ = "policy_named_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200), index=True)  # e.g. claim:<id>
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def add_names(session: Session, names: list[str], source: str) -> list[str]:
    """Adds the names (stripped, deduplicated) in the caller's transaction."""
    known = set(session.scalars(select(NamedPerson.name)))
    added = []
    for raw in names:
        name = " ".join(raw.split())
        if name and name.lower() not in {k.lower() for k in known}:
            session.add(NamedPerson(name=name, source=source))
            known.add(name)
            added.append(name)
    session.flush()
    _cache.clear()
    return added


Licences = dict[str, frozenset[str]]  # a name (lower case) -> the accounts it is licensed to
_cache: dict[str, tuple[float, tuple[str, ...], Licences]] = {}
_lock = threading.Lock()


def _read(session: Session) -> tuple[tuple[str, ...], Licences]:
    rows = session.execute(select(NamedPerson.name, NamedPerson.source)).all()
    names = tuple(sorted({name for name, _ in rows}))
    licensed = {
        source: frozenset(accounts)
        for source, accounts in session.execute(
            select(ProtectedPerson.source, ProtectedPerson.licensed_user_ids).where(
                ProtectedPerson.source.in_({source for _, source in rows} or {""})
            )
        )
        if accounts
    }
    licences: Licences = {}
    for name, source in rows:
        if source in licensed:
            key = name.lower()
            licences[key] = licences.get(key, frozenset()) | licensed[source]
    return names, licences


def _current() -> tuple[tuple[str, ...], Licences]:
    """Every added name, sorted, and the licences of opt-in names; read again at most every
    REFRESH_S seconds per database. With no database configured (a bare CLI or a unit test),
    none; if the database cannot be read, what was last read stays in force."""
    settings = get_settings()
    if not settings.database_url and not (settings.home / "cameoguard.db").is_file():
        return (), {}
    url = settings.effective_database_url
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
        if cached is not None and now - cached[0] < REFRESH_S:
            return cached[1], cached[2]
    try:
        with session_scope() as session:
            names, licences = _read(session)
    except Exception as exc:  # keep what we had: names are only ever added
        log.error("named people unreadable", extra={"error": str(exc)})
        kept = (cached[1], cached[2]) if cached is not None else ((), {})
        with _lock:  # try again after REFRESH_S, not on every check
            _cache[url] = (now, *kept)
        return kept
    with _lock:
        _cache[url] = (now, names, licences)
    return names, licences


def current_names() -> tuple[str, ...]:
    """Every added name, sorted (see `_current`)."""
    return _current()[0]


def current_licences() -> Licences:
    """The accounts each opt-in name is licensed to (names in lower case)."""
    return _current()[1]
