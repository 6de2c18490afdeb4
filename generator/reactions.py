"""The generator's reactions to events: a revoked cameo cancels the queued, held and running
generations that use it (a running job notices at its next step: it no longer holds it)."""

from __future__ import annotations

from cameoguard.contracts import CONSENT_REVOKED, ConsentRevoked, Message, Reaction
from cameoguard.db import session_scope
from generator.jobs import cancel_jobs_using


def cancel_jobs_of_revoked_cameo(message: Message) -> None:
    assert isinstance(message, ConsentRevoked)
    if message.reason == "permissions_changed":
        return  # changed permissions are checked again by the job itself before release
    with session_scope(write=True) as session:
        reason = f"cameo {message.cameo_id} was {message.reason}"
        cancel_jobs_using(session, message.cameo_id, reason)


def reactions() -> list[Reaction]:
    return [
        Reaction(
            "generator.cancel_jobs_of_revoked_cameo", CONSENT_REVOKED, cancel_jobs_of_revoked_cameo
        )
    ]
