"""Tables of the review area: cases, reviewers' decisions on them, and user reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class ReviewCase(Base):
    """One case: a content item sent by the classifiers, reported by users, or appealed by its
    creator (or a complaint about a cameo). `open_key` is set while the case is not decided and
    is unique, so an item has at most one undecided case of each kind.

    Claims are exclusive: `claim_version` is compared and bumped in one UPDATE, so of two
    reviewers claiming at once exactly one wins, on SQLite and PostgreSQL alike."""

    __tablename__ = "review_cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # content | report | appeal | cameo_complaint
    item_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    cameo_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    open_key: Mapped[str | None] = mapped_column(String(120), unique=True, nullable=True)
    queue: Mapped[str] = mapped_column(String(40), index=True)
    # The roles a reviewer needs to see the case, sorted and comma-separated: its queue's roles
    # and the roles its signals need (a minors signal needs child_safety in any queue).
    roles_needed: Mapped[str] = mapped_column(String(200), default="", index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    severity: Mapped[int] = mapped_column(Integer)  # 1 is the most severe
    minors: Mapped[bool] = mapped_column(Boolean, default=False)
    reach: Mapped[int] = mapped_column(Integer, default=0)
    signals: Mapped[list[str]] = mapped_column(JSON, default=list)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    excluded_reviewers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Reviewers who released (skipped) it: it comes after the others when they claim.
    skipped_by: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    appeal_of: Mapped[str | None] = mapped_column(String(40), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    claim_version: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ReviewDecision(Base):
    """A reviewer's decision on a case. `escalate` reopens the case in the escalation queue;
    the others close it and publish an action."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"), index=True)
    item_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(2000), default="")
    policy: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class UserReport(Base):
    """One user's report of an item; reports of the same item share one open case."""

    __tablename__ = "user_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    reporter_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(2000), default="")
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
