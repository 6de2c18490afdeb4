"""Enrollment challenges: a random digit phrase the selfie video must say, valid for a few
minutes, spent by the first attempt to use it (failed or not), with attempts per owner limited
(`enrollment_attempts_per_hour`)."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.db import as_utc, session_scope, utcnow
from cameoguard.settings import get_settings
from cameoguard.timestamps import Timestamp
from safety.consent.errors import ConsentError, RefusalKind, fail, new_id
from safety.consent.tables import EnrollmentChallenge

CHALLENGE_WORDS = 6
ATTEMPT_WINDOW = timedelta(hours=1)  # enrollment attempts are counted over this window

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class Challenge(BaseModel):
    challenge_id: str
    phrase: str = Field(description="The digits to say, e.g. '4 0 7 1 9 3'")
    say: str = Field(description="The same digits as words")
    expires_at: Timestamp
    instructions: str


def create_challenge(owner_id: str, tenant: str, actor: str) -> Challenge:
    """A random digit sequence the enrollment video must speak; valid for a few minutes."""
    digits = [secrets.randbelow(10) for _ in range(CHALLENGE_WORDS)]
    phrase = " ".join(str(d) for d in digits)
    ttl = get_settings().challenge_ttl_seconds
    row = EnrollmentChallenge(
        id=new_id("chl"),
        owner_id=owner_id,
        tenant=tenant,
        phrase=phrase,
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    with session_scope(write=True) as session:
        _check_attempt_rate(session, owner_id, tenant)
        session.add(row)
        audit(session, actor=actor, action="cameo.challenge", subject=row.id, reason=owner_id)
        return Challenge(
            challenge_id=row.id,
            phrase=phrase,
            say=" ".join(_DIGITS[d] for d in digits),
            expires_at=row.expires_at,
            instructions="Record a selfie video (face visible throughout, nobody else in "
            "frame) saying the phrase aloud, and upload it within the time limit.",
        )


def open_challenge(
    session: Session, challenge_id: str, owner_id: str, tenant: str
) -> EnrollmentChallenge:
    row = session.get(EnrollmentChallenge, challenge_id)
    if row is None or row.owner_id != owner_id or row.tenant != tenant:
        raise fail(
            RefusalKind.not_found, "unknown challenge for this owner", code="challenge_unknown"
        )
    if row.used_at is not None:
        raise fail(
            RefusalKind.conflict, "challenge already used; ask for a new one", code="challenge_used"
        )
    if as_utc(row.expires_at) < utcnow():
        raise fail(
            RefusalKind.gone, "challenge expired; ask for a new one", code="challenge_expired"
        )
    return row


def _check_attempt_rate(session: Session, owner_id: str, tenant: str) -> None:
    """429 when the owner has made `enrollment_attempts_per_hour` attempts (challenges spent,
    whether they enrolled or failed) in the last hour; Retry-After says when one more is due."""
    limit = get_settings().enrollment_attempts_per_hour
    now = utcnow()
    spent = session.scalars(
        select(EnrollmentChallenge.used_at)
        .where(
            EnrollmentChallenge.owner_id == owner_id,
            EnrollmentChallenge.tenant == tenant,
            EnrollmentChallenge.used_at >= now - ATTEMPT_WINDOW,
        )
        .order_by(EnrollmentChallenge.used_at)
    ).all()
    if len(spent) < limit:
        return
    frees_at = as_utc(spent[len(spent) - limit]) + ATTEMPT_WINDOW
    retry = max(1, math.ceil((frees_at - now).total_seconds()))
    raise ConsentError(
        RefusalKind.rate_limited,
        "enrollment_rate_limited",
        f"{len(spent)} enrollment attempts in the last hour for this owner (limit {limit}); "
        f"try again in {retry} s",
        {"attempts": len(spent), "limit": limit, "retry_after_seconds": retry},
        retry_after_s=retry,
    )


def spend_challenge(challenge_id: str, owner_id: str, tenant: str, actor: str) -> str:
    """Marks the challenge used before any media is looked at, so that it serves one attempt
    only, failed or not (a conditional update: of two concurrent attempts one wins); returns
    its phrase."""
    with session_scope(write=True) as session:
        row = open_challenge(session, challenge_id, owner_id, tenant)
        _check_attempt_rate(session, owner_id, tenant)
        spent = session.execute(
            update(EnrollmentChallenge)
            .where(EnrollmentChallenge.id == row.id, EnrollmentChallenge.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if spent != 1:
            raise fail(
                RefusalKind.conflict,
                "challenge already used; ask for a new one",
                code="challenge_used",
            )
        audit(
            session,
            actor=actor,
            action="cameo.enroll_attempt",
            subject=row.id,
            reason=owner_id,
        )
        return row.phrase
