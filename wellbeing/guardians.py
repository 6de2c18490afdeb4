"""Guardians and parental controls. A guardian is invited for a teen (by the platform, on the
guardian's request) and linked once the teen accepts; both steps are audited. Only a linked
guardian whose own age is assured adult may set the teen's controls; the teen may read them
(what was set, by whom, when). Controls only ever narrow the policy's teen defaults."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.db import utcnow
from cameoguard.errors import Refusal, RefusalKind
from wellbeing.age import age_group
from wellbeing.tables import GuardianLink, ParentalControls

CONTROL_FIELDS = (
    "personalised_feed",
    "direct_messages",
    "continuous_scroll",
    "continuous_scroll_limit_minutes",
    "quiet_hours",
    "cameo_use",
    "daily_generation_limit",
)
MAX_HISTORY = 100


class GuardianError(Refusal):
    """A request about guardians or controls that is refused."""


@dataclass(frozen=True)
class Controls:
    """A teen's controls; None means the policy's default for teens."""

    personalised_feed: bool | None = None
    direct_messages: bool | None = None
    continuous_scroll: bool | None = None
    continuous_scroll_limit_minutes: float | None = None
    quiet_hours: dict[str, str] | None = None
    cameo_use: Literal["nobody", "mutuals"] | None = None
    daily_generation_limit: int | None = None

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> Controls:
        return cls(**{k: v for k, v in (stored or {}).items() if k in CONTROL_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTROL_FIELDS}


def invite(
    session: Session, *, tenant: str, teen_id: str, guardian_id: str, actor: str
) -> GuardianLink:
    if teen_id == guardian_id:
        raise GuardianError(RefusalKind.invalid, "self_guardian", "an account cannot guard itself")
    if age_group(session, tenant, teen_id) == "adult":
        raise GuardianError(
            RefusalKind.conflict, "not_a_teen", "the account is assured adult: no guardian"
        )
    if age_group(session, tenant, guardian_id) != "adult":
        raise GuardianError(
            RefusalKind.forbidden,
            "guardian_not_adult",
            "the guardian's own age must be assured adult first (POST /v1/age/assurance)",
        )
    existing = session.scalar(
        select(GuardianLink).where(
            GuardianLink.tenant == tenant,
            GuardianLink.teen_id == teen_id,
            GuardianLink.guardian_id == guardian_id,
        )
    )
    if existing is not None and existing.status in ("invited", "accepted"):
        return existing
    if existing is not None:  # declined or removed before: a new invitation
        existing.status, existing.invited_at, existing.answered_at = "invited", utcnow(), None
        link = existing
    else:
        link = GuardianLink(
            id=f"gl_{secrets.token_hex(8)}",
            tenant=tenant,
            teen_id=teen_id,
            guardian_id=guardian_id,
            status="invited",
            invited_at=utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(link)
        except IntegrityError as exc:
            raise GuardianError(
                RefusalKind.conflict, "invitation_race", "invited at the same time: retry"
            ) from exc
    record(
        session,
        actor=actor,
        action="wellbeing.guardian_invited",
        subject=f"account:{teen_id}",
        reason=f"guardian {guardian_id} invited; the teen must accept",
        details={"link_id": link.id, "guardian_id": guardian_id, "tenant": tenant},
    )
    return link


def answer(
    session: Session, *, tenant: str, teen_id: str, link_id: str, accept: bool, actor: str
) -> GuardianLink:
    link = session.get(GuardianLink, link_id, with_for_update=True)
    if link is None or link.tenant != tenant or link.teen_id != teen_id:
        raise GuardianError(RefusalKind.not_found, "no_invitation", "no such invitation")
    if link.status != "invited":
        raise GuardianError(
            RefusalKind.conflict, "already_answered", f"the invitation is {link.status}"
        )
    link.status, link.answered_at = ("accepted" if accept else "declined"), utcnow()
    record(
        session,
        actor=actor,
        action="wellbeing.guardian_" + link.status,
        subject=f"account:{teen_id}",
        reason=f"the teen {link.status} guardian {link.guardian_id}",
        details={"link_id": link.id, "guardian_id": link.guardian_id, "tenant": tenant},
    )
    return link


def guardians_of(session: Session, tenant: str, teen_id: str) -> list[GuardianLink]:
    return list(
        session.scalars(
            select(GuardianLink)
            .where(GuardianLink.tenant == tenant, GuardianLink.teen_id == teen_id)
            .order_by(GuardianLink.invited_at)
        )
    )


def linked_guardians(session: Session, tenant: str, teen_id: str) -> list[str]:
    return [g.guardian_id for g in guardians_of(session, tenant, teen_id) if g.status == "accepted"]


def controls_row(session: Session, tenant: str, teen_id: str) -> ParentalControls | None:
    return session.scalar(
        select(ParentalControls).where(
            ParentalControls.tenant == tenant, ParentalControls.teen_id == teen_id
        )
    )


def controls_of(session: Session, tenant: str, account_id: str) -> Controls:
    row = controls_row(session, tenant, account_id)
    return Controls.of(row.controls if row else None)


def set_controls(
    session: Session, *, tenant: str, teen_id: str, guardian_id: str, controls: Controls, actor: str
) -> ParentalControls:
    if guardian_id not in linked_guardians(session, tenant, teen_id):
        raise GuardianError(
            RefusalKind.forbidden,
            "not_a_guardian",
            f"{guardian_id} is not a linked guardian of this teen (invite, then the teen accepts)",
        )
    row = controls_row(session, tenant, teen_id)
    before = Controls.of(row.controls if row else None).to_dict()
    after = controls.to_dict()
    changed = {k: [before[k], after[k]] for k in CONTROL_FIELDS if before[k] != after[k]}
    now = utcnow()
    entry = {"at": now.isoformat(), "by": guardian_id, "changed": changed}
    if row is None:
        row = ParentalControls(
            tenant=tenant,
            teen_id=teen_id,
            controls=after,
            set_by=guardian_id,
            history=[entry],
            updated_at=now,
        )
        session.add(row)
    else:
        row.controls, row.set_by, row.updated_at = after, guardian_id, now
        row.history = [*row.history, entry][-MAX_HISTORY:]
    record(
        session,
        actor=actor,
        action="wellbeing.controls_set",
        subject=f"account:{teen_id}",
        reason=f"guardian {guardian_id} changed {sorted(changed) or 'nothing'}",
        details={"tenant": tenant, "changed": changed},
    )
    return row
