"""The protected-people bank: people (public figures, those who asked) whose face or voice
must never be generated without a cameo of their own. An empty bank protects nobody."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from safety.analysis import analyse, cluster_identities, mean_unit
from safety.consent.errors import RefusalKind, fail, new_id
from safety.consent.models import LikenessModels
from safety.consent.sealing import seal_vector
from safety.consent.tables import ProtectedPerson
from safety.media import load_media

VOICE_SECONDS = 60  # of each clip, heard through every channel for the voice enrollment


class ProtectedAdded(BaseModel):
    id: str
    name: str
    faces: int = Field(description="Face samples taken from the photos")
    voices: int = Field(description="Voice samples taken from the clips")


def add_protected_person(
    name: str, note: str, models: LikenessModels, media: list[Path], actor: str
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
        )
        session.add(row)
        audit(session, actor=actor, action="protected.add", subject=person_id, reason=name)
        return ProtectedAdded(id=person_id, name=name, faces=len(faces), voices=len(voices))
