from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class FeedScore(Base):
    """One signal's scores for one published item (`classifier` names the signal). Unique per
    (item, signal, version), so a replayed message changes nothing."""

    __tablename__ = "feed_scores"
    __table_args__ = (UniqueConstraint("item_id", "classifier", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    classifier: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(100))
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Every cameo the signal saw (declared, on record, matched): a revocation finds items here.
    cameos_seen: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedDecision(Base):
    """The aggregator's decision for an item, one row per distinct set of inputs: a replayed
    score finds its row (same input digest) and changes nothing; new inputs get the next
    decision version."""

    __tablename__ = "feed_decisions"
    __table_args__ = (
        UniqueConstraint("item_id", "input_digest"),
        UniqueConstraint("item_id", "decision_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    decision_version: Mapped[int] = mapped_column(Integer)
    input_digest: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    risks: Mapped[dict[str, float]] = mapped_column(JSON)
    policy: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedItem(Base):
    """A published item and its current state in the feed. `scoring` until the aggregator
    decides; then `published`, `age_restricted` (hidden from teen accounts), `in_review` (held
    until a reviewer decides) or `removed`. `state_source` says who set it: a reviewer's
    decision is not overridden by a later automatic one, except a consent revocation."""

    __tablename__ = "feed_items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The platform tenant whose data this is ("" for the default tenant): keys bound to another
    # tenant neither see nor act on it.
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    author_id: Mapped[str] = mapped_column(String(200), index=True)
    author_age_group: Mapped[str] = mapped_column(String(10))
    audience_age_group: Mapped[str] = mapped_column(String(10))
    caption: Mapped[str] = mapped_column(String(10_000))
    media_location: Mapped[str] = mapped_column(String(500))
    cameo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The item this one remixes (the platform said so, or a fingerprint match found it): its
    # cameos and takedowns follow to this one (rights/lineage.py).
    parent_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    views: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default="scoring", index=True)
    state_source: Mapped[str] = mapped_column(String(20), default="publish")
    state_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    state_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookSubscription(Base):
    """A platform's URL that receives outbox events (every topic, or the ones listed), signed
    with a secret derived from the master key and the subscription id (never stored).
    `cursor` is the last outbox event id already turned into deliveries."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every topic
    tenant: Mapped[str | None] = mapped_column(String(100), nullable=True)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: pending until the receiver answers 2xx (delivered), or
    until its attempts run out (failed). Retries back off exponentially."""

    __tablename__ = "webhook_deliveries"

    subscription_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
