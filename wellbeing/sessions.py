"""Viewing limits: the platform reports viewing (a batch of items and seconds, or one event)
and gets `continue`, `nudge` (suggest a break) or `stop` with the reason. Counters live in the
database under a row lock, so several API replicas and restarts count the same session.

Limits come from the policy's per-age defaults (teens: a continuous-scroll limit, a daily
limit, quiet hours at night and a nudge; adults: nudges only when they opt in), replaced for a
teen by what a guardian set (continuous scroll off: a stop after one page of items)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from wellbeing.age import age_group, treated_as
from wellbeing.guardians import controls_of
from wellbeing.policy import QuietHours, SessionLimits, WellbeingPolicy
from wellbeing.tables import ViewingSession

Action = Literal["continue", "nudge", "stop"]


@dataclass(frozen=True)
class Viewing:
    items: int
    seconds: float | None  # None: counted from the time since the last report (capped)
    at: datetime
    utc_offset_minutes: int = 0
    nudge_opt_in: bool = False


@dataclass(frozen=True)
class SessionAnswer:
    action: Action
    reason: str
    age_group: str
    continuous_minutes: float
    continuous_items: int
    today_minutes: float
    limits: dict[str, Any] = field(default_factory=dict)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def effective_limits(
    policy: WellbeingPolicy, group: str, controls: dict[str, Any]
) -> dict[str, Any]:
    """The limits that apply: the age group's defaults, with a guardian's choices over them."""
    base: SessionLimits = policy.sessions.teen if group == "teen" else policy.sessions.adult
    limits: dict[str, Any] = {
        "nudge_after_minutes": base.nudge_after_minutes,
        "continuous_limit_minutes": base.continuous_limit_minutes,
        "daily_limit_minutes": base.daily_limit_minutes,
        "quiet_hours": base.quiet_hours.model_dump() if base.quiet_hours else None,
        "continuous_scroll": True,
        "page_items": base.page_items,
        "source": f"{group} defaults ({policy.ref})",
    }
    if group == "teen":
        overrides = {k: v for k, v in controls.items() if v is not None}
        if "continuous_scroll_limit_minutes" in overrides:
            limits["continuous_limit_minutes"] = overrides["continuous_scroll_limit_minutes"]
        for name in ("quiet_hours", "continuous_scroll"):
            if name in overrides:
                limits[name] = overrides[name]
        if overrides.keys() & {
            "continuous_scroll_limit_minutes",
            "quiet_hours",
            "continuous_scroll",
        }:
            limits["source"] += " with parental controls"
    return limits


def _row(session: Session, tenant: str, account_id: str, at: datetime, day: str) -> ViewingSession:
    query = (
        select(ViewingSession)
        .where(ViewingSession.tenant == tenant, ViewingSession.account_id == account_id)
        .with_for_update()
    )
    row = session.scalar(query)
    if row is not None:
        return row
    row = ViewingSession(
        tenant=tenant,
        account_id=account_id,
        started_at=at,
        last_seen_at=at,
        continuous_seconds=0.0,
        continuous_items=0,
        day=day,
        day_seconds=0.0,
        nudged=0,
    )
    try:
        with session.begin_nested():  # another replica may create it at the same moment
            session.add(row)
    except IntegrityError:
        found = session.scalar(query)
        assert found is not None
        return found
    return row


def report_viewing(
    session: Session,
    *,
    tenant: str,
    account_id: str,
    viewing: Viewing,
    policy: WellbeingPolicy,
    actor: str,
) -> SessionAnswer:
    group = treated_as(age_group(session, tenant, account_id))
    controls = controls_of(session, tenant, account_id).to_dict() if group == "teen" else {}
    limits = effective_limits(policy, group, controls)
    at = _aware(viewing.at)
    local = at + timedelta(minutes=viewing.utc_offset_minutes)
    day = local.date().isoformat()
    row = _row(session, tenant, account_id, at, day)
    gap = max((at - _aware(row.last_seen_at)).total_seconds(), 0.0)
    if gap > policy.sessions.break_minutes * 60:  # a break: a new continuous session
        row.started_at, row.continuous_seconds, row.continuous_items, row.nudged = at, 0.0, 0, 0
    if row.day != day:
        row.day, row.day_seconds = day, 0.0
    seconds = viewing.seconds
    if seconds is None:
        seconds = min(gap, policy.sessions.max_gap_seconds)
    row.continuous_seconds += seconds
    row.day_seconds += seconds
    row.continuous_items += viewing.items
    row.last_seen_at = max(_aware(row.last_seen_at), at)
    continuous_min, today_min = row.continuous_seconds / 60, row.day_seconds / 60

    action: Action
    action, reason = "continue", "within the limits"
    quiet = limits["quiet_hours"]
    nudge_after = limits["nudge_after_minutes"]
    if group == "adult" and viewing.nudge_opt_in:
        nudge_after = policy.sessions.adult.opt_in_nudge_minutes
    if quiet and QuietHours(**quiet).contains(local.time()):
        action, reason = "stop", f"quiet hours {quiet['start']}-{quiet['end']} (local time)"
    elif not limits["continuous_scroll"] and row.continuous_items >= limits["page_items"]:
        action = "stop"
        reason = (
            f"continuous scroll is off: {row.continuous_items} items viewed in this "
            f"session (a page is {limits['page_items']})"
        )
    elif (
        limits["continuous_limit_minutes"] and continuous_min >= limits["continuous_limit_minutes"]
    ):
        action = "stop"
        reason = (
            f"{continuous_min:.0f} min of continuous viewing >= the limit of "
            f"{limits['continuous_limit_minutes']:.0f} min; a {policy.sessions.break_minutes:.0f}"
            " min break starts a new session"
        )
    elif limits["daily_limit_minutes"] and today_min >= limits["daily_limit_minutes"]:
        action = "stop"
        daily = limits["daily_limit_minutes"]
        reason = f"{today_min:.0f} min today >= the daily limit of {daily:.0f} min"
    elif nudge_after and continuous_min >= nudge_after * (row.nudged + 1):
        row.nudged += 1
        action, reason = "nudge", f"{continuous_min:.0f} min without a break: suggest one"
    if action != "continue":
        record(
            session,
            actor=actor,
            action=f"wellbeing.session_{action}",
            subject=f"account:{account_id}",
            reason=reason,
            details={
                "tenant": tenant,
                "age_group": group,
                "continuous_minutes": round(continuous_min, 1),
                "today_minutes": round(today_min, 1),
            },
        )
    return SessionAnswer(
        action,
        reason,
        group,
        round(continuous_min, 2),
        row.continuous_items,
        round(today_min, 2),
        limits,
    )
