"""The outbox: events are rows written in the same transaction as the change that causes them
(a revoked cameo, a published video), so the database stays the source of truth. A relay
publishes them to the event stream and marks them published; nothing is lost while the broker
is down. Areas call `emit`; only the relay knows about Kafka."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from cameoguard.db import Base, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    topic: Mapped[str] = mapped_column(String(100), index=True)
    key: Mapped[str] = mapped_column(String(200))  # partition key (an item or cameo id)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


def emit(session: Session, topic: str, key: str, payload: dict[str, Any]) -> OutboxEvent:
    """Adds an event to the caller's transaction: it exists if and only if the change commits."""
    event = OutboxEvent(topic=topic, key=key, payload=payload)
    session.add(event)
    return event


def pending(session: Session, topic: str | None = None, limit: int = 100) -> list[OutboxEvent]:
    query = session.query(OutboxEvent).filter(OutboxEvent.published_at.is_(None))
    if topic is not None:
        query = query.filter(OutboxEvent.topic == topic)
    return query.order_by(OutboxEvent.id).limit(limit).all()
