"""The generation job table: a database-backed queue with leases (one machine needs no more)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class GenerationJob(Base):
    """One generation request and everything that happened to it. States: `queued`, `running`,
    `held` (waiting for a reviewer), `blocked`, `failed`, `cancelled`, `done`. A worker owns a
    running job through `lease_owner` until `lease_expires_at`; `claim_version` makes taking a
    job a compare-and-swap, so two workers never run the same job."""

    __tablename__ = "generation_jobs"
    # Idempotency keys are the platform's: each tenant has its own.
    __table_args__ = (UniqueConstraint("tenant", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The platform tenant whose data this is ("" for the default tenant): keys bound to another
    # tenant neither see nor act on it.
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    requester_id: Mapped[str] = mapped_column(String(200), index=True)
    requester_age_group: Mapped[str] = mapped_column(String(10))
    requester_handle: Mapped[str | None] = mapped_column(String(100), nullable=True)
    prompt: Mapped[str] = mapped_column(Text)
    cameo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    mutual_owner_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_s: Mapped[float] = mapped_column(Float)
    aspect_ratio: Mapped[str] = mapped_column(String(10))
    reference_location: Mapped[str | None] = mapped_column(String(500), nullable=True)
    publish: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    grant_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    review_case_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    review_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    backend: Mapped[str | None] = mapped_column(String(100), nullable=True)
    output_location: Mapped[str | None] = mapped_column(String(500), nullable=True)
    watermark_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    claim_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
