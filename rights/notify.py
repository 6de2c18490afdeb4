"""Telling cameo owners of new uses: each item published with their cameo (declared, or
inherited from the item it remixes) is a `likeness.used` event for the owner at once (`every`,
the default), in a daily digest (`daily`), or not at all (`none`), by the owner's preference.
A likeness match (her face or voice found in an item without consent: rights.matches) is told
the same way, as a use `match:<id>` in state `match`, for her to confirm or dismiss.
The platform's webhook (if it registered one) receives these events like every other."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.contracts import (
    CONTENT_PUBLISHED,
    LIKENESS_USED,
    ContentPublished,
    LikenessUsed,
    Message,
    Reaction,
)
from cameoguard.db import session_scope, utcnow
from cameoguard.events import emit
from rights.tables import NotificationPreference, UsageNotice
from safety.consent.tables import Cameo

Mode = Literal["every", "daily", "none"]
DEFAULT_MODE: Mode = "every"


class Preference(BaseModel):
    owner_id: str
    mode: Mode


def get_preference(session: Session, owner_id: str, tenant: str) -> Mode:
    row = session.get(NotificationPreference, (tenant, owner_id))
    return row.mode if row is not None else DEFAULT_MODE  # type: ignore[return-value]


def set_preference(owner_id: str, mode: Mode, actor: str, *, tenant: str) -> Preference:
    with session_scope(write=True) as session:
        row = session.get(NotificationPreference, (tenant, owner_id))
        if row is None:
            row = NotificationPreference(tenant=tenant, owner_id=owner_id, mode=mode)
            session.add(row)
        row.mode, row.updated_at = mode, utcnow()
        audit(
            session,
            actor=actor,
            action="likeness.notifications",
            subject=f"owner:{owner_id}",
            reason=mode,
        )
        return Preference(owner_id=owner_id, mode=mode)


def read_preference(owner_id: str, *, tenant: str) -> Preference:
    with session_scope() as session:
        return Preference(owner_id=owner_id, mode=get_preference(session, owner_id, tenant))


def notify_use(
    session: Session, cameo_id: str, usage: str, made_by: str, state: str, tenant: str
) -> bool:
    """Records the use for the cameo's owner and, for `every`, emits its event now. Nothing for
    the owner's own uses, unknown cameos, or a use already recorded (a replay)."""
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or cameo.owner_id == made_by:
        return False
    mode = get_preference(session, cameo.owner_id, cameo.tenant)
    if mode == "none":
        return False
    try:
        with session.begin_nested():
            session.add(
                UsageNotice(
                    tenant=tenant,
                    cameo_id=cameo_id,
                    owner_id=cameo.owner_id,
                    usage=usage,
                    made_by=made_by,
                    mode=mode,
                    sent_at=utcnow() if mode == "every" else None,
                )
            )
    except IntegrityError:
        return False  # told before
    if mode == "every":
        event = LikenessUsed(
            cameo_id=cameo_id,
            owner_id=cameo.owner_id,
            uses=[{"usage": usage, "made_by": made_by, "state": state}],
            tenant=tenant,
            at=utcnow(),
        )
        emit(session, LIKENESS_USED, cameo_id, event.model_dump(mode="json"))
    return True


def notify_published(message: ContentPublished) -> int:
    usage, author = f"item:{message.item_id}", message.author_id
    with session_scope(write=True) as session:
        return sum(
            notify_use(session, c, usage, author, "published", message.tenant)
            for c in message.cameo_ids
        )


def _state(row: UsageNotice) -> str:
    """A notice's use: an item published with the cameo, or a match of her likeness to confirm
    or dismiss (usage `match:<id>`)."""
    return "match" if row.usage.startswith("match:") else "published"


def send_digests(older_than: timedelta = timedelta(days=1)) -> int:
    """One `likeness.used` digest per cameo of the `daily` owners whose oldest unsent use is at
    least `older_than` old (the worker or `cameoguard rights digest` calls this). Returns the
    number of digests emitted."""
    cutoff = utcnow() - older_than
    sent = 0
    with session_scope(write=True) as session:
        pending = session.scalars(
            select(UsageNotice)
            .where(UsageNotice.sent_at.is_(None), UsageNotice.mode == "daily")
            .order_by(UsageNotice.id)
        ).all()
        by_cameo: dict[str, list[UsageNotice]] = {}
        for row in pending:
            by_cameo.setdefault(row.cameo_id, []).append(row)
        now = utcnow()
        for cameo_id, rows in by_cameo.items():
            oldest = rows[0].created_at
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=now.tzinfo)
            if oldest > cutoff:
                continue
            event = LikenessUsed(
                cameo_id=cameo_id,
                owner_id=rows[0].owner_id,
                uses=[{"usage": r.usage, "made_by": r.made_by, "state": _state(r)} for r in rows],
                digest=True,
                tenant=rows[0].tenant,
                at=now,
            )
            emit(session, LIKENESS_USED, cameo_id, event.model_dump(mode="json"))
            for row in rows:
                row.sent_at = now
            sent += 1
    return sent


def reactions() -> list[Reaction]:
    def tell_owners(message: Message) -> None:
        assert isinstance(message, ContentPublished)
        notify_published(message)

    return [Reaction("rights.tell_cameo_owners_of_uses", CONTENT_PUBLISHED, tell_owners)]
