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
from cameoguard.deps import VIDEO_RESPONSE, require_scope, service, short_session
from cameoguard.errors import ApiError
from safety.review import decisions, queue, views
from safety.review.routing import review_policy
from safety.review.tables import ReviewCase
from safety.review.views import (
    CaseView,
    ClaimAnswer,
    HistoryView,
    PolicyView,
    QueuesView,
    case_view,
)

router = APIRouter(tags=["review"])
reviewer = require_scope(Scope.reviewer)
viewer = require_scope(Scope.reviewer, Scope.auditor, Scope.admin)
STATIC = Path(__file__).parent / "static"


@router.get("/v1/review/policy", response_model=PolicyView)
def policy_view(principal: Principal = Depends(viewer)) -> PolicyView:
    """The reason codes of each decision and the queues this key may take."""
    policy = review_policy()
    return PolicyView(
        policy=policy.ref,
        reason_codes=policy.reason_codes,
        lease_seconds=policy.lease_seconds,
        my_queues=policy.queues_for(principal.roles) if "reviewer" in principal.scopes else [],
    )


@router.get("/v1/review/queues", response_model=QueuesView)
def queues(principal: Principal = Depends(viewer)) -> QueuesView:
    """Open and claimed cases per queue, the oldest case's age, decisions in the last hour."""
    policy = review_policy()
    with short_session() as session:
        stats = queue.queue_stats(session, policy)
    mine = set(policy.queues_for(principal.roles)) if "reviewer" in principal.scopes else set()
    for entry in stats.queues:
        entry.mine = entry.name in mine
    return stats


@router.post("/v1/review/claims", response_model=ClaimAnswer)
def claim(principal: Principal = Depends(reviewer)) -> ClaimAnswer:
    """Claims the most urgent case this reviewer may take (or returns the one they hold), under
    an exclusive lease. `case` is null when their queues are empty."""
    with short_session(write=True) as session:
        case = queue.claim_next(session, principal, review_policy())
        return ClaimAnswer(case=None if case is None else case_view(session, case))


@router.get("/v1/review/claims/current", response_model=ClaimAnswer)
def current(principal: Principal = Depends(reviewer)) -> ClaimAnswer:
    """The case this reviewer holds now, if any (claims nothing)."""
    with short_session() as session:
        case = queue.held_case(session, principal, utcnow())
        return ClaimAnswer(case=None if case is None else case_view(session, case))


def _visible(session: Any, case_id: str, principal: Principal) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None or not queue.may_see(case, principal, review_policy()):
        raise ApiError(404, f"no case {case_id}", code="unknown_case")
    return case


@router.get("/v1/review/cases/{case_id}", response_model=CaseView)
def get_case(case_id: str, principal: Principal = Depends(viewer)) -> CaseView:
    with short_session() as session:
        return case_view(session, _visible(session, case_id, principal))


@router.get(
    "/v1/review/cases/{case_id}/media", response_class=FileResponse, responses=VIDEO_RESPONSE
)
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


@router.post("/v1/review/cases/{case_id}/decision", response_model=CaseView)
def decide(
    case_id: str,
    body: DecisionBody,
    principal: Principal = Depends(reviewer),
    items: decisions.ItemActions = Depends(service(decisions.ItemActions)),
) -> CaseView:
    """Decides a case this reviewer holds. The action is published to `content.decisions`;
    `escalate` sends the case to the escalation queue."""
    request = decisions.DecisionRequest(body.action, body.reason_code, body.note)
    with short_session(write=True) as session:
        decisions.decide(session, case_id, principal, request, review_policy(), items)
        return case_view(session, session.get(ReviewCase, case_id))


@router.post("/v1/review/cases/{case_id}/release", response_model=CaseView)
def release(case_id: str, principal: Principal = Depends(reviewer)) -> CaseView:
    """Gives a held case back to its queue."""
    with short_session(write=True) as session:
        return case_view(session, queue.release(session, case_id, principal, review_policy()))


@router.get("/v1/review/history", response_model=HistoryView)
def history(
    limit: int = Query(50, ge=1, le=500), principal: Principal = Depends(reviewer)
) -> HistoryView:
    """This reviewer's latest decisions."""
    with short_session() as session:
        return views.history(session, principal, limit)


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
