from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class ProvenanceRecord(Base):
    """What an auditor gets back from a watermark or manifest: who generated the clip, when,
    with which cameos and under which policy decision. Keyed by the 64-bit watermark id."""

    __tablename__ = "provenance_records"

    watermark_id: Mapped[str] = mapped_column(String(16), primary_key=True)  # 16 hex digits
    generation_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    creator_id: Mapped[str] = mapped_column(String(200))
    cameo_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    policy_pack: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))
    generator: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the signed output file
    # PDQ hashes (hex, 256 bits) of one frame per second: provenance.fingerprint
    fingerprints: Mapped[list[str]] = mapped_column(JSON, default=list)
