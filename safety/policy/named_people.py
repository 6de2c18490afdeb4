"""People the prompt gate treats as named public figures beyond the pack's own list: those an
accepted likeness claim protects (an estate's, an agent's, the person's own). Data, not a pack
edit and not a retraining: the engine merges these names into the pack's `public_figures` term
group (so `real-person.named` and `impersonation.real-person` apply in every language the
normaliser folds), reading the table again at most every REFRESH_S seconds per database."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cameoguard.db import Base, session_scope, utcnow
from cameoguard.settings import get_settings

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


_cache: dict[str, tuple[float, tuple[str, ...]]] = {}
_lock = threading.Lock()


def current_names() -> tuple[str, ...]:
    """Every added name, sorted; read again at most every REFRESH_S seconds per database. With
    no database configured (a bare CLI or a unit test), none; if the database cannot be read,
    the names last read stay in force."""
    settings = get_settings()
    if not settings.database_url and not (settings.home / "cameoguard.db").is_file():
        return ()
    url = settings.effective_database_url
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
        if cached is not None and now - cached[0] < REFRESH_S:
            return cached[1]
    try:
        with session_scope() as session:
            names = tuple(sorted(set(session.scalars(select(NamedPerson.name)))))
    except Exception as exc:  # keep what we had: names are only ever added
        log.error("named people unreadable", extra={"error": str(exc)})
        kept = cached[1] if cached is not None else ()
        with _lock:  # try again after REFRESH_S, not on every check
            _cache[url] = (now, kept)
        return kept
    with _lock:
        _cache[url] = (now, names)
    return names
