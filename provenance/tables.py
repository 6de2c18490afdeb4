from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
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
    # PDQ hashes (hex, 256 bits) of a frame every 0.25 s, then, tagged (`r76-4+4@2.50:<hex>`),
    # of 5 regions of a frame every 0.5 s for the crop search: provenance.fingerprint
    fingerprints: Mapped[list[str]] = mapped_column(JSON, default=list)


class HashBank(Base):
    """A bank of media hashes (PDQ for images, vPDQ-style frame lists for videos), imported from
    or exported to an exchange (HMA, ThreatExchange). `negative` banks hold known false positives:
    a match there suppresses the others. `action` is what a match does in the feed (review,
    remove, escalate); a `child_safety` bank's matches take the child-safety escalation path."""

    __tablename__ = "hash_banks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    action: Mapped[str] = mapped_column(String(10), default="review")
    child_safety: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BankHash(Base):
    __tablename__ = "bank_hashes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bank: Mapped[str] = mapped_column(String(100), index=True)
    signal_type: Mapped[str] = mapped_column(String(10))  # pdq | vpdq
    # pdq: 64 hex digits; vpdq: the frames' PDQ hashes in order, comma-separated
    value: Mapped[str] = mapped_column(Text)
    content_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
