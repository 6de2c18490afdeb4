"""Re-scans after an enrollment: the feed matches each item against the people enrolled when it
scores the item, so an item published before a cameo (or a protected person, or an accepted
likeness claim) existed was never matched against it. When a new identity appears, the items of
the window before it (`likeness_rescan_window_days`, default 30) are matched against that one
identity, newest first.

Throttled (`likeness_rescan_items_per_minute`: items decoded a minute, since items' face and
voice embeddings are not stored and each item's media is decoded again) and resumable: the
cursor (the last item scanned) is written with every item, so a stopped scanner continues where
it stopped; a lease keeps two scanners off one identity. New identities are found by looking
(cameos and protected people created within the window without a re-scan), so every way of
enrolling is covered without a hook in each. The reactions worker runs a scanner in the
background (`cameoguard up` starts it); `cameoguard rights rescan` runs one by hand."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard import media_store
from cameoguard.db import as_utc, session_scope, utcnow
from cameoguard.settings import get_settings
from cameoguard.timestamps import Timestamp
from consumers.tables import FeedItem
from rights.matches import CONSENTED, Found, open_match
from rights.tables import LikenessMatch, LikenessRescan
from safety.analysis import analyse
from safety.consent.likeness import consent_status
from safety.consent.models import LikenessModels
from safety.consent.sealing import unseal_vector
from safety.consent.tables import Cameo, ProtectedPerson
from safety.media import MediaError, load_media

log = logging.getLogger("cameoguard.rights.rescan")

MAX_FRAMES = 30  # as the feed samples an item (consumers/analysed.py)
LEASE = timedelta(minutes=2)
# An item published a moment before the identity was committed may have been scored without
# it: the re-scan reaches this far past the identity's creation (a second match is a no-op).
OVERLAP = timedelta(minutes=1)


class RescanView(BaseModel):
    id: str
    identity: str
    state: str
    scanned: int
    matched: int
    failed: int
    since: Timestamp
    until: Timestamp
    cursor_item: str | None
    finished_at: Timestamp | None


def view(row: LikenessRescan) -> RescanView:
    return RescanView(
        id=row.id,
        identity=row.identity,
        state=row.state,
        scanned=row.scanned,
        matched=row.matched,
        failed=row.failed,
        since=row.since,
        until=row.until,
        cursor_item=row.cursor_item,
        finished_at=row.finished_at,
    )


@dataclass(frozen=True)
class Identity:
    """One enrolled person's face and voice as the feed matches them."""

    key: str  # cameo:<id> | protected:<id>
    tenant: str | None  # a cameo's tenant; None: a protected person, matched in every tenant
    face_model: str | None
    face: np.ndarray | None
    voice_model: str | None
    voice: np.ndarray | None  # (views, dim)
    voice_views: int
    voice_utterances: int


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def load_identity(session: Session, key: str) -> Identity | None:
    """The identity's embeddings, or None when it is gone or no longer an active cameo."""
    kind, _, ident = key.partition(":")
    row: Cameo | ProtectedPerson | None
    if kind == "cameo":
        row = session.get(Cameo, ident)
        if row is None or row.status != "active":
            return None
        tenant: str | None = row.tenant
    else:
        row = session.get(ProtectedPerson, ident)
        if row is None:
            return None
        tenant = None
    face = (
        _unit(unseal_vector(row.face_embedding, row.id, "face_embedding"))
        if row.face_embedding is not None and row.face_model
        else None
    )
    voice = None
    if row.voice_embedding is not None and row.voice_model:
        views = unseal_vector(row.voice_embedding, row.id, "voice_embedding")
        voice = np.stack([_unit(v) for v in views.reshape(row.voice_views, -1)])
    return Identity(
        key, tenant, row.face_model, face, row.voice_model, voice, row.voice_views,
        row.voice_utterances,
    )  # fmt: skip


def match_media(
    path: Path, identity: Identity, models: LikenessModels, frames_per_second: float
) -> Found | None:
    """Decodes the item's media as the feed does and matches every face (and the voice) in it
    against the one identity, with the feed's thresholds. The best face sighting, else the
    voice; None when neither reaches its threshold."""
    settings = get_settings()
    wants_voice = identity.voice is not None and identity.voice_model == models.voice.name
    wants_face = identity.face is not None and identity.face_model == models.face.name
    if not (wants_face or wants_voice):
        return None
    media = load_media(
        path,
        max_seconds=settings.likeness_max_seconds,
        frames_per_second=frames_per_second,
        max_frames=MAX_FRAMES,
        want_audio=wants_voice,
    )
    analysis = analyse(media, models, with_age=False)
    if wants_face and identity.face is not None:
        threshold = models.face.match_threshold
        best = max(
            ((float(np.dot(_unit(s.face.embedding), identity.face)), s.time)
             for s in analysis.sightings),
            default=(0.0, 0.0),
        )  # fmt: skip
        if best[0] >= threshold:
            return Found(identity.key, "face", best[0], threshold, best[1], "unchecked")
    if wants_voice and identity.voice is not None and analysis.voice is not None:
        threshold = models.voice.threshold_for_enrollment(
            identity.voice_views, identity.voice_utterances
        )
        score = float((identity.voice @ _unit(analysis.voice.embedding)).max())
        if score >= threshold:
            return Found(identity.key, "voice", score, threshold, 0.0, "unchecked")
    return None


def consent_for(session: Session, item: FeedItem, key: str) -> str:
    """What consent the item's author has for the identity, as the feed's check says it:
    `owner`/`granted` (a consent record: no match), else why not. An item that declares the
    cameo is a declared use the feed already decided with its consent."""
    kind, _, ident = key.partition(":")
    if kind == "cameo":
        if ident in (item.cameo_ids or []):
            return "on record"
        return consent_status(session.get(Cameo, ident), item.author_id, [])
    person = session.get(ProtectedPerson, ident)
    licensed = person is not None and item.author_id in (person.licensed_user_ids or [])
    return "granted" if licensed else "protected"


def known_pair(session: Session, item_id: str, identity: str) -> bool:
    return (
        session.scalar(
            select(LikenessMatch.id).where(
                LikenessMatch.item_id == item_id, LikenessMatch.identity == identity
            )
        )
        is not None
    )


def enqueue_new_identities(window: timedelta | None = None) -> list[str]:
    """A re-scan for every cameo and protected person created within the window that has none
    yet. Returns the identities queued. Looks first (a read), writes only when there is news."""
    settings = get_settings()
    window = window or timedelta(days=settings.likeness_rescan_window_days)
    cutoff = utcnow() - window
    with session_scope() as session:
        known = set(session.scalars(select(LikenessRescan.identity)))
        found: list[tuple[str, str | None, datetime]] = [
            (f"cameo:{c.id}", c.tenant, as_utc(c.created_at))
            for c in session.scalars(
                select(Cameo).where(Cameo.created_at >= cutoff, Cameo.status == "active")
            )
        ]
        found += [
            (f"protected:{p.id}", None, as_utc(p.created_at))
            for p in session.scalars(
                select(ProtectedPerson).where(ProtectedPerson.created_at >= cutoff)
            )
        ]
    new = sorted((f for f in found if f[0] not in known), key=lambda f: f[2])
    if not new:
        return []
    queued = []
    with session_scope(write=True) as session:
        for key, tenant, created in new:
            try:
                with session.begin_nested():
                    session.add(
                        LikenessRescan(
                            id=f"rsc_{secrets.token_hex(8)}",
                            identity=key,
                            tenant=tenant,
                            since=created - window,
                            until=created + OVERLAP,
                            state="pending",
                            scanned=0,
                            matched=0,
                            failed=0,
                        )
                    )
            except IntegrityError:
                continue  # another scanner queued it a moment ago
            queued.append(key)
    return queued


def claim(scanner: str) -> str | None:
    """Leases the oldest unfinished re-scan whose lease is free (or already this scanner's)."""
    now = utcnow()
    free = or_(
        LikenessRescan.lease_owner.is_(None),
        LikenessRescan.lease_owner == scanner,
        LikenessRescan.lease_until < now,
    )
    with session_scope() as session:  # a look first: most rounds find nothing to do
        candidates = session.scalars(
            select(LikenessRescan.id)
            .where(LikenessRescan.state.in_(("pending", "running")), free)
            .order_by(LikenessRescan.created_at, LikenessRescan.id)
        ).all()
    if not candidates:
        return None
    with session_scope(write=True) as session:
        for rescan_id in candidates:
            taken = session.execute(
                update(LikenessRescan)
                .where(
                    LikenessRescan.id == rescan_id,
                    LikenessRescan.state.in_(("pending", "running")),
                    free,
                )
                .values(state="running", lease_owner=scanner, lease_until=now + LEASE)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return rescan_id
    return None


def release(rescan_id: str, scanner: str) -> None:
    """Gives the lease back (the cursor stays): a scanner that stopped cleanly leaves the rest
    to the next one without waiting for the lease to run out."""
    with session_scope(write=True) as session:
        session.execute(
            update(LikenessRescan)
            .where(LikenessRescan.id == rescan_id, LikenessRescan.lease_owner == scanner)
            .values(lease_owner=None, lease_until=None)
        )


def _next_item(session: Session, job: LikenessRescan) -> FeedItem | None:
    query = select(FeedItem).where(
        FeedItem.created_at >= job.since,
        FeedItem.created_at <= job.until,
        FeedItem.state != "removed",
    )
    if job.tenant is not None:
        query = query.where(FeedItem.tenant == job.tenant)
    if job.cursor_at is not None and job.cursor_item is not None:
        query = query.where(
            or_(
                FeedItem.created_at < job.cursor_at,
                and_(FeedItem.created_at == job.cursor_at, FeedItem.id < job.cursor_item),
            )
        )
    return session.scalar(query.order_by(FeedItem.created_at.desc(), FeedItem.id.desc()).limit(1))


def _finish(job: LikenessRescan, why: str) -> None:
    job.state, job.finished_at = "done", utcnow()
    job.lease_owner, job.lease_until = None, None
    log.info("re-scan done", extra={"identity": job.identity, "why": why,
                                    "scanned": job.scanned, "matched": job.matched})  # fmt: skip


def step(rescan_id: str, scanner: str, models: LikenessModels) -> bool:
    """Scans the next item of the re-scan (decoding it outside any transaction) and moves the
    cursor past it. False when the re-scan is finished or no longer this scanner's."""
    with session_scope(write=True) as session:
        job = session.get(LikenessRescan, rescan_id)
        if job is None or job.state != "running" or job.lease_owner != scanner:
            return False
        identity = load_identity(session, job.identity)
        if identity is None:
            _finish(job, "the identity is gone or no longer active")
            return False
        item = _next_item(session, job)
        if item is None:
            _finish(job, "every item of the window scanned")
            return False
        item_id, cursor_at, location = item.id, item.created_at, item.media_location
        job.lease_until = utcnow() + LEASE
        # Nothing to learn from the media when the author may use the likeness, or when the
        # pair was raised before (open, confirmed, or dismissed by the owner: suppressed).
        needless = consent_for(session, item, identity.key) in CONSENTED or known_pair(
            session, item_id, identity.key
        )
    settings = get_settings()
    found, failed = None, False
    try:
        if not needless:
            path = media_store.resolve(location)
            found = match_media(path, identity, models, settings.feed_frames_per_second)
    except (MediaError, FileNotFoundError, media_store.MediaLocationError) as exc:
        failed = True  # counted and passed over: one unreadable item must not stall the scan
        log.warning("re-scan could not read an item", extra={"item": item_id, "error": str(exc)})
    with session_scope(write=True) as session:
        job = session.get(LikenessRescan, rescan_id)
        if job is None or job.lease_owner != scanner:
            return False
        item = session.get(FeedItem, item_id)
        if found is not None and item is not None:
            consent = consent_for(session, item, identity.key)
            found = Found(found.identity, found.modality, found.score, found.threshold,
                          found.time, consent)  # fmt: skip
            if open_match(session, item, found, "rescan") is not None:
                job.matched += 1
        job.scanned += 1
        job.failed += int(failed)
        job.cursor_at, job.cursor_item = cursor_at, item_id
        job.lease_until = utcnow() + LEASE
    return True


def scanner_name() -> str:
    return f"rescan@{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:120]


@dataclass
class Pace:
    """At most `items_per_minute` item starts a minute."""

    items_per_minute: float

    @property
    def interval_s(self) -> float:
        return 60.0 / self.items_per_minute


def run_pending(
    models: LikenessModels,
    stop: threading.Event,
    pace: Pace,
    scanner: str | None = None,
    max_items: int | None = None,
) -> int:
    """Runs the unfinished re-scans one after another at the pace until none is left (or
    `stop`, or `max_items` scanned). Returns the items scanned."""
    scanner = scanner or scanner_name()
    scanned = 0
    while not stop.is_set():
        rescan_id = claim(scanner)
        if rescan_id is None:
            return scanned
        try:
            while not stop.is_set() and (max_items is None or scanned < max_items):
                started = time.monotonic()
                if not step(rescan_id, scanner, models):
                    break
                scanned += 1
                stop.wait(max(0.0, pace.interval_s - (time.monotonic() - started)))
        finally:
            release(rescan_id, scanner)  # a scanner started later continues at once
        if max_items is not None and scanned >= max_items:
            return scanned
    return scanned


def rescans(state: str | None = None) -> list[RescanView]:
    query = select(LikenessRescan).order_by(LikenessRescan.created_at, LikenessRescan.id)
    if state is not None:
        query = query.where(LikenessRescan.state == state)
    with session_scope() as session:
        return [view(row) for row in session.scalars(query)]


class Rescanner:
    """The background scanner (the reactions worker runs one): looks for new identities every
    `poll_s`, then runs their re-scans at the configured pace. Stops between two items."""

    def __init__(self, poll_s: float = 10.0) -> None:
        self.poll_s = poll_s
        self.stop = threading.Event()
        self.scanned = 0
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        from safety.consent.models import get_models

        rate = get_settings().likeness_rescan_items_per_minute
        scanner = scanner_name()
        while not self.stop.is_set():
            try:
                enqueue_new_identities()
                if claim(scanner) is not None:  # models load only once there is work
                    self.scanned += run_pending(get_models(), self.stop, Pace(rate), scanner)
            except Exception:  # a database hiccup must not end the worker's scanner
                log.exception("re-scan round failed; trying again")
            self.stop.wait(self.poll_s)

    def start(self) -> Rescanner:
        if get_settings().likeness_rescan_items_per_minute <= 0:
            log.info("likeness re-scans are off (likeness_rescan_items_per_minute = 0)")
            return self
        self._thread = threading.Thread(target=self.run, name="likeness-rescan", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stops between two items (the cursor is already written); a decode in hand is waited
        for up to `timeout_s`, then the daemon thread is left to end with the process."""
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
