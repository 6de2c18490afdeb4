from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, utcnow


class UsageTakedown(Base):
    """A use of a cameo its owner took down: the item (or generation) and every item derived
    from it, removed from the feed with their media withheld."""

    __tablename__ = "usage_takedowns"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    cameo_id: Mapped[str] = mapped_column(String(40), index=True)
    usage: Mapped[str] = mapped_column(String(120), index=True)  # item:<id> | generation:<id>
    owner_id: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    generations: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationPreference(Base):
    """How a cameo owner wants to hear of new uses: `every` (one event each, the default),
    `daily` (one digest a day) or `none`."""

    __tablename__ = "likeness_notification_prefs"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    owner_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UsageNotice(Base):
    """One use an owner was (or will be, in the daily digest) told of; unique per cameo and use,
    so a replayed event tells nobody twice."""

    __tablename__ = "likeness_usage_notices"
    __table_args__ = (UniqueConstraint("cameo_id", "usage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default="")
    cameo_id: Mapped[str] = mapped_column(String(40), index=True)
    owner_id: Mapped[str] = mapped_column(String(200), index=True)
    usage: Mapped[str] = mapped_column(String(120))
    made_by: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LineageLink(Base):
    """How an item's parent was found when the platform did not say: a fingerprint match of its
    frames against an earlier item's (the feed item keeps the parent itself)."""

    __tablename__ = "lineage_links"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_item_id: Mapped[str] = mapped_column(String(64), index=True)
    found_by: Mapped[str] = mapped_column(String(20))  # fingerprint
    matched_frames: Mapped[int] = mapped_column(Integer, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ItemFingerprint(Base):
    """The frame fingerprints of a published item (and their mirrored hashes), so that a later
    upload that re-encodes, crops or mirrors it is traced to it."""

    __tablename__ = "item_fingerprints"

    item_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    hashes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LikenessClaim(Base):
    """A claim over a person's likeness by their estate, their agent or themselves: nothing
    takes effect until a reviewer of the `rights` role accepts it. Accepted, the person's face
    and voice join the protected bank (`protected_person_id`) and their names the prompt
    gate's named people; `opt_in` lets the licensed accounts use the likeness."""

    __tablename__ = "likeness_claims"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    person_name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    deceased: Mapped[bool] = mapped_column(default=False)
    claimant_id: Mapped[str] = mapped_column(String(200))
    claimant_role: Mapped[str] = mapped_column(String(20))  # estate | agent | person
    evidence: Mapped[str] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(String(10))  # opt_out | opt_in
    licensed_user_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    media_locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    reviewer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    protected_person_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    effects: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LikenessMatch(Base):
    """A published item in which the feed (or a re-scan after an enrollment) found an enrolled
    cameo's or a protected person's face or voice without a consent record: one per item and
    identity, so a replayed score or a second scan changes nothing. A cameo's owner confirms it
    (it is her: the item is taken down) or dismisses it (not her: the pair stays suppressed)."""

    __tablename__ = "likeness_matches"
    __table_args__ = (UniqueConstraint("item_id", "identity"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), default="", index=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    identity: Mapped[str] = mapped_column(String(60))  # cameo:<id> | protected:<id>
    cameo_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    protected_person_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    modality: Mapped[str] = mapped_column(String(10))  # face | voice
    score: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    media_time: Mapped[float] = mapped_column(Float, default=0.0)  # seconds into the media
    consent: Mapped[str] = mapped_column(String(20))  # what the check found (not_granted, ...)
    found_by: Mapped[str] = mapped_column(String(10))  # feed | rescan
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    takedown_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    case_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LikenessRescan(Base):
    """Recent items matched again against one newly enrolled identity (a cameo, a protected
    person), newest first, at a throttled pace: the cursor (the last item scanned) is kept after
    every item, so a stopped scanner continues where it stopped. A lease keeps two scanners off
    the same identity."""

    __tablename__ = "likeness_rescans"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    identity: Mapped[str] = mapped_column(String(60), unique=True)  # cameo:<id> | protected:<id>
    tenant: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: every tenant
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cursor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cursor_item: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    scanned: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
