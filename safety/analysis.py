"""What the face, age and voice models see in one piece of media."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from safety.consent.models import LikenessModels
from safety.media import Media
from safety.models.age import AgeEstimate
from safety.models.face import Face
from safety.models.voice import VoicePrint


@dataclass(frozen=True)
class FaceSighting:
    time: float
    face: Face
    age: AgeEstimate | None


@dataclass
class MediaAnalysis:
    frames_scanned: int
    sightings: list[FaceSighting]
    voice: VoicePrint | None
    speech_seconds: float
    audio_seconds: float

    def faces_per_frame(self) -> dict[float, int]:
        counts: dict[float, int] = {}
        for s in self.sightings:
            counts[s.time] = counts.get(s.time, 0) + 1
        return counts


def analyse(media: Media, models: LikenessModels, with_age: bool = True) -> MediaAnalysis:
    sightings: list[FaceSighting] = []
    for t, rgb in media.frames:
        faces = models.face.faces(rgb)
        ages: list[AgeEstimate | None] = [None] * len(faces)
        if with_age and faces:
            ages = list(models.age.estimate(rgb, [f.box for f in faces]))
        sightings.extend(FaceSighting(t, f, a) for f, a in zip(faces, ages, strict=True))
    voice, speech_seconds, audio_seconds = None, 0.0, 0.0
    if media.has_audio:
        assert media.audio is not None
        audio_seconds = media.audio.size / 16_000
        voice = models.voice.embed(media.audio)
        if voice is not None:
            speech_seconds = voice.speech_seconds
        else:  # too little speech to embed: still say how much there was
            speech_seconds = models.voice.speech(media.audio).size / 16_000
    return MediaAnalysis(len(media.frames), sightings, voice, speech_seconds, audio_seconds)


def cluster_identities(embeddings: list[np.ndarray], threshold: float) -> list[list[int]]:
    """Greedy clustering of unit face embeddings by cosine similarity to each cluster's mean:
    the distinct people seen across frames or photos."""
    clusters: list[list[int]] = []
    means: list[np.ndarray] = []
    for i, vector in enumerate(embeddings):
        best, best_score = -1, threshold
        for c, mean in enumerate(means):
            score = float(np.dot(mean / np.linalg.norm(mean), vector))
            if score >= best_score:
                best, best_score = c, score
        if best < 0:
            clusters.append([i])
            means.append(vector.astype(np.float64).copy())
        else:
            clusters[best].append(i)
            means[best] = means[best] + vector
    return clusters


def mean_unit(vectors: list[np.ndarray]) -> np.ndarray:
    mean = np.mean(np.stack(vectors), axis=0).astype(np.float32)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)
