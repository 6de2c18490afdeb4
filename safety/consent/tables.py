from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class Cameo(Base):
    """One person's enrolled face and voice and the consent they give for their use.
    Embeddings (and the face image, when the owner opted in) are AES-GCM encrypted."""

    __tablename__ = "cameos"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The platform tenant whose data this is ("" for the default tenant): keys bound to another
    # tenant neither see nor act on it.
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    owner_is_minor: Mapped[bool] = mapped_column(Boolean, default=False)
    minor_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    permission: Mapped[str] = mapped_column(String(20))  # only_me | approved | mutuals | everyone
    approved_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    restrictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every permission change
    face_model: Mapped[str] = mapped_column(String(100))
    face_embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    voice_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    voice_embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The voice embedding holds `voice_views` unit vectors: the enrollment speech as heard
    # through each simulated channel (safety/models/voice_channels.py), each averaged over
    # `voice_utterances` utterances; rows from before multi-condition enrollment hold one.
    voice_views: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    voice_utterances: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    face_image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # opt-in JPEG
    liveness: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EnrollmentChallenge(Base):
    """The phrase an enrollment video must speak; single use, short lived."""

    __tablename__ = "enrollment_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="")
    owner_id: Mapped[str] = mapped_column(String(200))
    phrase: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsentGrant(Base):
    """One consent decision for one cameo in one request; a generation records the grants it
    used (generation_id), which is how an owner lists every video made with their cameo."""

    __tablename__ = "consent_grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id"), index=True)
    cameo_version: Mapped[int] = mapped_column(Integer)
    requester_id: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))  # allow | block
    reason: Mapped[str] = mapped_column(Text)
    prompt_sha256: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    generation_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProtectedPerson(Base):
    """A public figure (or anyone at risk) whose likeness must never be generated without a
    cameo of their own: the likeness check matches against these as well."""

    __tablename__ = "protected_people"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    face_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    face_embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    voice_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    voice_embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    voice_views: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    voice_utterances: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # Where the person came from: "api", "cli", "seed:<folder>" (the operator's folder, seeded
    # once at start) or "claim:<id>" (an accepted likeness claim).
    source: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    # An opt-in likeness (a rights holder's licence): the accounts that may use it; empty for
    # everyone else's protected people, whom nobody may generate.
    licensed_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CameoNotice(Base):
    """A notice on a cameo owner's record: a reviewer decided that an item misused the cameo.
    The owner sees these with the cameo's usages."""

    __tablename__ = "cameo_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cameo_id: Mapped[str] = mapped_column(ForeignKey("cameos.id"), index=True)
    item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    case_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
