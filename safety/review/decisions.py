"""A reviewer's decision on a case they hold: recorded, audited, and published as an action
(`content.decisions` through the outbox). `escalate` sends the case to the escalation queue
instead. Decisions about cameo misuse add a notice to each cameo owner's record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.auth.principal import Principal
from cameoguard.contracts import CONTENT_DECISIONS, ContentDecision
from cameoguard.db import utcnow
from cameoguard.errors import RefusalKind
from cameoguard.events import emit
from safety.consent.cameos import notify_misuse
from safety.review.cases import CaseError
from safety.review.queue import holding
from safety.review.routing import ACTIONS, ReviewPolicy
from safety.review.tables import ReviewCase, ReviewDecision

# What each decision does to the item in the feed.
FEED_ACTION = {"approve": "publish", "remove": "remove", "age_restrict": "age_restrict"}


class ItemActions(Protocol):
    """What the review area needs of the feed (provided by the assembly): apply a decision to a
    feed item in the reviewer's transaction. False when nothing changed (or no such item)."""

    def apply(
        self, session: Session, item_id: str, action: str, source: str, reasons: list[str]
    ) -> bool: ...

    def tenant_of(self, session: Session, item_id: str) -> str: ...


@dataclass
class DecisionRequest:
    action: str
    reason_code: str
    note: str = ""


def _check(request: DecisionRequest, policy: ReviewPolicy) -> None:
    if request.action not in ACTIONS:
        raise CaseError(
            RefusalKind.invalid,
            "unknown_action",
            f"unknown action {request.action!r}; one of {list(ACTIONS)}",
        )
    codes = policy.reason_codes[request.action]
    if request.reason_code not in codes:
        raise CaseError(
            RefusalKind.invalid,
            "unknown_reason_code",
            f"reason code {request.reason_code!r} is not one of {codes} for {request.action}",
        )
    if len(request.note) > 2000:
        raise CaseError(RefusalKind.invalid, "note_too_long", "a note is at most 2000 characters")


def cameos_of(case: ReviewCase) -> list[str]:
    """Cameos the item declared or any signal saw in it."""
    found = set(case.snapshot.get("cameo_ids") or [])
    for result in (case.snapshot.get("scores") or {}).values():
        found.update(result.get("cameos_seen") or [])
    return sorted(found)


def decide(
    session: Session,
    case_id: str,
    principal: Principal,
    request: DecisionRequest,
    policy: ReviewPolicy,
    items: ItemActions,
) -> ReviewDecision:
    """Records the decision, applies it to the feed item in the same transaction (a reviewer's
    decision is not waiting for any worker), and publishes it on `content.decisions` for the
    platform; escalation routes the case to the escalation queue instead."""
    _check(request, policy)
    case = holding(session, case_id, principal, policy)
    decision = ReviewDecision(
        case_id=case.id,
        item_id=case.item_id,
        reviewer=principal.key_id,
        action=request.action,
        reason_code=request.reason_code,
        note=request.note,
        policy=policy.ref,
        decided_at=utcnow(),
    )
    session.add(decision)
    case.claimed_by, case.lease_expires_at = None, None
    case.claim_version += 1
    if request.action == "escalate":
        case.status = "open"
        placement = policy.place(case.kind, case.signals, escalated=True)
        case.queue, case.roles_needed = placement.queue, placement.roles_text
        case.severity = max(1, case.severity - 1)
    else:
        case.status, case.open_key, case.decided_at = "decided", None, utcnow()
    session.flush()
    notified: list[str] = []
    if request.action != "escalate" and request.reason_code in policy.notify_cameo_owner:
        for cameo_id in cameos_of(case):
            if notify_misuse(
                session,
                cameo_id,
                item_id=case.item_id,
                case_id=case.id,
                action=request.action,
                reason_code=request.reason_code,
            ):
                notified.append(cameo_id)
    if request.action != "escalate" and case.item_id is not None and case.kind != "generation":
        version = session.scalar(
            select(func.count())
            .select_from(ReviewDecision)
            .where(ReviewDecision.item_id == case.item_id, ReviewDecision.action != "escalate")
        )
        reasons = [f"reviewer decision: {request.reason_code} ({policy.ref})"]
        items.apply(session, case.item_id, FEED_ACTION[request.action], "review", reasons)
        event = ContentDecision(
            item_id=case.item_id,
            decision_version=int(version or 1),
            action=FEED_ACTION[request.action],  # type: ignore[arg-type]
            reasons=reasons,
            source="review",
            case_id=case.id,
            tenant=items.tenant_of(session, case.item_id),
        )
        emit(session, CONTENT_DECISIONS, case.item_id, event.model_dump(mode="json"))
    record(
        session,
        actor=principal.actor,
        action="review.decide",
        subject=f"case:{case.id}",
        reason=f"{request.action}: {request.reason_code}",
        details={
            "item_id": case.item_id,
            "kind": case.kind,
            "note": request.note,
            "policy": policy.ref,
            "notified_cameos": notified,
        },
    )
    return decision
