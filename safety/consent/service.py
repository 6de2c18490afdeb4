"""Cameo consent, as the API and CLI use it: enrollment with a liveness challenge, permission
changes and revocation (with a `consent.revoked` event in the outbox), consent checks that
record a grant, and likeness checks of any media against the registry.

Model work runs outside database transactions; each write is one short transaction."""

from __future__ import annotations

import hashlib
import io
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image
from sqlalchemy import select, update

from cameoguard.audit.log import record as audit
from cameoguard.db import utcnow
from cameoguard.deps import short_session
from cameoguard.errors import ApiError
from cameoguard.events import emit
from cameoguard.settings import get_settings
from safety.consent import liveness as live
from safety.consent import permissions as perms
from safety.consent.analysis import MediaAnalysis, analyse, cluster_identities, mean_unit
from safety.consent.models import LikenessModels, restriction_embedder
from safety.consent.registry import Entry, registry
from safety.consent.sealing import seal, seal_vector, unseal
from safety.consent.tables import (
    Cameo,
    CameoNotice,
    ConsentGrant,
    EnrollmentChallenge,
    ProtectedPerson,
)
from safety.media import Media, load_media
from safety.models.age import ADULT_AGE
from safety.models.text_embedder import ModelUnavailable

REVOKED_TOPIC = "consent.revoked"
CHALLENGE_WORDS = 6
FACE_COVERAGE = 0.8  # share of sampled frames that must show the enrolling face
SECONDS_PER_WORD = (0.25, 1.2)  # plausible speech time per spoken digit, min and max
ATTEMPT_WINDOW = timedelta(hours=1)  # enrollment attempts are counted over this window


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _fail(status: int, message: str, code: str | None = None, **details: Any) -> ApiError:
    return ApiError(status, message, code=code, details=details or None)


# --- challenges -------------------------------------------------------------------------------

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def create_challenge(owner_id: str, actor: str) -> dict[str, Any]:
    """A random digit sequence the enrollment video must speak; valid for a few minutes."""
    digits = [secrets.randbelow(10) for _ in range(CHALLENGE_WORDS)]
    phrase = " ".join(str(d) for d in digits)
    ttl = get_settings().challenge_ttl_seconds
    row = EnrollmentChallenge(
        id=_new_id("chl"),
        owner_id=owner_id,
        phrase=phrase,
        expires_at=utcnow() + timedelta(seconds=ttl),
    )
    with short_session(write=True) as session:
        _check_attempt_rate(session, owner_id)
        session.add(row)
        audit(session, actor=actor, action="cameo.challenge", subject=row.id, reason=owner_id)
        return {
            "challenge_id": row.id,
            "phrase": phrase,
            "say": " ".join(_DIGITS[d] for d in digits),
            "expires_at": row.expires_at.isoformat(),
            "instructions": "Record a selfie video (face visible throughout, nobody else in "
            "frame) saying the phrase aloud, and upload it within the time limit.",
        }


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _open_challenge(session: Any, challenge_id: str, owner_id: str) -> EnrollmentChallenge:
    row = session.get(EnrollmentChallenge, challenge_id)
    if row is None or row.owner_id != owner_id:
        raise _fail(404, "unknown challenge for this owner", code="challenge_unknown")
    if row.used_at is not None:
        raise _fail(409, "challenge already used; ask for a new one", code="challenge_used")
    if _aware(row.expires_at) < utcnow():
        raise _fail(410, "challenge expired; ask for a new one", code="challenge_expired")
    return row


def _check_attempt_rate(session: Any, owner_id: str) -> None:
    """429 when the owner has made `enrollment_attempts_per_hour` attempts (challenges spent,
    whether they enrolled or failed) in the last hour; Retry-After says when one more is due."""
    limit = get_settings().enrollment_attempts_per_hour
    now = utcnow()
    spent = session.scalars(
        select(EnrollmentChallenge.used_at)
        .where(
            EnrollmentChallenge.owner_id == owner_id,
            EnrollmentChallenge.used_at >= now - ATTEMPT_WINDOW,
        )
        .order_by(EnrollmentChallenge.used_at)
    ).all()
    if len(spent) < limit:
        return
    frees_at = _aware(spent[len(spent) - limit]) + ATTEMPT_WINDOW
    retry = max(1, math.ceil((frees_at - now).total_seconds()))
    raise ApiError(
        429,
        f"{len(spent)} enrollment attempts in the last hour for this owner (limit {limit}); "
        f"try again in {retry} s",
        code="enrollment_rate_limited",
        details={"attempts": len(spent), "limit": limit, "retry_after_seconds": retry},
        headers={"Retry-After": str(retry)},
    )


def _spend_challenge(request: EnrollmentRequest, actor: str) -> str:
    """Marks the challenge used before any media is looked at, so that it serves one attempt
    only, failed or not (a conditional update: of two concurrent attempts one wins); returns
    its phrase."""
    with short_session(write=True) as session:
        row = _open_challenge(session, request.challenge_id, request.owner_id)
        _check_attempt_rate(session, request.owner_id)
        spent = session.execute(
            update(EnrollmentChallenge)
            .where(EnrollmentChallenge.id == row.id, EnrollmentChallenge.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if spent != 1:
            raise _fail(409, "challenge already used; ask for a new one", code="challenge_used")
        audit(
            session,
            actor=actor,
            action="cameo.enroll_attempt",
            subject=row.id,
            reason=request.owner_id,
        )
        return row.phrase


# --- enrollment -------------------------------------------------------------------------------


@dataclass
class EnrollmentRequest:
    owner_id: str
    challenge_id: str
    owner_is_minor: bool = False
    permission: str = "only_me"
    approved_user_ids: list[str] = field(default_factory=list)
    restrictions: list[str] = field(default_factory=list)
    store_face_image: bool = False


def _load(path: Path, max_seconds: float, fps: float = 2.0, max_frames: int = 40) -> Media:
    return load_media(path, max_seconds=max_seconds, frames_per_second=fps, max_frames=max_frames)


def _enrollment_media(
    video: Path | None, images: list[Path], voice: Path | None
) -> tuple[list[Media], Media, str]:
    limit = get_settings().enrollment_max_seconds
    if video is not None and (images or voice is not None):
        raise _fail(422, "send either a video, or images plus a voice clip, not both")
    if video is not None:
        media = _load(video, limit)
        if media.kind != "video":
            raise _fail(422, f"the enrollment file is {media.kind}, not a video", code="bad_media")
        if not media.has_audio:
            raise _fail(422, "the enrollment video has no audio track", code="no_speech")
        return [media], media, "video"
    if not images or voice is None:
        raise _fail(422, "send a selfie video with audio, or 1-5 images plus a voice clip")
    if len(images) > 5:
        raise _fail(422, "at most 5 images")
    pictures = [_load(p, limit) for p in images]
    for p in pictures:
        if p.kind != "image":
            raise _fail(422, f"an images part is {p.kind}, not an image", code="bad_media")
    sound = _load(voice, limit)
    if not sound.has_audio:
        raise _fail(422, "the voice clip has no audio", code="no_speech")
    return pictures, sound, "images"


def _check_faces(analyses: list[MediaAnalysis], mode: str, threshold: float) -> np.ndarray:
    frames = sum(a.frames_scanned for a in analyses)
    counts: list[int] = []
    for a in analyses:
        per_frame = a.faces_per_frame()
        counts += [per_frame.get(t, 0) for t in sorted({*per_frame})]
        counts += [0] * (a.frames_scanned - len(per_frame))
    sightings = [s for a in analyses for s in a.sightings]
    if not sightings:
        raise _fail(422, "no face found", code="no_face", frames=frames)
    if max(counts) > 1:
        raise _fail(
            422,
            f"several people in frame (up to {max(counts)} faces); enroll alone",
            code="several_faces",
        )
    with_face = sum(1 for c in counts if c == 1)
    need = frames if mode == "images" else int(np.ceil(FACE_COVERAGE * frames))
    if with_face < need:
        raise _fail(
            422,
            f"the face is visible in {with_face} of {frames} sampled frames; need {need}",
            code="face_not_throughout",
        )
    clusters = cluster_identities([s.face.embedding for s in sightings], threshold)
    if len(clusters) > 1:
        raise _fail(
            422,
            f"the face changes during the enrollment ({len(clusters)} different identities)",
            code="identity_changes",
        )
    return mean_unit([s.face.embedding for s in sightings])


def _check_speech(analysis: MediaAnalysis, audio: np.ndarray, phrase: str) -> dict[str, Any]:
    """The speech fits the phrase: its length, then the digits a recogniser hears in it."""
    words = len(phrase.split())
    low, high = words * SECONDS_PER_WORD[0], words * SECONDS_PER_WORD[1] + 1.0
    seconds = round(analysis.speech_seconds, 2)
    if seconds == 0:
        raise _fail(422, "no speech found in the audio", code="no_speech")
    if not low <= seconds <= high:
        raise _fail(
            422,
            f"{seconds} s of speech does not fit the {words}-word challenge "
            f"(expected {low:.1f}-{high:.1f} s)",
            code="liveness_failed",
            check="speech_length",
        )
    if analysis.voice is None:
        raise _fail(422, f"too little speech to know the voice ({seconds} s)", code="no_speech")
    try:
        recogniser = live.digit_recogniser()
    except ModelUnavailable as exc:
        raise _fail(503, f"{exc}; nothing can be enrolled", code="model_unavailable") from exc
    max_edits = get_settings().liveness_max_digit_edits
    with _liveness_refusals():
        digits = live.check_digits(audio, phrase, recogniser, max_edits)
    return {
        "speech_seconds": seconds,
        "expected_seconds": [round(low, 2), round(high, 2)],
        **digits,
    }


@contextmanager
def _liveness_refusals() -> Iterator[None]:
    """A failed liveness measure is a 422 `liveness_failed` naming the check and its measures."""
    try:
        yield
    except live.LivenessFailed as exc:
        raise _fail(
            422, exc.message, code="liveness_failed", check=exc.check, **exc.measures
        ) from exc


def _track_frames(video: Path, duration: float) -> Iterator[tuple[float, np.ndarray]]:
    """The video's frames at (at most) the liveness track's rate, in grey, one at a time: the
    face models read the sparser colour frames of `_load`; these are cropped as they come."""
    step = 1.0 / min(live.TRACK_FPS, live.TRACK_MAX_FRAMES / max(duration, 1.0))
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            due = 0.0
            for frame in container.decode(stream):
                if frame.time is None or frame.time + 1e-6 < due:
                    continue
                due = frame.time + step
                yield float(frame.time), frame.to_ndarray(format="gray")
    except av.error.FFmpegError as exc:
        raise _fail(422, f"corrupt or truncated media: {exc}", code="bad_media") from exc


def _check_live_face(video: Path, media: Media, analysis: MediaAnalysis) -> dict[str, Any]:
    """The face in the video moves like a live face, and with the voice."""
    assert media.audio is not None
    settings = get_settings()
    thresholds = live.Thresholds(
        min_motion=settings.liveness_min_motion,
        min_sync=settings.liveness_min_sync,
        max_lag_seconds=settings.liveness_max_lag_seconds,
    )
    sightings = [(s.time, s.face.box) for s in analysis.sightings]
    with _liveness_refusals():
        frames = _track_frames(video, media.duration)
        return live.check_face_motion(frames, sightings, media.audio, thresholds)


def _face_jpeg(media: list[Media], analyses: list[MediaAnalysis]) -> bytes:
    best = max(
        ((m, s) for m, a in zip(media, analyses, strict=True) for s in a.sightings),
        key=lambda pair: pair[1].face.size,
    )
    source, sighting = best
    frame = dict(source.frames)[sighting.time]
    left, top, right, bottom = sighting.face.box
    pad = (right - left) // 2
    crop = frame[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad]
    buffer = io.BytesIO()
    Image.fromarray(crop).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def enroll(
    request: EnrollmentRequest,
    models: LikenessModels,
    *,
    video: Path | None = None,
    images: list[Path] | None = None,
    voice: Path | None = None,
    actor: str,
) -> dict[str, Any]:
    settings = get_settings()
    try:
        perms.validate_settings(
            request.permission,
            request.approved_user_ids,
            request.restrictions,
            request.owner_is_minor,
        )
    except perms.PermissionError_ as exc:
        raise _fail(422, str(exc), code="bad_permissions") from exc
    if video is None and settings.enrollment_images_mode != "platform_checked":
        raise _fail(
            422,
            "send a selfie video with audio: photos and a voice clip cannot show that the face "
            "is live (this service is configured to refuse them)",
            code="video_required",
        )
    phrase = _spend_challenge(request, actor)

    pictures, sound, mode = _enrollment_media(video, images or [], voice)
    face_analyses = [analyse(m, models) for m in pictures]
    embedding = _check_faces(face_analyses, mode, models.face.match_threshold)
    speech = analyse(sound, models) if mode == "images" else face_analyses[0]
    assert sound.audio is not None
    liveness = {
        "mode": mode,
        "phrase_words": len(phrase.split()),
        **_check_speech(speech, sound.audio, phrase),
    }
    if video is not None:
        liveness |= {"checks": ["digits", "motion", "sync"]}
        liveness |= _check_live_face(video, sound, face_analyses[0])
    else:  # still photos show no motion and no lip sync: the platform vouches for the face
        liveness |= {"checks": ["digits"], "face_liveness": "platform_checked"}
    assert speech.voice is not None

    ages = [s.age.years for a in face_analyses for s in a.sightings if s.age is not None]
    apparent = int(np.median(ages)) if ages else None
    owner_is_minor, minor_reason = request.owner_is_minor, None
    if request.owner_is_minor:
        minor_reason = "declared by the platform"
    elif apparent is not None and apparent < ADULT_AGE + settings.minor_age_margin:
        owner_is_minor = True
        minor_reason = f"apparent age {apparent} < {ADULT_AGE} + margin {settings.minor_age_margin}"
        if request.permission not in perms.MINOR_MODES:
            raise _fail(
                422,
                f"the face may be under 18 ({minor_reason}); such cameos are limited to "
                f"{' or '.join(perms.MINOR_MODES)}",
                code="possible_minor",
            )
    liveness["apparent_age"] = apparent

    cameo_id = _new_id("cam")
    with short_session(write=True) as session:
        for entry, score in registry.search(session, "face", models.face.name, embedding, k=5):
            if score < models.face.match_threshold:
                continue
            if entry.kind == "protected":
                raise _fail(403, "this face matches a protected person", code="protected_person")
            other = session.get(Cameo, entry.id)
            if other is None or other.status != "active":
                continue
            if other.owner_id != request.owner_id:
                raise _fail(
                    409,
                    "this face is already enrolled by another account",
                    code="face_already_enrolled",
                )
            raise _fail(
                409,
                f"this owner already has an active cameo of this face ({other.id}); change its "
                "permissions, or revoke it before enrolling again",
                code="cameo_already_enrolled",
                cameo_id=other.id,
            )
        cameo = Cameo(
            id=cameo_id,
            owner_id=request.owner_id,
            owner_is_minor=owner_is_minor,
            minor_reason=minor_reason,
            permission=request.permission,
            approved_user_ids=sorted(set(request.approved_user_ids)),
            restrictions=request.restrictions,
            face_model=models.face.name,
            face_embedding=seal_vector(embedding, cameo_id, "face_embedding"),
            voice_model=models.voice.name,
            voice_embedding=seal_vector(speech.voice.embedding, cameo_id, "voice_embedding"),
            face_image=(
                seal(_face_jpeg(pictures, face_analyses), cameo_id, "face_image")
                if request.store_face_image
                else None
            ),
            liveness=liveness,
        )
        session.add(cameo)
        session.flush()
        audit(
            session,
            actor=actor,
            action="cameo.enroll",
            subject=cameo_id,
            reason=f"owner {request.owner_id}",
            details={"permission": request.permission, "liveness": liveness},
        )
        return cameo_view(cameo)


def cameo_view(c: Cameo) -> dict[str, Any]:
    return {
        "id": c.id,
        "owner_id": c.owner_id,
        "status": c.status,
        "owner_is_minor": c.owner_is_minor,
        "minor_reason": c.minor_reason,
        "permission": c.permission,
        "approved_user_ids": list(c.approved_user_ids or []),
        "restrictions": list(c.restrictions or []),
        "version": c.version,
        "face_model": c.face_model,
        "voice_model": c.voice_model,
        "has_face_image": c.face_image is not None,
        "liveness": c.liveness,
        "created_at": c.created_at.isoformat() if c.created_at else None,
        "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
    }


# --- owner actions ----------------------------------------------------------------------------


def _owned(session: Any, cameo_id: str, owner_id: str) -> Cameo:
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or cameo.owner_id != owner_id:
        raise _fail(404, "no such cameo for this owner", code="cameo_unknown")
    return cameo


def get_cameo(cameo_id: str, owner_id: str) -> dict[str, Any]:
    with short_session() as session:
        return cameo_view(_owned(session, cameo_id, owner_id))


def update_permissions(
    cameo_id: str,
    owner_id: str,
    permission: str,
    approved_user_ids: list[str],
    restrictions: list[str],
    actor: str,
) -> dict[str, Any]:
    with short_session(write=True) as session:
        cameo = _owned(session, cameo_id, owner_id)
        if cameo.status != "active":
            raise _fail(409, f"cameo is {cameo.status}", code="cameo_revoked")
        try:
            perms.validate_settings(
                permission, approved_user_ids, restrictions, cameo.owner_is_minor
            )
        except perms.PermissionError_ as exc:
            raise _fail(422, str(exc), code="bad_permissions") from exc
        before = {
            "permission": cameo.permission,
            "approved_user_ids": list(cameo.approved_user_ids or []),
            "restrictions": list(cameo.restrictions or []),
        }
        cameo.permission = permission
        cameo.approved_user_ids = sorted(set(approved_user_ids))
        cameo.restrictions = restrictions
        cameo.version += 1
        cameo.updated_at = utcnow()
        _emit_revoked(session, cameo, "permissions_changed")
        audit(
            session,
            actor=actor,
            action="cameo.permissions",
            subject=cameo_id,
            reason=f"owner {owner_id}",
            details={"before": before, "version": cameo.version},
        )
        return cameo_view(cameo)


def _emit_revoked(session: Any, cameo: Cameo, reason: str) -> None:
    emit(
        session,
        REVOKED_TOPIC,
        key=cameo.id,
        payload={
            "schema_version": 1,
            "cameo_id": cameo.id,
            "cameo_version": cameo.version,
            "reason": reason,  # revoked | permissions_changed
            "status": cameo.status,
            "permission": cameo.permission,
            "approved_user_ids": list(cameo.approved_user_ids or []),
            "at": utcnow().isoformat(),
        },
    )


def revoke(cameo_id: str, owner_id: str, actor: str, purge: bool = False) -> dict[str, Any]:
    """Takes effect at once for new requests. The face and voice stay in the registry (so the
    likeness check keeps refusing them) unless `purge` deletes them."""
    with short_session(write=True) as session:
        cameo = _owned(session, cameo_id, owner_id)
        if cameo.status != "revoked":
            cameo.status = "revoked"
            cameo.revoked_at = utcnow()
            cameo.version += 1
            _emit_revoked(session, cameo, "revoked")
        if purge:
            cameo.face_embedding = cameo.voice_embedding = cameo.face_image = None
        cameo.updated_at = utcnow()
        audit(
            session,
            actor=actor,
            action="cameo.revoke",
            subject=cameo_id,
            reason=f"owner {owner_id}",
            details={"purge": purge},
        )
        return cameo_view(cameo)


def usages(cameo_id: str, owner_id: str) -> dict[str, Any]:
    """Every generation that used the cameo (drafts included: whatever recorded a grant)."""
    with short_session() as session:
        _owned(session, cameo_id, owner_id)
        grants = session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.cameo_id == cameo_id, ConsentGrant.generation_id.is_not(None))
            .order_by(ConsentGrant.created_at)
        ).all()
        notices = session.scalars(
            select(CameoNotice)
            .where(CameoNotice.cameo_id == cameo_id)
            .order_by(CameoNotice.created_at)
        ).all()
        return {
            "cameo_id": cameo_id,
            "misuse_notices": [
                {
                    "item_id": n.item_id,
                    "case_id": n.case_id,
                    "action": n.action,
                    "reason_code": n.reason_code,
                    "at": n.created_at.isoformat(),
                }
                for n in notices
            ],
            "generations": [
                {
                    "generation_id": g.generation_id,
                    "requester_id": g.requester_id,
                    "grant_id": g.id,
                    "cameo_version": g.cameo_version,
                    "at": g.created_at.isoformat(),
                }
                for g in grants
            ],
        }


def notify_misuse(
    session: Any,
    cameo_id: str,
    *,
    item_id: str | None,
    case_id: str,
    action: str,
    reason_code: str,
) -> bool:
    """Adds a misuse notice to the cameo owner's record (called by the review area in the
    reviewer's decision's transaction). False when no such cameo exists (purged)."""
    if session.get(Cameo, cameo_id) is None:
        return False
    session.add(
        CameoNotice(
            cameo_id=cameo_id,
            item_id=item_id,
            case_id=case_id,
            action=action,
            reason_code=reason_code,
        )
    )
    return True


def face_images(cameo_ids: list[str]) -> dict[str, bytes]:
    """The stored face images (JPEG) of active cameos whose owners opted in to storing one,
    for the generator to composite. Cameos without one are left out."""
    with short_session() as session:
        rows = session.scalars(
            select(Cameo).where(Cameo.id.in_(cameo_ids), Cameo.status == "active")
        ).all()
        return {
            c.id: unseal(c.face_image, c.id, "face_image") for c in rows if c.face_image is not None
        }


def grants_still_valid(grant_ids: list[str]) -> str | None:
    """None when every grant still stands (its cameo active, at the version it was granted
    for); otherwise why not. The generator asks again before it releases anything."""
    with short_session() as session:
        for grant_id in grant_ids:
            grant = session.get(ConsentGrant, grant_id)
            if grant is None or grant.decision != "allow":
                return f"grant {grant_id} does not allow"
            cameo = session.get(Cameo, grant.cameo_id)
            if cameo is None or cameo.status != "active":
                return f"cameo {grant.cameo_id} was revoked"
            if cameo.version != grant.cameo_version:
                return f"cameo {grant.cameo_id}'s permissions changed since consent was given"
    return None


def attach_generation(session: Any, grant_ids: list[str], generation_id: str) -> None:
    """Records which grants a generation used (called by the generation pipeline)."""
    for grant_id in grant_ids:
        grant = session.get(ConsentGrant, grant_id)
        if grant is None or grant.decision != "allow":
            raise ValueError(f"grant {grant_id} does not exist or did not allow")
        grant.generation_id = generation_id


# --- consent check ----------------------------------------------------------------------------


@dataclass
class ConsentRequest:
    requester_id: str
    cameo_ids: list[str]
    prompt: str
    requester_age_group: str = "adult"
    mutual_owner_ids: list[str] = field(default_factory=list)


def check_consent(request: ConsentRequest, actor: str) -> dict[str, Any]:
    from safety.policy.engine import CheckContext
    from safety.policy.service import require_engine

    engine = require_engine()
    cameo_ids = list(dict.fromkeys(request.cameo_ids))
    if not cameo_ids:
        raise _fail(422, "cameo_ids is empty")
    with short_session() as session:
        rows = {c.id: c for c in session.scalars(select(Cameo).where(Cameo.id.in_(cameo_ids)))}
        snapshot = {cid: (c.version, c.status) for cid, c in rows.items()}

    # Model work, outside any transaction.
    restrictions = sorted({r for c in rows.values() for r in (c.restrictions or [])})
    anchors = {r: perms.anchor_texts(r) for r in restrictions}
    texts = [request.prompt, *(a for r in restrictions for a in anchors[r])]
    try:
        vectors = restriction_embedder().encode(texts)
    except ModelUnavailable as exc:
        raise _fail(
            503, f"text model unavailable ({exc}); nothing can be allowed", "model_unavailable"
        ) from exc
    prompt_vector, topic_vector, at = vectors[0], {}, 1
    for r in restrictions:
        topic_vector[r] = vectors[at : at + len(anchors[r])]
        at += len(anchors[r])
    age_group = "teen" if request.requester_age_group == "teen" else "adult"
    policy = engine.check(request.prompt, CheckContext(age_group=age_group, uses_cameo=True))
    minor_policy = None
    if any(c.owner_is_minor for c in rows.values()):
        minor_policy = engine.check(request.prompt, CheckContext(age_group="teen", uses_cameo=True))
    scores = {name: r.score for name, r in policy.categories.items()}

    results: list[dict[str, Any]] = []
    prompt_hash = hashlib.sha256(request.prompt.encode()).hexdigest()
    with short_session(write=True) as session:
        for cid in cameo_ids:
            cameo = session.get(Cameo, cid)
            decision, reason, details = _decide_one(
                cameo, request, snapshot.get(cid), prompt_vector, topic_vector, scores, minor_policy
            )
            result: dict[str, Any] = {"cameo_id": cid, "decision": decision, "reason": reason}
            if cameo is not None:
                grant = ConsentGrant(
                    id=_new_id("grt"),
                    cameo_id=cid,
                    cameo_version=cameo.version,
                    requester_id=request.requester_id,
                    decision=decision,
                    reason=reason,
                    prompt_sha256=prompt_hash,
                    details=details,
                )
                session.add(grant)
                result |= {"grant_id": grant.id, "cameo_version": cameo.version, **details}
            results.append(result)
        overall = "allow" if all(r["decision"] == "allow" for r in results) else "block"
        session.flush()
        audit(
            session,
            actor=actor,
            action="consent.check",
            # Only ids that name real cameos become the subject: a caller's made-up ids must
            # not file entries under someone else's subject (they stay in the details).
            subject=",".join(cid for cid in cameo_ids if cid in rows) or "cameo:unknown",
            reason=f"{overall} for {request.requester_id}",
            details={"results": results, "prompt_sha256": prompt_hash},
        )
    blocked = [r for r in results if r["decision"] != "allow"]
    return {
        "decision": overall,
        "reason": "; ".join(f"{r['cameo_id']}: {r['reason']}" for r in blocked)
        or "every cameo's owner allows this requester and prompt",
        "cameos": results,
        "policy": {"pack": policy.pack, "model": policy.model},
    }


def _decide_one(
    cameo: Cameo | None,
    request: ConsentRequest,
    snapshot: tuple[int, str] | None,
    prompt_vector: np.ndarray,
    topic_vector: dict[str, np.ndarray],
    scores: dict[str, float],
    minor_policy: Any,
) -> tuple[str, str, dict[str, Any]]:
    if cameo is None:
        return "block", "unknown cameo", {}
    if snapshot != (cameo.version, cameo.status):
        return "block", "the cameo's consent changed during the check; ask again", {}
    if cameo.status != "active":
        return "block", f"the cameo is {cameo.status}", {}
    access = perms.who_may_use(
        owner_id=cameo.owner_id,
        owner_is_minor=cameo.owner_is_minor,
        permission=cameo.permission,
        approved=list(cameo.approved_user_ids or []),
        requester_id=request.requester_id,
        requester_is_mutual=cameo.owner_id in request.mutual_owner_ids,
    )
    details: dict[str, Any] = {"permission": cameo.permission}
    if not access.granted:
        return "block", access.reason, details
    if cameo.owner_is_minor and minor_policy is not None and minor_policy.action != "allow":
        details["minor_policy"] = {"action": minor_policy.action, "flagged": minor_policy.flagged}
        return (
            "block",
            "the owner is under 18 and the prompt does not pass the teen thresholds "
            f"({minor_policy.action}: {', '.join(minor_policy.flagged) or 'rules'})",
            details,
        )
    if request.requester_id != cameo.owner_id and cameo.restrictions:
        hits = perms.match_restrictions(
            list(cameo.restrictions),
            request.prompt,
            prompt_vector,
            [topic_vector[r] for r in cameo.restrictions],
            scores,
            cameo.owner_is_minor,
        )
        details["restrictions_checked"] = len(cameo.restrictions)
        if hits:
            details["restriction_hits"] = [
                {
                    "restriction": h.restriction,
                    "similarity": h.similarity,
                    "threshold": h.threshold,
                    "categories": h.categories,
                    "words": h.words,
                }
                for h in hits
            ]
            return "block", hits[0].reason(), details
    return "allow", access.reason, details


# --- likeness check ---------------------------------------------------------------------------


def _consent_status(cameo: Cameo | None, requester_id: str, mutuals: list[str]) -> str:
    if cameo is None:
        return "unknown"
    if cameo.status != "active":
        return "revoked"
    access = perms.who_may_use(
        owner_id=cameo.owner_id,
        owner_is_minor=cameo.owner_is_minor,
        permission=cameo.permission,
        approved=list(cameo.approved_user_ids or []),
        requester_id=requester_id,
        requester_is_mutual=cameo.owner_id in mutuals,
    )
    if requester_id == cameo.owner_id:
        return "owner"
    return "granted" if access.granted else "not_granted"


def likeness(
    path: Path,
    models: LikenessModels,
    *,
    requester_id: str | None,
    mutual_owner_ids: list[str] | None = None,
    frames_per_second: float = 1.0,
) -> dict[str, Any]:
    settings = get_settings()
    media = load_media(
        path,
        max_seconds=settings.likeness_max_seconds,
        frames_per_second=frames_per_second,
        max_frames=120,
    )
    return likeness_of(
        media,
        analyse(media, models),
        models,
        requester_id=requester_id,
        mutual_owner_ids=mutual_owner_ids,
    )


def likeness_of(
    media: Media,
    analysis: MediaAnalysis,
    models: LikenessModels,
    *,
    requester_id: str | None,
    mutual_owner_ids: list[str] | None = None,
) -> dict[str, Any]:
    """The likeness report of media already decoded and analysed (the feed analyses each item
    once for all its signals)."""
    settings = get_settings()
    mutuals = mutual_owner_ids or []
    face_threshold, voice_threshold = models.face.match_threshold, models.voice.match_threshold

    with short_session() as session:
        names: dict[str, str] = {}

        def describe(entry: Entry, score: float, threshold: float) -> dict[str, Any]:
            out: dict[str, Any] = {
                "kind": entry.kind,
                "id": entry.id,
                "score": round(score, 4),
                "threshold": threshold,
            }
            if entry.kind == "protected":
                person = session.get(ProtectedPerson, entry.id)
                names[entry.id] = person.name if person else entry.id
                out |= {"name": names[entry.id], "consent": "protected"}
            else:
                cameo = session.get(Cameo, entry.id)
                out["consent"] = (
                    _consent_status(cameo, requester_id, mutuals) if requester_id else "unchecked"
                )
            return out

        faces = []
        for s in analysis.sightings:
            hits = registry.search(session, "face", models.face.name, s.face.embedding, k=3)
            faces.append(
                {
                    "time": round(s.time, 2),
                    "box": list(s.face.box),
                    "apparent_age": s.age.years if s.age else None,
                    "possible_minor": bool(
                        s.age and s.age.possible_minor(settings.minor_age_margin)
                    ),
                    "matches": [
                        describe(e, sc, face_threshold) for e, sc in hits if sc >= face_threshold
                    ],
                }
            )
        voice: dict[str, Any] = {
            "audio_seconds": round(analysis.audio_seconds, 2),
            "speech_seconds": round(analysis.speech_seconds, 2),
            "matches": [],
        }
        if analysis.voice is not None:
            hits = registry.search(session, "voice", models.voice.name, analysis.voice.embedding, 3)
            voice["matches"] = [
                describe(e, sc, voice_threshold) for e, sc in hits if sc >= voice_threshold
            ]

    matches = [m for f in faces for m in f["matches"]] + voice["matches"]
    unconsented = sorted(
        {f"{m['kind']}:{m['id']}" for m in matches if m["consent"] not in ("owner", "granted")}
    )
    reasons = [f"likeness of {u} without consent" for u in unconsented] if requester_id else []
    return {
        "media": {
            "kind": media.kind,
            "duration": round(media.duration, 2),
            "frames_scanned": analysis.frames_scanned,
        },
        "faces": faces,
        "voice": voice,
        "summary": {
            "faces_found": len(faces),
            "possible_minor": any(f["possible_minor"] for f in faces),
            "matched": sorted({f"{m['kind']}:{m['id']}" for m in matches}),
            "unconsented": unconsented,
            "decision": ("block" if reasons else "allow") if requester_id else "unchecked",
            "reasons": reasons,
        },
        "models": {"face": models.face.name, "voice": models.voice.name},
    }


def record_likeness_search(report: dict[str, Any], actor: str, requester_id: str | None) -> None:
    """Audits a likeness search made through the API: who searched, when, how many faces and
    matches (never the media, never the matched ids: the audit log is no index of faces)."""
    summary = report["summary"]
    with short_session(write=True) as session:
        audit(
            session,
            actor=actor,
            action="likeness.search",
            subject=f"requester:{requester_id}" if requester_id else "likeness",
            reason=f"{len(summary['matched'])} match(es) in {summary['faces_found']} face(s)",
            details={
                "faces": summary["faces_found"],
                "matches": len(summary["matched"]),
                "unconsented": len(summary["unconsented"]),
                "media_kind": report["media"]["kind"],
            },
        )


def without_identities(report: dict[str, Any]) -> dict[str, Any]:
    """The report as a reviewer or auditor may see it: whether each face or voice matched an
    enrolled person (and a protected person's public name), not which cameo or whose it is."""

    def blind(match: dict[str, Any]) -> dict[str, Any]:
        shown = {"kind": match["kind"], "matched": True, "score": match["score"]}
        if match["kind"] == "protected":
            shown["name"] = match.get("name")
        return shown

    faces = [{**f, "matches": [blind(m) for m in f["matches"]]} for f in report["faces"]]
    voice = {**report["voice"], "matches": [blind(m) for m in report["voice"]["matches"]]}
    summary = report["summary"]
    kinds = sorted(m.partition(":")[0] for m in summary["matched"])
    return {
        **report,
        "faces": faces,
        "voice": voice,
        "summary": {
            **summary,
            "matched": kinds,
            "unconsented": sorted(m.partition(":")[0] for m in summary["unconsented"]),
            "reasons": [],
        },
    }


# --- protected people -------------------------------------------------------------------------


def add_protected_person(
    name: str, note: str, models: LikenessModels, media: list[Path], actor: str
) -> dict[str, Any]:
    """A public figure's face (from photos) and/or voice (from a clip) for the likeness check."""
    faces, voices = [], []
    for path in media:
        item = _load(path, get_settings().likeness_max_seconds, fps=1.0, max_frames=20)
        analysis = analyse(item, models, with_age=False)
        if len({s.time for s in analysis.sightings}) != len(analysis.sightings):
            raise _fail(422, f"{path.name}: several faces; use photos of the person alone")
        faces += [s.face.embedding for s in analysis.sightings]
        if analysis.voice is not None:
            voices.append(analysis.voice.embedding)
    if not faces and not voices:
        raise _fail(422, "no face and no speech found in the media", code="no_face")
    if faces and len(cluster_identities(faces, models.face.match_threshold)) > 1:
        raise _fail(422, "the photos show more than one person", code="identity_changes")
    person_id = _new_id("ppl")
    with short_session(write=True) as session:
        row = ProtectedPerson(
            id=person_id,
            name=name,
            note=note,
            face_model=models.face.name if faces else None,
            face_embedding=seal_vector(mean_unit(faces), person_id, "face_embedding")
            if faces
            else None,
            voice_model=models.voice.name if voices else None,
            voice_embedding=(
                seal_vector(mean_unit(voices), person_id, "voice_embedding") if voices else None
            ),
        )
        session.add(row)
        audit(session, actor=actor, action="protected.add", subject=person_id, reason=name)
        return {"id": person_id, "name": name, "faces": len(faces), "voices": len(voices)}
