from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class FeedScore(Base):
    """One classifier's scores for one published item. Unique per (item, classifier, version),
    so a replayed message changes nothing."""

    __tablename__ = "feed_scores"
    __table_args__ = (UniqueConstraint("item_id", "classifier", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    classifier: Mapped[str] = mapped_column(String(20))
    version: Mapped[str] = mapped_column(String(100))
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
