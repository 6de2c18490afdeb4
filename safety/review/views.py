"""What the review area answers, as typed models: a case as a reviewer sees it, the queues, the
reason codes, a reviewer's history and an appeal's status."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.auth.principal import Principal
from cameoguard.timestamps import Timestamp
from safety.review.cases import aware
from safety.review.tables import ReviewCase, ReviewDecision, UserReport


class DecisionView(BaseModel):
    reviewer: str
    action: str
    reason_code: str
    note: str
    at: Timestamp


class ReportView(BaseModel):
    reason: str
    note: str
    at: Timestamp


class CaseView(BaseModel):
    case_id: str
    kind: str
    item_id: str | None
    cameo_id: str | None
    queue: str
    roles_needed: list[str]
    status: Literal["open", "claimed", "decided"]
    severity: int
    minors: bool
    reach: int
    signals: list[str]
    reasons: list[str]
    report_count: int
    snapshot: dict[str, Any]
    claimed_by: str | None
    lease_expires_at: Timestamp | None
    opened_at: Timestamp
    decided_at: Timestamp | None
    decisions: list[DecisionView]
    reports: list[ReportView]


class ClaimAnswer(BaseModel):
    case: CaseView | None


class QueueView(BaseModel):
    name: str
    roles: list[str]
    open: int
    claimed: int
    oldest_age_s: float
    mine: bool = False


class QueuesView(BaseModel):
    queues: list[QueueView]
    decisions_last_hour: int


class PolicyView(BaseModel):
    policy: str
    reason_codes: dict[str, list[str]]
    lease_seconds: int
    my_queues: list[str]


class HistoryEntry(BaseModel):
    case_id: str
    item_id: str | None
    kind: str
    queue: str
    action: str
    reason_code: str
    note: str
    at: Timestamp


class HistoryView(BaseModel):
    decisions: list[HistoryEntry]


class AppealStatus(BaseModel):
    appeal_id: str
    item_id: str | None
    status: Literal["open", "claimed", "decided"]
    outcome: Literal["granted", "denied"] | None
    reason_code: str | None
    opened_at: Timestamp
    decided_at: Timestamp | None


def case_view(session: Session, case: ReviewCase) -> CaseView:
    return CaseView(
        case_id=case.id,
        kind=case.kind,
        item_id=case.item_id,
        cameo_id=case.cameo_id,
        queue=case.queue,
        roles_needed=[r for r in case.roles_needed.split(",") if r],
        status=case.status,  # type: ignore[arg-type]
        severity=case.severity,
        minors=case.minors,
        reach=case.reach,
        signals=case.signals,
        reasons=case.reasons,
        report_count=case.report_count,
        snapshot=case.snapshot,
        claimed_by=case.claimed_by,
        lease_expires_at=aware(case.lease_expires_at),
        opened_at=case.opened_at,
        decided_at=case.decided_at,
        decisions=case_decisions(session, case.id),
        reports=case_reports(session, case.id),
    )


def case_decisions(session: Session, case_id: str) -> list[DecisionView]:
    rows = session.scalars(
        select(ReviewDecision).where(ReviewDecision.case_id == case_id).order_by(ReviewDecision.id)
    ).all()
    return [
        DecisionView(
            reviewer=d.reviewer,
            action=d.action,
            reason_code=d.reason_code,
            note=d.note,
            at=d.decided_at,
        )
        for d in rows
    ]


def case_reports(session: Session, case_id: str) -> list[ReportView]:
    """The user reports filed into a case, with their notes (the reporters stay anonymous)."""
    rows = session.scalars(
        select(UserReport).where(UserReport.case_id == case_id).order_by(UserReport.id)
    ).all()
    return [ReportView(reason=r.reason, note=r.note, at=r.created_at) for r in rows]


def history(session: Session, principal: Principal, limit: int = 50) -> HistoryView:
    """This reviewer's latest decisions, newest first."""
    rows = session.execute(
        select(ReviewDecision, ReviewCase.kind, ReviewCase.queue)
        .join(ReviewCase, ReviewCase.id == ReviewDecision.case_id)
        .where(ReviewDecision.reviewer == principal.key_id)
        .order_by(ReviewDecision.id.desc())
        .limit(limit)
    ).all()
    return HistoryView(
        decisions=[
            HistoryEntry(
                case_id=d.case_id,
                item_id=d.item_id,
                kind=kind,
                queue=queue,
                action=d.action,
                reason_code=d.reason_code,
                note=d.note,
                at=d.decided_at,
            )
            for d, kind, queue in rows
        ]
    )


def appeal_status(session: Session, case_id: str) -> AppealStatus | None:
    case = session.get(ReviewCase, case_id)
    if case is None or case.kind != "appeal":
        return None
    final = session.scalar(
        select(ReviewDecision)
        .where(ReviewDecision.case_id == case_id, ReviewDecision.action != "escalate")
        .order_by(ReviewDecision.id.desc())
    )
    outcome = None
    if case.status == "decided" and final is not None:
        outcome = "granted" if final.action == "approve" else "denied"
    return AppealStatus(
        appeal_id=case.id,
        item_id=case.item_id,
        status=case.status,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        reason_code=final.reason_code if final and outcome else None,
        opened_at=case.opened_at,
        decided_at=case.decided_at,
    )
