"""The generator's reactions to events: a revoked cameo cancels the queued, held and running
generations that use it (a running job notices at its next step: it no longer holds it)."""

from __future__ import annotations

from cameoguard.audit.log import record
from cameoguard.contracts import (
    CONSENT_REVOKED,
    LIKENESS_TAKEDOWN,
    ConsentRevoked,
    LikenessTakedown,
    Message,
    Reaction,
)
from cameoguard.db import session_scope, utcnow
from generator.jobs import cancel_jobs_using
from generator.tables import GenerationJob


def cancel_jobs_of_revoked_cameo(message: Message) -> None:
    assert isinstance(message, ConsentRevoked)
    if message.reason == "permissions_changed":
        return  # changed permissions are checked again by the job itself before release
    with session_scope(write=True) as session:
        reason = f"cameo {message.cameo_id} was {message.reason}"
        cancel_jobs_using(session, message.cameo_id, reason)


def mark_taken_down_generations(message: Message) -> None:
    """A generation its cameo's owner took down: a finished one keeps its record and gets a
    `taken_down` step (its media is withheld by the store); an unfinished one is cancelled."""
    assert isinstance(message, LikenessTakedown)
    with session_scope(write=True) as session:
        for generation_id in message.generations:
            job = session.get(GenerationJob, generation_id)
            if job is None or any(s.get("step") == "taken_down" for s in job.steps or []):
                continue
            details = {"cameo_id": message.cameo_id, "by": message.by, "reason": message.reason}
            step = {"step": "taken_down", "outcome": "block", "ms": 0.0, "details": details}
            job.steps = [*(job.steps or []), step]
            if job.state in ("queued", "held", "running"):
                job.state, job.lease_owner, job.lease_expires_at = "cancelled", None, None
                job.finished_at = utcnow()
            job.reason = f"taken down: {message.reason}"
            job.updated_at = utcnow()
            record(
                session,
                actor="system:rights",
                action="generation.taken_down",
                subject=f"generation:{job.id}",
                reason=message.reason,
            )


def reactions() -> list[Reaction]:
    return [
        Reaction(
            "generator.cancel_jobs_of_revoked_cameo", CONSENT_REVOKED, cancel_jobs_of_revoked_cameo
        ),
        Reaction(
            "generator.mark_taken_down_generations", LIKENESS_TAKEDOWN, mark_taken_down_generations
        ),
    ]
