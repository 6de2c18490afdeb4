"""A guardian's daily generation limit: the platform asks before it starts a teen's generation
(`record`: count it when allowed). Counted per local day in the database, under a row lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from wellbeing.age import age_group, treated_as
from wellbeing.guardians import controls_of
from wellbeing.tables import GenerationCount


@dataclass(frozen=True)
class Allowance:
    decision: str  # allow | block
    reason: str
    age_group: str
    used_today: int
    daily_limit: int | None


def _count(session: Session, tenant: str, account_id: str, day: str) -> GenerationCount:
    query = (
        select(GenerationCount)
        .where(
            GenerationCount.tenant == tenant,
            GenerationCount.account_id == account_id,
            GenerationCount.day == day,
        )
        .with_for_update()
    )
    row = session.scalar(query)
    if row is not None:
        return row
    row = GenerationCount(tenant=tenant, account_id=account_id, day=day, count=0)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = session.scalar(query)
        assert found is not None
        return found
    return row


def generation_allowance(session: Session, *, tenant: str, account_id: str, at: datetime,
                         utc_offset_minutes: int, count_it: bool, actor: str
                         ) -> Allowance:  # fmt: skip
    group = age_group(session, tenant, account_id)
    limit = None
    if treated_as(group) == "teen":
        limit = controls_of(session, tenant, account_id).daily_generation_limit
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    day = (moment + timedelta(minutes=utc_offset_minutes)).date().isoformat()
    row = _count(session, tenant, account_id, day)
    if limit is not None and row.count >= limit:
        reason = f"{row.count} generations today: the guardian's daily limit is {limit}"
        record(
            session,
            actor=actor,
            action="wellbeing.generation_limited",
            subject=f"account:{account_id}",
            reason=reason,
            details={"tenant": tenant, "day": day},
        )
        return Allowance("block", reason, group, row.count, limit)
    if count_it:
        row.count += 1
    reason = "no daily limit" if limit is None else f"{row.count} of {limit} today"
    return Allowance("allow", reason, group, row.count, limit)
