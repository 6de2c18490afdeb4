"""Working the queue: exclusive claims with leases, releasing, and the queue's counts.

A claim is a compare-and-swap on the case's `claim_version` in one UPDATE: of two reviewers
claiming the same case at once, exactly one row update succeeds; the loser moves to the next
candidate. A lease that expires puts the case back in the queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.auth.principal import Principal
from cameoguard.db import utcnow
from cameoguard.errors import RefusalKind
from safety.review.cases import CaseError, aware, place_again
from safety.review.routing import ReviewPolicy, role_sets
from safety.review.tables import ReviewCase, ReviewDecision
from safety.review.views import QueuesView, QueueView

CANDIDATES = 20


def _priority_order() -> tuple[Any, ...]:
    """Severity of the worst category first, then minors, then reach, then the oldest."""
    return (
        ReviewCase.severity.asc(),
        ReviewCase.minors.desc(),
        ReviewCase.reach.desc(),
        ReviewCase.opened_at.asc(),
    )


def _available(now: datetime) -> Any:
    return or_(
        ReviewCase.status == "open",
        and_(ReviewCase.status == "claimed", ReviewCase.lease_expires_at < now),
    )


def held_case(session: Session, principal: Principal, now: datetime) -> ReviewCase | None:
    return session.scalar(
        select(ReviewCase).where(
            ReviewCase.status == "claimed",
            ReviewCase.claimed_by == principal.key_id,
            ReviewCase.lease_expires_at >= now,
        )
    )


def claim_next(session: Session, principal: Principal, policy: ReviewPolicy) -> ReviewCase | None:
    """The case this reviewer holds, else the most urgent case they may take, claimed for
    `lease_seconds`; None when their queues are empty."""
    now = utcnow()
    held = held_case(session, principal, now)
    if held is not None:
        return held
    queues = policy.queues_for(principal.roles)
    if not queues:
        return None
    allowed = role_sets(principal.roles)
    candidates = session.scalars(
        select(ReviewCase)
        .where(
            ReviewCase.queue.in_(queues),
            ReviewCase.roles_needed.in_(allowed),
            _available(now),
        )
        .order_by(*_priority_order())
        .limit(CANDIDATES)
    ).all()
    # A case this reviewer skipped comes after every other case they may take (stable sort).
    candidates = sorted(candidates, key=lambda case: principal.key_id in (case.skipped_by or []))
    for case in candidates:
        if principal.key_id in (case.excluded_reviewers or []):
            continue
        won = session.execute(
            update(ReviewCase)
            .where(
                ReviewCase.id == case.id,
                ReviewCase.claim_version == case.claim_version,
                # Checked again in the write itself: a merge may have changed the roles since.
                ReviewCase.roles_needed.in_(allowed),
            )
            .values(
                status="claimed",
                claimed_by=principal.key_id,
                lease_expires_at=now + timedelta(seconds=policy.lease_seconds),
                claim_version=case.claim_version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if won.rowcount == 1:
            session.refresh(case)
            record(
                session,
                actor=principal.actor,
                action="review.claim",
                subject=f"case:{case.id}",
                reason=f"queue {case.queue}",
            )
            return case
    return None


def may_see(case: ReviewCase, principal: Principal, policy: ReviewPolicy) -> bool:
    """Auditors and admins see every case. A reviewer sees a case of a queue they may take and
    only if they hold every role it needs: the roles recorded on it and, checked again here,
    the roles its signals need (a minors signal needs child_safety in whatever queue)."""
    if principal.scopes & {"admin", "auditor"}:
        return True
    needed = set(filter(None, case.roles_needed.split(","))) | policy.roles_for_signals(
        case.signals
    )
    return case.queue in policy.queues_for(principal.roles) and needed <= principal.roles


def holding(
    session: Session, case_id: str, principal: Principal, policy: ReviewPolicy
) -> ReviewCase:
    """The case, locked for this transaction, if this reviewer holds it now and may still see
    it; else a CaseError saying why not (404 for a case they may not see: its existence is not
    revealed)."""
    case = session.get(ReviewCase, case_id, with_for_update=True)
    if case is None or not may_see(case, principal, policy):
        raise CaseError(RefusalKind.not_found, "unknown_case", f"no case {case_id}")
    if case.status != "claimed" or case.claimed_by != principal.key_id:
        raise CaseError(
            RefusalKind.conflict, "not_holder", "you do not hold this case: claim it first"
        )
    expires = aware(case.lease_expires_at)
    if expires is None or expires < utcnow():
        raise CaseError(
            RefusalKind.conflict, "lease_expired", "your lease on this case expired: claim again"
        )
    return case


def release(
    session: Session, case_id: str, principal: Principal, policy: ReviewPolicy
) -> ReviewCase:
    """Gives the case back (a skip); it is routed again from its signals on the way, and comes
    after the other cases the next time this reviewer claims."""
    case = holding(session, case_id, principal, policy)
    case.status, case.claimed_by, case.lease_expires_at = "open", None, None
    case.claim_version += 1
    if principal.key_id not in (case.skipped_by or []):
        case.skipped_by = [*(case.skipped_by or []), principal.key_id]
    place_again(session, case, policy, why="released")
    record(
        session,
        actor=principal.actor,
        action="review.release",
        subject=f"case:{case.id}",
        reason=f"skipped: given back to the queue {case.queue}, behind the others for this"
        " reviewer",
    )
    return case


def queue_stats(session: Session, policy: ReviewPolicy) -> QueuesView:
    """Per queue: open and claimed cases and the age of the oldest undecided case; and the
    decisions of the last hour."""
    now = utcnow()
    rows = session.execute(
        select(ReviewCase.queue, ReviewCase.status, func.count(), func.min(ReviewCase.opened_at))
        .where(ReviewCase.status.in_(("open", "claimed")))
        .group_by(ReviewCase.queue, ReviewCase.status)
    ).all()
    queues = {
        q.name: QueueView(name=q.name, roles=q.roles, open=0, claimed=0, oldest_age_s=0.0)
        for q in policy.queues
    }
    for name, status, count, oldest in rows:
        entry = queues.setdefault(
            name, QueueView(name=name, roles=[], open=0, claimed=0, oldest_age_s=0.0)
        )
        setattr(entry, status, getattr(entry, status) + int(count))
        age = (now - (aware(oldest) or now)).total_seconds()
        entry.oldest_age_s = max(entry.oldest_age_s, round(age, 1))
    last_hour = session.scalar(
        select(func.count())
        .select_from(ReviewDecision)
        .where(ReviewDecision.decided_at >= now - timedelta(hours=1))
    )
    return QueuesView(queues=list(queues.values()), decisions_last_hour=int(last_hour or 0))
