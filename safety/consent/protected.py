"""The protected-people bank: people (public figures, those who asked) whose face or voice
must never be generated without a cameo of their own. An empty bank protects nobody."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope, utcnow
from cameoguard.settings import get_settings
from safety.analysis import analyse, cluster_identities, mean_unit
from safety.consent.cameos import emit_revoked
from safety.consent.errors import RefusalKind, fail, new_id
from safety.consent.models import LikenessModels
from safety.consent.sealing import seal_vector, unseal_vector
from safety.consent.tables import Cameo, ProtectedPerson
from safety.media import load_media
from safety.review.cases import CaseRequest, open_case
from safety.review.routing import review_policy

log = logging.getLogger(__name__)
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
CLIP_SUFFIXES = {".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac", ".mp4", ".mov", ".webm"}

VOICE_SECONDS = 60  # of each clip, heard through every channel for the voice enrollment


class SuspendedCameo(BaseModel):
    cameo_id: str
    modality: str = Field(description="face or voice: what matched the protected person")
    score: float
    threshold: float
    case_id: str


class ProtectedAdded(BaseModel):
    id: str
    name: str
    faces: int = Field(description="Face samples taken from the photos")
    voices: int = Field(description="Voice samples taken from the clips")
    suspended: list[SuspendedCameo] = Field(
        default_factory=list,
        description="Active cameos whose face or voice is this person's: suspended, each with a"
        " case in the cameo review queue and a consent.revoked event",
    )


def _best_voice(person_views: np.ndarray, cameo_views: np.ndarray) -> float:
    """The closest pair of views of two multi-condition voice enrollments."""
    return float((person_views @ cameo_views.T).max())


def recheck_cameos(
    session: Session, person: ProtectedPerson, models: LikenessModels, actor: str
) -> list[SuspendedCameo]:
    """Every active cameo (of every tenant) whose face or voice matches the protected person is
    suspended, in the caller's transaction: `consent.revoked` (reason `suspended`) takes its
    published uses back to review and cancels its jobs, and a case in the cameo queue lets a
    reviewer decide. A person added after a cameo of their face must not leave it usable."""
    face = (
        unseal_vector(person.face_embedding, person.id, "face_embedding")
        if person.face_embedding is not None
        else None
    )
    voice = (
        unseal_vector(person.voice_embedding, person.id, "voice_embedding").reshape(
            person.voice_views, -1
        )
        if person.voice_embedding is not None
        else None
    )
    suspended = []
    for cameo in session.scalars(select(Cameo).where(Cameo.status == "active")):
        hit: tuple[str, float, float] | None = None
        if (
            face is not None
            and cameo.face_embedding is not None
            and cameo.face_model == person.face_model
        ):
            score = float(
                np.dot(face, unseal_vector(cameo.face_embedding, cameo.id, "face_embedding"))
            )
            if score >= models.face.match_threshold:
                hit = ("face", score, models.face.match_threshold)
        if (
            hit is None
            and voice is not None
            and cameo.voice_embedding is not None
            and cameo.voice_model == person.voice_model
        ):
            views = unseal_vector(cameo.voice_embedding, cameo.id, "voice_embedding").reshape(
                cameo.voice_views, -1
            )
            threshold = models.voice.threshold_for_enrollment(
                cameo.voice_views, cameo.voice_utterances
            )
            score = _best_voice(voice, views)
            if score >= threshold:
                hit = ("voice", score, threshold)
        if hit is None:
            continue
        modality, score, threshold = hit
        cameo.status = "suspended"
        cameo.version += 1
        cameo.updated_at = utcnow()
        emit_revoked(session, cameo, "suspended")
        reason = (
            f"the cameo's {modality} matches protected person {person.name} "
            f"({score:.3f} >= {threshold:.3f})"
        )
        session.flush()
        case = open_case(
            session,
            CaseRequest(
                kind="cameo_complaint",
                item_id=None,
                cameo_id=cameo.id,
                signals=["deepfake"],
                severity=1,
                reasons=[reason],
                snapshot={
                    "cameo_id": cameo.id,
                    "owner_id": cameo.owner_id,
                    "protected_person": {"id": person.id, "name": person.name},
                    "modality": modality,
                    "score": round(score, 4),
                    "threshold": round(threshold, 4),
                },
            ),
            review_policy(),
        )
        audit(
            session,
            actor=actor,
            action="cameo.suspend",
            subject=cameo.id,
            reason=reason,
            details={"protected_person": person.id, "case_id": case.id},
        )
        suspended.append(
            SuspendedCameo(
                cameo_id=cameo.id,
                modality=modality,
                score=round(score, 4),
                threshold=round(threshold, 4),
                case_id=case.id,
            )
        )
    return suspended


def add_protected_person(
    name: str,
    note: str,
    models: LikenessModels,
    media: list[Path],
    actor: str,
    source: str = "api",
    licensed_user_ids: list[str] | None = None,
) -> ProtectedAdded:
    """A public figure's face (from photos) and/or voice (from a clip) for the likeness check."""
    faces, voices = [], []
    for path in media:
        item = load_media(
            path,
            max_seconds=get_settings().likeness_max_seconds,
            frames_per_second=1.0,
            max_frames=20,
        )
        analysis = analyse(item, models, with_age=False)
        if len({s.time for s in analysis.sightings}) != len(analysis.sightings):
            raise fail(
                RefusalKind.invalid, f"{path.name}: several faces; use photos of the person alone"
            )
        faces += [s.face.embedding for s in analysis.sightings]
        if analysis.voice is not None and item.audio is not None:
            voices.append(item.audio[: VOICE_SECONDS * 16_000])
    if not faces and not voices:
        raise fail(RefusalKind.invalid, "no face and no speech found in the media", code="no_face")
    if faces and len(cluster_identities(faces, models.face.match_threshold)) > 1:
        raise fail(
            RefusalKind.invalid, "the photos show more than one person", code="identity_changes"
        )
    voice = models.voice.enroll(voices) if voices else None
    person_id = new_id("ppl")
    with session_scope(write=True) as session:
        row = ProtectedPerson(
            id=person_id,
            name=name,
            note=note,
            face_model=models.face.name if faces else None,
            face_embedding=seal_vector(mean_unit(faces), person_id, "face_embedding")
            if faces
            else None,
            voice_model=models.voice.name if voice else None,
            voice_embedding=(
                seal_vector(voice.views.reshape(-1), person_id, "voice_embedding")
                if voice
                else None
            ),
            voice_views=voice.views.shape[0] if voice else 1,
            voice_utterances=voice.utterances if voice else 1,
            source=source,
            licensed_user_ids=sorted(set(licensed_user_ids or [])),
        )
        session.add(row)
        audit(
            session,
            actor=actor,
            action="protected.add",
            subject=person_id,
            reason=name,
            details={"source": source},
        )
        session.flush()
        suspended = recheck_cameos(session, row, models, actor)
        return ProtectedAdded(
            id=person_id, name=name, faces=len(faces), voices=len(voices), suspended=suspended
        )


class SeedReport(BaseModel):
    folder: str
    added: list[ProtectedAdded]
    already_seeded: list[str]
    failed: dict[str, str] = Field(description="Folder -> why it was not seeded")


def seed_protected_bank(root: Path, models: LikenessModels, actor: str) -> SeedReport:
    """Seeds the bank from the operator's folder: one sub-folder per person holding photos of
    them alone (.jpg .jpeg .png .webp), voice clips (.wav .mp3 .m4a .ogg .opus .flac, or videos)
    and optionally `person.json` ({"name": ..., "note": ...}; else the folder's name is the
    name). A folder is seeded once (its person keeps `source = seed:<folder>`); a folder that
    fails is reported and logged, never silently skipped."""
    report = SeedReport(folder=str(root), added=[], already_seeded=[], failed={})
    if not root.is_dir():
        report.failed[str(root)] = "not a folder"
        log.error("protected seed folder missing", extra={"folder": str(root)})
        return report
    with session_scope() as session:
        seeded = set(
            session.scalars(
                select(ProtectedPerson.source).where(ProtectedPerson.source.like("seed:%"))
            )
        )
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        source = f"seed:{folder.name}"
        if source in seeded:
            report.already_seeded.append(folder.name)
            continue
        try:
            meta = (
                json.loads((folder / "person.json").read_text("utf-8"))
                if (folder / "person.json").is_file()
                else {}
            )
            name = str(meta.get("name") or folder.name.replace("_", " "))
            media = sorted(
                p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES | CLIP_SUFFIXES
            )
            if not media:
                raise ValueError("no photos and no voice clips")
            added = add_protected_person(
                name, str(meta.get("note", "seeded")), models, media, actor, source=source
            )
            report.added.append(added)
        except Exception as exc:  # a bad folder must not stop the others; it is reported
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            report.failed[folder.name] = message
            log.error("protected seed failed", extra={"folder": folder.name, "error": message})
    return report
