"""Opening review cases: from the feed's classifiers, from user reports, from creators' appeals.

An item has at most one undecided content case: classifier signals and user reports of the same
item merge into it (the worst severity wins, signals and reasons accumulate, the queue is
re-routed while nobody holds it). The callers (the feed area) pass a snapshot of what the
reviewer needs to see: caption, media location, scores and reasons, provenance."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.auth.tables import ApiKey
from cameoguard.db import utcnow
from cameoguard.errors import Refusal, RefusalKind
from safety.review.routing import ReviewPolicy
from safety.review.tables import ReviewCase, ReviewDecision, UserReport

MAX_REASONS = 50


class CaseError(Refusal):
    """A request the review area refuses."""


@dataclass
class CaseRequest:
    kind: str  # content | report | appeal | cameo_complaint | generation | crisis
    item_id: str | None  # the feed item (for `generation`: the generation job)
    signals: list[str]
    severity: int
    reasons: list[str]
    snapshot: dict[str, Any]
    reach: int = 0
    cameo_id: str | None = None
    excluded_reviewers: list[str] = field(default_factory=list)
    appeal_of: str | None = None


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; every time here is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _open_key(request: CaseRequest) -> str:
    if request.kind in ("content", "report"):
        return f"item:{request.item_id}"
    if request.kind in ("appeal", "generation", "crisis"):  # crisis: item_id is the account
        return f"{request.kind}:{request.item_id}"
    return f"cameo:{request.cameo_id}"


def _merge(session: Session, case: ReviewCase, request: CaseRequest, policy: ReviewPolicy) -> None:
    case.severity = min(case.severity, request.severity)
    case.signals = sorted(set(case.signals) | set(request.signals))
    case.minors = case.minors or "minors" in request.signals
    fresh = [r for r in request.reasons if r not in case.reasons]
    case.reasons = (case.reasons + fresh)[-MAX_REASONS:]
    case.snapshot = {**case.snapshot, **request.snapshot}
    case.reach = max(case.reach, request.reach)
    place_again(session, case, policy, why="new signals merged into the case")


def place_again(session: Session, case: ReviewCase, policy: ReviewPolicy, why: str) -> None:
    """Routes the case again from its signals (an escalated case stays escalated) and, when the
    reviewer holding it lacks a role it now needs, ends their lease: a case that gained a minors
    signal leaves a general reviewer's hands at once."""
    placement = policy.place(case.kind, case.signals, case.queue == policy.escalation_queue)
    if (case.queue, case.roles_needed) != (placement.queue, placement.roles_text):
        case.queue, case.roles_needed = placement.queue, placement.roles_text
        case.claim_version += 1  # a claim racing on the old routing fails its compare-and-swap
    if case.status != "claimed" or case.claimed_by is None:
        return
    holder = session.get(ApiKey, case.claimed_by)
    holder_roles = frozenset(holder.roles) if holder is not None else frozenset()
    if placement.roles <= holder_roles:
        return
    record(
        session,
        actor="system:review",
        action="review.lease_ended",
        subject=f"case:{case.id}",
        reason=f"{why}: it now needs roles {sorted(placement.roles)}",
        details={"reviewer": case.claimed_by, "queue": case.queue},
    )
    case.status, case.claimed_by, case.lease_expires_at = "open", None, None
    case.claim_version += 1


def _open_row(session: Session, key: str) -> ReviewCase | None:
    """The undecided case under `key`, locked for this transaction (on PostgreSQL a concurrent
    decision or merge of the same case waits for it; SQLite serialises writers anyway)."""
    return session.scalar(select(ReviewCase).where(ReviewCase.open_key == key).with_for_update())


def open_case(session: Session, request: CaseRequest, policy: ReviewPolicy) -> ReviewCase:
    """The item's open case, created or merged into; in the caller's transaction."""
    key = _open_key(request)
    existing = _open_row(session, key)
    if existing is not None:
        _merge(session, existing, request, policy)
        return existing
    placement = policy.place(request.kind, request.signals, escalated=False)
    case = ReviewCase(
        id=f"case_{secrets.token_hex(8)}",
        kind=request.kind,
        item_id=request.item_id,
        cameo_id=request.cameo_id,
        open_key=key,
        queue=placement.queue,
        roles_needed=placement.roles_text,
        status="open",
        severity=request.severity,
        minors="minors" in request.signals,
        reach=request.reach,
        signals=sorted(set(request.signals)),
        reasons=request.reasons[-MAX_REASONS:],
        snapshot=request.snapshot,
        excluded_reviewers=request.excluded_reviewers,
        appeal_of=request.appeal_of,
        claim_version=0,
        report_count=0,
        opened_at=utcnow(),
    )
    try:
        with session.begin_nested():  # another process may open the same case at once
            session.add(case)
    except IntegrityError:
        existing = _open_row(session, key)
        if existing is None:
            raise
        _merge(session, existing, request, policy)
        return existing
    record(
        session,
        actor="system:review",
        action="review.case_open",
        subject=f"case:{case.id}",
        reason=f"{request.kind} -> queue {case.queue}",
        details={"item_id": request.item_id, "signals": case.signals, "severity": case.severity},
    )
    return case


def add_report(
    session: Session,
    policy: ReviewPolicy,
    *,
    item_id: str,
    reporter_id: str,
    reason: str,
    note: str,
    snapshot: dict[str, Any],
    reach: int,
) -> tuple[UserReport, ReviewCase, bool]:
    """Files a user's report into the item's open case. Returns (report, case, duplicate):
    the same reporter reporting the same item again while its case is open changes nothing."""
    spec = policy.report_reasons.get(reason)
    if spec is None:
        raise CaseError(
            RefusalKind.invalid,
            "unknown_reason",
            f"unknown report reason {reason!r}; known: " + ", ".join(sorted(policy.report_reasons)),
        )
    open_case_row = _open_row(session, f"item:{item_id}")
    if open_case_row is not None:
        earlier = session.scalar(
            select(UserReport).where(
                UserReport.case_id == open_case_row.id, UserReport.reporter_id == reporter_id
            )
        )
        if earlier is not None:
            return earlier, open_case_row, True
    case = open_case(
        session,
        CaseRequest(
            kind="report",
            item_id=item_id,
            signals=[spec.signal],
            severity=spec.severity,
            reasons=[f"user report: {reason}"],
            snapshot=snapshot,
            reach=reach,
        ),
        policy,
    )
    case.report_count += 1
    report = UserReport(
        item_id=item_id, reporter_id=reporter_id, reason=reason, note=note, case_id=case.id
    )
    session.add(report)
    session.flush()
    return report, case, False


def open_appeal(
    session: Session,
    policy: ReviewPolicy,
    *,
    item_id: str,
    removed_at: datetime,
    statement: str,
    snapshot: dict[str, Any],
) -> ReviewCase:
    """Opens the creator's appeal of the item's removal. The reviewer who removed it (if a
    reviewer did) is excluded from the appeal. One appeal per removal."""
    key = f"appeal:{item_id}"
    if session.scalar(select(ReviewCase.id).where(ReviewCase.open_key == key)) is not None:
        raise CaseError(
            RefusalKind.conflict, "appeal_pending", "an appeal of this item is already pending"
        )
    decided = session.scalars(
        select(ReviewCase).where(ReviewCase.kind == "appeal", ReviewCase.item_id == item_id)
    ).all()
    removal = aware(removed_at)
    assert removal is not None
    if any((aware(c.opened_at) or removal) >= removal for c in decided):
        raise CaseError(
            RefusalKind.conflict, "already_appealed", "this removal was already appealed"
        )
    last_removal = session.scalar(
        select(ReviewDecision)
        .where(ReviewDecision.item_id == item_id, ReviewDecision.action == "remove")
        .order_by(ReviewDecision.id.desc())
    )
    previous = session.scalar(
        select(ReviewCase)
        .where(ReviewCase.item_id == item_id, ReviewCase.kind != "appeal")
        .order_by(ReviewCase.opened_at.desc())
    )
    return open_case(
        session,
        CaseRequest(
            kind="appeal",
            item_id=item_id,
            signals=list(previous.signals) if previous else [],
            severity=policy.appeal_severity,
            reasons=[f"creator appeals the removal: {statement[:500]}"],
            snapshot={**snapshot, "appeal_statement": statement},
            excluded_reviewers=[last_removal.reviewer] if last_removal else [],
            appeal_of=last_removal.case_id if last_removal else None,
        ),
        policy,
    )


def item_signals(session: Session, item_id: str) -> list[str]:
    """Every signal any case of the item carried (decided cases included)."""
    rows = session.scalars(select(ReviewCase.signals).where(ReviewCase.item_id == item_id))
    return sorted({signal for signals in rows for signal in signals or []})


def update_reach(session: Session, item_id: str, views: int) -> None:
    """Keeps the item's open cases' reach (a priority input) up to date."""
    for case in session.scalars(
        select(ReviewCase).where(ReviewCase.item_id == item_id, ReviewCase.open_key.is_not(None))
    ):
        case.reach = max(case.reach, views)


def case_outcome(session: Session, case_id: str) -> str | None:
    """The final action on a decided case (approve, remove, age_restrict); None while open."""
    case = session.get(ReviewCase, case_id)
    if case is None or case.status != "decided":
        return None
    final = session.scalar(
        select(ReviewDecision)
        .where(ReviewDecision.case_id == case_id, ReviewDecision.action != "escalate")
        .order_by(ReviewDecision.id.desc())
    )
    return final.action if final else None
