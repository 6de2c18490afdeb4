"""Enrolling a cameo: the media (a selfie video with the challenge said aloud), one face
throughout and one identity, the speech (its length, the digits heard), a live face that moves
with the voice, a face clear enough to enroll, the apparent age, a face nobody else enrolled and
no protected person; then the cameo with its sealed embeddings (the face's template over its
good sightings; the voice as heard through each simulated channel)."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from safety.analysis import MediaAnalysis, analyse, cluster_identities
from safety.consent import liveness as live
from safety.consent import permissions as perms
from safety.consent.cameos import CameoView, cameo_view
from safety.consent.challenges import spend_challenge
from safety.consent.errors import RefusalKind, fail, new_id
from safety.consent.models import LikenessModels
from safety.consent.registry import registry
from safety.consent.sealing import seal, seal_vector
from safety.consent.tables import Cameo
from safety.media import Media, load_media
from safety.models.age import ADULT_AGE
from safety.models.scoring import face_quality_issue, template
from safety.models.text_embedder import ModelUnavailable

FACE_COVERAGE = 0.8  # share of sampled frames that must show the enrolling face
FACE_QUALITY_SHARE = 0.5  # share of the face's sightings that must pass the quality gate
SECONDS_PER_WORD = (0.25, 1.2)  # plausible speech time per spoken digit, min and max


@dataclass
class EnrollmentRequest:
    owner_id: str
    challenge_id: str
    owner_is_minor: bool = False
    permission: str = "only_me"
    approved_user_ids: list[str] = field(default_factory=list)
    restrictions: list[str] = field(default_factory=list)
    store_face_image: bool = False
    tenant: str = ""


def _load(path: Path, max_seconds: float, fps: float = 2.0, max_frames: int = 40) -> Media:
    return load_media(path, max_seconds=max_seconds, frames_per_second=fps, max_frames=max_frames)


def _enrollment_media(
    video: Path | None, images: list[Path], voice: Path | None
) -> tuple[list[Media], Media, str]:
    limit = get_settings().enrollment_max_seconds
    if video is not None and (images or voice is not None):
        raise fail(
            RefusalKind.invalid, "send either a video, or images plus a voice clip, not both"
        )
    if video is not None:
        media = _load(video, limit)
        if media.kind != "video":
            raise fail(
                RefusalKind.invalid,
                f"the enrollment file is {media.kind}, not a video",
                code="bad_media",
            )
        if not media.has_audio:
            raise fail(
                RefusalKind.invalid, "the enrollment video has no audio track", code="no_speech"
            )
        return [media], media, "video"
    if not images or voice is None:
        raise fail(
            RefusalKind.invalid, "send a selfie video with audio, or 1-5 images plus a voice clip"
        )
    if len(images) > 5:
        raise fail(RefusalKind.invalid, "at most 5 images")
    pictures = [_load(p, limit) for p in images]
    for p in pictures:
        if p.kind != "image":
            raise fail(
                RefusalKind.invalid, f"an images part is {p.kind}, not an image", code="bad_media"
            )
    sound = _load(voice, limit)
    if not sound.has_audio:
        raise fail(RefusalKind.invalid, "the voice clip has no audio", code="no_speech")
    return pictures, sound, "images"


QUALITY_ADVICE = {
    "face_too_small": "come closer to the camera",
    "face_too_dark": "record in better light",
    "face_overexposed": "move out of direct light",
    "face_low_contrast": "record in better light",
    "face_blurred": "hold the camera still, in focus",
    "face_turned_away": "look at the camera",
    "face_tilted": "hold your head upright",
}


def _check_faces(
    media: list[Media], analyses: list[MediaAnalysis], mode: str, threshold: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """One face throughout, of one person, good enough to enroll; its template (the mean of the
    good sightings weighted by detection score) and what the quality gate saw."""
    frames = sum(a.frames_scanned for a in analyses)
    counts: list[int] = []
    for a in analyses:
        per_frame = a.faces_per_frame()
        counts += [per_frame.get(t, 0) for t in sorted({*per_frame})]
        counts += [0] * (a.frames_scanned - len(per_frame))
    sightings = [s for a in analyses for s in a.sightings]
    if not sightings:
        raise fail(RefusalKind.invalid, "no face found", code="no_face", frames=frames)
    if max(counts) > 1:
        raise fail(
            RefusalKind.invalid,
            f"several people in frame (up to {max(counts)} faces); enroll alone",
            code="several_faces",
        )
    with_face = sum(1 for c in counts if c == 1)
    need = frames if mode == "images" else int(np.ceil(FACE_COVERAGE * frames))
    if with_face < need:
        raise fail(
            RefusalKind.invalid,
            f"the face is visible in {with_face} of {frames} sampled frames; need {need}",
            code="face_not_throughout",
        )
    clusters = cluster_identities([s.face.embedding for s in sightings], threshold)
    if len(clusters) > 1:
        raise fail(
            RefusalKind.invalid,
            f"the face changes during the enrollment ({len(clusters)} different identities)",
            code="identity_changes",
        )
    good, issues = [], Counter[str]()
    for item, analysis in zip(media, analyses, strict=True):
        pictures = dict(item.frames)
        for s in analysis.sightings:
            issue = face_quality_issue(pictures[s.time], s.face.box, s.face.landmarks)
            if issue is None:
                good.append(s)
            else:
                issues[issue] += 1
    if len(good) < FACE_QUALITY_SHARE * len(sightings):
        issue, seen = issues.most_common(1)[0]
        what = issue.removeprefix("face_").replace("_", " ")
        raise fail(
            RefusalKind.invalid,
            f"the face is not clear enough to enroll ({what} in {seen} of {len(sightings)} "
            f"sightings): {QUALITY_ADVICE[issue]}",
            code="face_quality",
            issue=issue,
        )
    vector = template(
        [s.face.embedding for s in good], [max(s.face.detection_score, 0.01) for s in good]
    )
    return vector, {"faces_used": len(good), "faces_seen": len(sightings), **dict(issues)}


def _check_speech(analysis: MediaAnalysis, audio: np.ndarray, phrase: str) -> dict[str, Any]:
    """The speech fits the phrase: its length, then the digits a recogniser hears in it."""
    words = len(phrase.split())
    low, high = words * SECONDS_PER_WORD[0], words * SECONDS_PER_WORD[1] + 1.0
    seconds = round(analysis.speech_seconds, 2)
    if seconds == 0:
        raise fail(RefusalKind.invalid, "no speech found in the audio", code="no_speech")
    if not low <= seconds <= high:
        raise fail(
            RefusalKind.invalid,
            f"{seconds} s of speech does not fit the {words}-word challenge "
            f"(expected {low:.1f}-{high:.1f} s)",
            code="liveness_failed",
            check="speech_length",
        )
    if analysis.voice is None:
        raise fail(
            RefusalKind.invalid,
            f"too little speech to know the voice ({seconds} s)",
            code="no_speech",
        )
    try:
        recogniser = live.digit_recogniser()
    except ModelUnavailable as exc:
        raise fail(
            RefusalKind.unavailable, f"{exc}; nothing can be enrolled", code="model_unavailable"
        ) from exc
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
        raise fail(
            RefusalKind.invalid,
            exc.message,
            code="liveness_failed",
            check=exc.check,
            **exc.measures,
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
        raise fail(
            RefusalKind.invalid, f"corrupt or truncated media: {exc}", code="bad_media"
        ) from exc


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
) -> CameoView:
    """Enrolls a cameo from a selfie video with audio that speaks the challenge phrase (or, if
    the operator allows, photos plus a voice clip). Every refusal names its reason and stores
    nothing; the challenge is spent by the attempt whatever its outcome."""
    settings = get_settings()
    try:
        perms.validate_settings(
            request.permission,
            request.approved_user_ids,
            request.restrictions,
            request.owner_is_minor,
        )
    except perms.PermissionError_ as exc:
        raise fail(RefusalKind.invalid, str(exc), code="bad_permissions") from exc
    if video is None and settings.enrollment_images_mode != "platform_checked":
        raise fail(
            RefusalKind.invalid,
            "send a selfie video with audio: photos and a voice clip cannot show that the face "
            "is live (this service is configured to refuse them)",
            code="video_required",
        )
    phrase = spend_challenge(request.challenge_id, request.owner_id, request.tenant, actor)

    pictures, sound, mode = _enrollment_media(video, images or [], voice)
    face_analyses = [analyse(m, models) for m in pictures]
    embedding, face_quality = _check_faces(
        pictures, face_analyses, mode, models.face.match_threshold
    )
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
    voice = models.voice.enroll([sound.audio])
    if voice is None:
        raise fail(RefusalKind.invalid, "too little speech to know the voice", code="no_speech")
    liveness["face_quality"] = face_quality
    liveness["voice_views"] = voice.views.shape[0]

    ages = [s.age.years for a in face_analyses for s in a.sightings if s.age is not None]
    apparent = int(np.median(ages)) if ages else None
    owner_is_minor, minor_reason = request.owner_is_minor, None
    if request.owner_is_minor:
        minor_reason = "declared by the platform"
    elif apparent is not None and apparent < ADULT_AGE + settings.minor_age_margin:
        owner_is_minor = True
        minor_reason = f"apparent age {apparent} < {ADULT_AGE} + margin {settings.minor_age_margin}"
        if request.permission not in perms.MINOR_MODES:
            raise fail(
                RefusalKind.invalid,
                f"the face may be under 18 ({minor_reason}); such cameos are limited to "
                f"{' or '.join(perms.MINOR_MODES)}",
                code="possible_minor",
            )
    liveness["apparent_age"] = apparent

    cameo_id = new_id("cam")
    with session_scope(write=True) as session:
        for entry, score in registry.search(session, "face", models.face.name, embedding, k=5):
            if score < models.face.match_threshold:
                continue
            if entry.kind == "protected":
                raise fail(
                    RefusalKind.forbidden,
                    "this face matches a protected person",
                    code="protected_person",
                )
            other = session.get(Cameo, entry.id)
            if other is None or other.status != "active":
                continue
            if (other.tenant, other.owner_id) != (request.tenant, request.owner_id):
                raise fail(
                    RefusalKind.conflict,
                    "this face is already enrolled by another account",
                    code="face_already_enrolled",
                )
            raise fail(
                RefusalKind.conflict,
                f"this owner already has an active cameo of this face ({other.id}); change its "
                "permissions, or revoke it before enrolling again",
                code="cameo_already_enrolled",
                cameo_id=other.id,
            )
        cameo = Cameo(
            id=cameo_id,
            owner_id=request.owner_id,
            tenant=request.tenant,
            owner_is_minor=owner_is_minor,
            minor_reason=minor_reason,
            permission=request.permission,
            approved_user_ids=sorted(set(request.approved_user_ids)),
            restrictions=request.restrictions,
            face_model=models.face.name,
            face_embedding=seal_vector(embedding, cameo_id, "face_embedding"),
            voice_model=models.voice.name,
            voice_embedding=seal_vector(voice.views.reshape(-1), cameo_id, "voice_embedding"),
            voice_views=voice.views.shape[0],
            voice_utterances=voice.utterances,
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
