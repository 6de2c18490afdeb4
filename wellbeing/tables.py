"""The wellbeing area's tables. Every row carries its platform tenant ("" for the default one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class AgeCheck(Base):
    """One age-assurance check of an account: what was known, what it concluded and why. The
    latest check of an account is its age group; older ones stay as its history."""

    __tablename__ = "age_checks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    age_group: Mapped[str] = mapped_column(String(10))  # teen | adult | unknown
    method: Mapped[str] = mapped_column(String(40))
    assurance_level: Mapped[str] = mapped_column(String(10))  # none | low | medium | high
    # The facts given (birth date, attestation): a later check that omits them still counts them.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy: Mapped[str] = mapped_column(String(100))
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GuardianLink(Base):
    """A guardian's link to a teen: invited by the platform for the guardian, accepted (or
    declined) by the teen. Only an accepted link lets the guardian set controls."""

    __tablename__ = "guardian_links"
    __table_args__ = (UniqueConstraint("tenant", "teen_id", "guardian_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    teen_id: Mapped[str] = mapped_column(String(200), index=True)
    guardian_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(12))  # invited | accepted | declined | removed
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ParentalControls(Base):
    """A teen's controls as a guardian last set them (None: the policy's teen default)."""

    __tablename__ = "parental_controls"
    __table_args__ = (UniqueConstraint("tenant", "teen_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default="")
    teen_id: Mapped[str] = mapped_column(String(200), index=True)
    controls: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    set_by: Mapped[str] = mapped_column(String(200))
    # Every change: [{"at", "by", "changed": {field: [old, new]}}], the newest last.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ViewingSession(Base):
    """An account's viewing counters: the current continuous session and today's total. Kept
    here (not in a process) so that every API replica and every restart counts the same."""

    __tablename__ = "viewing_sessions"
    __table_args__ = (UniqueConstraint("tenant", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    continuous_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    continuous_items: Mapped[int] = mapped_column(Integer, default=0)
    day: Mapped[str] = mapped_column(String(10))  # the account's local date of `day_seconds`
    day_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    nudged: Mapped[int] = mapped_column(Integer, default=0)  # nudges in this continuous session


class GenerationCount(Base):
    """Generations an account started on one local day, for a guardian's daily limit."""

    __tablename__ = "generation_counts"
    __table_args__ = (UniqueConstraint("tenant", "account_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default="")
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    day: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(Integer, default=0)


class ItemRating(Base):
    """A feed item's age rating (all | teen | mature; or held | removed when it is shown to
    nobody) with its reasons, as of the feed's state, scores and decisions when it was rated
    (`basis` names them)."""

    __tablename__ = "item_ratings"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    rating: Mapped[str] = mapped_column(String(10))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    basis: Mapped[str] = mapped_column(String(200))
    policy: Mapped[str] = mapped_column(String(100))
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
