"""HTTP routes of the review area: the reviewer's JSON API and the reviewer's web page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from cameoguard import media_store
from cameoguard.auth.principal import Principal, Scope
from cameoguard.db import utcnow
from cameoguard.deps import require_scope, service, short_session
from cameoguard.errors import ApiError
from safety.review import decisions, queue
from safety.review.cases import aware, case_reports
from safety.review.routing import review_policy
from safety.review.tables import ReviewCase

router = APIRouter(tags=["review"])
reviewer = require_scope(Scope.reviewer)
viewer = require_scope(Scope.reviewer, Scope.auditor, Scope.admin)
STATIC = Path(__file__).parent / "static"


def case_view(case: ReviewCase, session: Any) -> dict[str, Any]:
    expires = aware(case.lease_expires_at)
    return {
        "case_id": case.id,
        "kind": case.kind,
        "item_id": case.item_id,
        "cameo_id": case.cameo_id,
        "queue": case.queue,
        "roles_needed": [r for r in case.roles_needed.split(",") if r],
        "status": case.status,
        "severity": case.severity,
        "minors": case.minors,
        "reach": case.reach,
        "signals": case.signals,
        "reasons": case.reasons,
        "report_count": case.report_count,
        "snapshot": case.snapshot,
        "claimed_by": case.claimed_by,
        "lease_expires_at": expires.isoformat() if expires else None,
        "opened_at": case.opened_at.isoformat(),
        "decided_at": case.decided_at.isoformat() if case.decided_at else None,
        "decisions": decisions.case_decisions(session, case.id),
        "reports": case_reports(session, case.id),
    }


@router.get("/v1/review/policy")
def policy_view(principal: Principal = Depends(viewer)) -> dict[str, Any]:
    """The reason codes of each decision and the queues this key may take."""
    policy = review_policy()
    return {
        "policy": policy.ref,
        "reason_codes": policy.reason_codes,
        "lease_seconds": policy.lease_seconds,
        "my_queues": policy.queues_for(principal.roles) if "reviewer" in principal.scopes else [],
    }


@router.get("/v1/review/queues")
def queues(principal: Principal = Depends(viewer)) -> dict[str, Any]:
    """Open and claimed cases per queue, the oldest case's age, decisions in the last hour."""
    policy = review_policy()
    with short_session() as session:
        stats = queue.queue_stats(session, policy)
    mine = set(policy.queues_for(principal.roles)) if "reviewer" in principal.scopes else set()
    for entry in stats["queues"]:
        entry["mine"] = entry["name"] in mine
    return stats


@router.post("/v1/review/claims")
def claim(principal: Principal = Depends(reviewer)) -> dict[str, Any]:
    """Claims the most urgent case this reviewer may take (or returns the one they hold), under
    an exclusive lease. `case` is null when their queues are empty."""
    with short_session(write=True) as session:
        case = queue.claim_next(session, principal, review_policy())
        return {"case": None if case is None else case_view(case, session)}


@router.get("/v1/review/claims/current")
def current(principal: Principal = Depends(reviewer)) -> dict[str, Any]:
    """The case this reviewer holds now, if any (claims nothing)."""
    with short_session() as session:
        case = queue.held_case(session, principal, utcnow())
        return {"case": None if case is None else case_view(case, session)}


def _visible(session: Any, case_id: str, principal: Principal) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None or not queue.may_see(case, principal, review_policy()):
        raise ApiError(404, f"no case {case_id}", code="unknown_case")
    return case


@router.get("/v1/review/cases/{case_id}")
def get_case(case_id: str, principal: Principal = Depends(viewer)) -> dict[str, Any]:
    with short_session() as session:
        return case_view(_visible(session, case_id, principal), session)


@router.get("/v1/review/cases/{case_id}/media", response_class=FileResponse)
def case_media(case_id: str, principal: Principal = Depends(viewer)) -> FileResponse:
    """The case's video. Reviewers get it only while they hold the case."""
    with short_session() as session:
        case = _visible(session, case_id, principal)
        if "reviewer" in principal.scopes and not principal.scopes & {"admin", "auditor"}:
            queue.holding(session, case_id, principal, review_policy())
        location = (case.snapshot or {}).get("media_location")
    if not location:
        raise ApiError(404, "this case has no media", code="no_media")
    try:
        path = media_store.resolve(location)
    except (media_store.MediaLocationError, FileNotFoundError) as exc:
        raise ApiError(404, f"the case's media is gone: {exc}", code="media_gone") from exc
    media_type = "video/webm" if path.suffix == ".webm" else "video/mp4"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-store"})


class DecisionBody(BaseModel):
    action: str = Field(description="approve | remove | age_restrict | escalate")
    reason_code: str = Field(min_length=1, max_length=40)
    note: str = Field("", max_length=2000)


@router.post("/v1/review/cases/{case_id}/decision")
def decide(
    case_id: str,
    body: DecisionBody,
    principal: Principal = Depends(reviewer),
    items: decisions.ItemActions = Depends(service(decisions.ItemActions)),
) -> dict[str, Any]:
    """Decides a case this reviewer holds. The action is published to `content.decisions`;
    `escalate` sends the case to the escalation queue."""
    request = decisions.DecisionRequest(body.action, body.reason_code, body.note)
    with short_session(write=True) as session:
        decisions.decide(session, case_id, principal, request, review_policy(), items)
        case = session.get(ReviewCase, case_id)
        return case_view(case, session)


@router.post("/v1/review/cases/{case_id}/release")
def release(case_id: str, principal: Principal = Depends(reviewer)) -> dict[str, Any]:
    """Gives a held case back to its queue."""
    with short_session(write=True) as session:
        case = queue.release(session, case_id, principal, review_policy())
        return case_view(case, session)


@router.get("/v1/review/history")
def history(
    limit: int = Query(50, ge=1, le=500), principal: Principal = Depends(reviewer)
) -> dict[str, Any]:
    """This reviewer's latest decisions."""
    with short_session() as session:
        return {"decisions": decisions.history(session, principal, limit)}


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The reviewer's web page (it signs in with a reviewer key and calls the API above)."""
    return HTMLResponse((STATIC / "review.html").read_text(encoding="utf-8"))


@router.get("/review/review.js", include_in_schema=False)
def script() -> FileResponse:
    return FileResponse(STATIC / "review.js", media_type="text/javascript")


@router.get("/review/review.css", include_in_schema=False)
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "review.css", media_type="text/css")
