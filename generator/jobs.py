"""The job queue: submitting (idempotent by key), claiming under a lease (a compare-and-swap, so
two workers never run one job), finishing, cancelling jobs whose cameo was revoked, and
resuming jobs a reviewer released."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.contracts import GENERATION_STATE, GenerationStateChanged
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.events import emit
from cameoguard.settings import get_settings
from cameoguard.timestamps import Timestamp
from generator.tables import GenerationJob

TERMINAL = ("blocked", "failed", "cancelled", "done")


class JobError(Refusal):
    """A generation request the queue refuses."""


@dataclass
class JobRequest:
    requester_id: str
    prompt: str
    idempotency_key: str
    requester_age_group: str = "adult"
    requester_handle: str | None = None
    cameo_ids: list[str] = field(default_factory=list)
    mutual_owner_ids: list[str] = field(default_factory=list)
    duration_s: float = 10.0
    aspect_ratio: str = "16:9"
    reference_location: str | None = None
    publish: dict[str, Any] | None = None  # {caption, audience_age_group} to publish when done
    tenant: str = ""  # the platform tenant asking (idempotency keys are per tenant)

    def digest(self) -> str:
        body = {k: v for k, v in asdict(self).items() if k != "idempotency_key"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def announce(session: Session, job: GenerationJob) -> None:
    """Puts the job's new state in the outbox (in the caller's transaction), for the platform's
    Kafka consumers and webhooks."""
    event = GenerationStateChanged(
        generation_id=job.id,
        state=job.state,  # type: ignore[arg-type]
        reason=(job.reason or None) and job.reason[:500],
        requester_id=job.requester_id,
        tenant=job.tenant or "",
        at=utcnow(),
    )
    emit(session, GENERATION_STATE, job.id, event.model_dump(mode="json"))


def submit(session: Session, request: JobRequest, actor: str) -> tuple[GenerationJob, bool]:
    """Queues the job; returns (job, created). The same idempotency key with the same request
    returns the first job; with a different request it is a 409."""
    digest = request.digest()
    existing = session.scalar(
        select(GenerationJob).where(
            GenerationJob.tenant == request.tenant,
            GenerationJob.idempotency_key == request.idempotency_key,
        )
    )
    if existing is not None:
        if existing.request_digest != digest:
            raise JobError(
                RefusalKind.conflict,
                "idempotency_key_reused",
                "this idempotency key was used for a different request",
            )
        return existing, False
    now = utcnow()
    job = GenerationJob(
        id=f"gen_{secrets.token_hex(8)}",
        idempotency_key=request.idempotency_key,
        tenant=request.tenant,
        request_digest=digest,
        requester_id=request.requester_id,
        requester_age_group=request.requester_age_group,
        requester_handle=request.requester_handle,
        prompt=request.prompt,
        cameo_ids=list(dict.fromkeys(request.cameo_ids)),
        mutual_owner_ids=request.mutual_owner_ids,
        duration_s=request.duration_s,
        aspect_ratio=request.aspect_ratio,
        reference_location=request.reference_location,
        publish=request.publish,
        state="queued",
        steps=[],
        grant_ids=[],
        review_approved=False,
        attempts=0,
        claim_version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    record(
        session,
        actor=actor,
        action="generation.submit",
        subject=f"generation:{job.id}",
        reason="queued",
        details={"requester_id": request.requester_id, "cameo_ids": job.cameo_ids},
    )
    announce(session, job)
    return job, True


def claim(worker: str, lease_seconds: int, job_id: str | None = None) -> GenerationJob | None:
    """Takes the oldest queued job (or one whose worker's lease expired) for `worker`; only
    `job_id` when given (the CLI runs the job it submitted)."""
    now = utcnow()
    with session_scope(write=True) as session:
        query = select(GenerationJob).where(
            or_(
                GenerationJob.state == "queued",
                and_(GenerationJob.state == "running", GenerationJob.lease_expires_at < now),
            )
        )
        if job_id is not None:
            query = query.where(GenerationJob.id == job_id)
        candidates = session.scalars(query.order_by(GenerationJob.created_at).limit(10)).all()
        for job in candidates:
            won = session.execute(
                update(GenerationJob)
                .where(GenerationJob.id == job.id, GenerationJob.claim_version == job.claim_version)
                .values(
                    state="running",
                    lease_owner=worker,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    claim_version=job.claim_version + 1,
                    attempts=job.attempts + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:
                session.refresh(job)
                announce(session, job)
                return job
    return None


def save_progress(job_id: str, worker: str, steps: list[dict[str, Any]], **fields: Any) -> bool:
    """Writes the steps so far (and any fields) if `worker` still holds the job; False when the
    lease was lost (the job was cancelled or taken over): the worker must stop."""
    with session_scope(write=True) as session:
        job = session.get(GenerationJob, job_id)
        if job is None or job.lease_owner != worker or job.state != "running":
            return False
        job.steps = list(steps)
        for name, value in fields.items():
            setattr(job, name, value)
        job.updated_at = utcnow()
        job.lease_expires_at = job.updated_at + timedelta(
            seconds=get_settings().generation_lease_seconds
        )
        return True


def finish_in(
    session: Session,
    job_id: str,
    worker: str,
    state: str,
    reason: str,
    steps: list[dict[str, Any]],
    **fields: Any,
) -> GenerationJob | None:
    """Ends the job in the caller's transaction, if `worker` still holds it."""
    job = session.get(GenerationJob, job_id)
    if job is None or job.lease_owner != worker or job.state != "running":
        return None
    job.state, job.reason, job.steps = state, reason, list(steps)
    for name, value in fields.items():
        setattr(job, name, value)
    job.lease_owner, job.lease_expires_at = None, None
    job.updated_at = utcnow()
    if state in TERMINAL:
        job.finished_at = job.updated_at
    record(
        session,
        actor=f"worker:{worker}",
        action=f"generation.{state}",
        subject=f"generation:{job_id}",
        reason=reason[:500],
        details={"steps": [(s["step"], s["outcome"]) for s in steps]},
    )
    announce(session, job)
    return job


def cancel_jobs_using(session: Session, cameo_id: str, reason: str) -> list[str]:
    """Cancels the queued, held and running jobs that use the cameo (a running job notices at
    its next step: it no longer holds the job)."""
    cancelled = []
    for job in session.scalars(
        select(GenerationJob).where(GenerationJob.state.in_(("queued", "held", "running")))
    ):
        if cameo_id in (job.cameo_ids or []):
            job.state, job.reason = "cancelled", reason
            job.lease_owner, job.lease_expires_at = None, None
            job.finished_at = job.updated_at = utcnow()
            cancelled.append(job.id)
            record(
                session,
                actor="system:consent",
                action="generation.cancelled",
                subject=f"generation:{job.id}",
                reason=reason,
            )
            announce(session, job)
    return cancelled


def resume_reviewed(outcome_of: Any) -> list[str]:
    """Held jobs whose review case was decided: approved ones go back to the queue (the review
    hold is lifted, blocks still apply); the others are blocked. `outcome_of(session, case_id)`
    is the review area's answer (None while undecided)."""
    changed = []
    with session_scope(write=True) as session:
        for job in session.scalars(select(GenerationJob).where(GenerationJob.state == "held")):
            if job.review_case_id is None:
                continue
            outcome = outcome_of(session, job.review_case_id)
            if outcome is None:
                continue
            if outcome == "approve":
                job.state, job.review_approved = "queued", True
                job.reason = "a reviewer approved the prompt"
            else:
                job.state = "blocked"
                job.reason = f"a reviewer decided {outcome} on the held prompt"
                job.finished_at = utcnow()
            job.updated_at = utcnow()
            announce(session, job)
            changed.append(job.id)
    return changed


class StepView(BaseModel):
    step: str
    outcome: Literal["ok", "block", "review", "error"]
    ms: float
    details: dict[str, Any]


class JobView(BaseModel):
    """A generation job as the platform follows it."""

    generation_id: str
    state: Literal["queued", "running", "held", "blocked", "failed", "cancelled", "done"]
    reason: str | None
    requester_id: str
    prompt: str
    cameo_ids: list[str]
    duration_s: float
    aspect_ratio: str
    steps: list[StepView]
    grant_ids: list[str]
    review_case_id: str | None
    backend: str | None
    watermark_id: str | None
    item_id: str | None
    media: str | None = Field(description="Where to download the output, once done")
    attempts: int
    created_at: Timestamp
    finished_at: Timestamp | None
    warning: str | None = Field(
        None, description="While queued: set when no generator worker was seen lately"
    )


def job_view(job: GenerationJob) -> JobView:
    return JobView(
        generation_id=job.id,
        state=job.state,  # type: ignore[arg-type]
        reason=job.reason,
        requester_id=job.requester_id,
        prompt=job.prompt,
        cameo_ids=job.cameo_ids,
        duration_s=job.duration_s,
        aspect_ratio=job.aspect_ratio,
        steps=[StepView(**step) for step in job.steps],
        grant_ids=job.grant_ids,
        review_case_id=job.review_case_id,
        backend=job.backend,
        watermark_id=job.watermark_id,
        item_id=job.item_id,
        media=f"/v1/generations/{job.id}/media" if job.state == "done" else None,
        attempts=job.attempts,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
