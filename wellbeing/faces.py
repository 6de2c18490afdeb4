"""Apparent age of the faces in a photo or video, for the selfie check and for
`cameoguard faces analyze`: the service's age model (safety.models.age) read on each face and
on its mirror image (the two readings averaged, a common test-time augmentation), and in a
video the readings of one person across frames combined (median, spread).

What is measured and what is not: we hold no age-labelled face photos we may use, so neither
the mirror averaging nor the multi-frame rule has a measured effect on accuracy. On five test
selfies (3-4 s, 11 frames) the mirror average did not reduce the frame-to-frame spread (standard
deviation 0.4-5.3 years against 0-4.6 for one reading); see the README."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safety.analysis import cluster_identities
from safety.consent.models import LikenessModels
from safety.media import Media, load_media

ADULT_AGE = 18


@dataclass(frozen=True)
class Reading:
    time: float
    box: tuple[int, int, int, int]
    age: float  # the mean of the face's and its mirror's apparent ages
    embedding: np.ndarray = field(repr=False, compare=False)


def mirrored_box(box: tuple[int, int, int, int], width: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    return (width - 1 - right, top, width - 1 - left, bottom)


def read_frame(rgb: np.ndarray, time: float, models: LikenessModels) -> list[Reading]:
    faces = models.face.faces(rgb)
    if not faces:
        return []
    boxes = [f.box for f in faces]
    ages = models.age.estimate(rgb, boxes)
    mirror = np.ascontiguousarray(rgb[:, ::-1])
    width = rgb.shape[1]
    flipped = models.age.estimate(mirror, [mirrored_box(b, width) for b in boxes])
    return [
        Reading(time, f.box, (a.years + m.years) / 2.0, f.embedding)
        for f, a, m in zip(faces, ages, flipped, strict=True)
    ]


def read_media(media: Media, models: LikenessModels) -> list[Reading]:
    readings: list[Reading] = []
    for t, rgb in media.frames:
        readings += read_frame(rgb, t, models)
    return readings


@dataclass(frozen=True)
class Person:
    """One person across the frames: their first box, their frames' ages and the combination."""

    box: tuple[int, int, int, int]
    ages: list[float]

    @property
    def median(self) -> float:
        return float(statistics.median(self.ages))

    @property
    def spread(self) -> float:
        """Half the interquartile range of the frames' ages (0 with fewer than 4 frames)."""
        if len(self.ages) < 4:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.ages, n=4)
        return float(q3 - q1) / 2.0

    @property
    def young_fraction(self) -> float:
        return sum(a < ADULT_AGE for a in self.ages) / len(self.ages)


def people(readings: list[Reading], threshold: float) -> list[Person]:
    """The distinct people in the readings (identity clusters), the most seen first."""
    if not readings:
        return []
    clusters = cluster_identities([r.embedding for r in readings], threshold)
    found = [
        Person(readings[c[0]].box, [readings[i].age for i in c])
        for c in sorted(clusters, key=len, reverse=True)
    ]
    return found


def analyse_path(
    path: Path, models: LikenessModels, *, max_seconds: float, fps: float, max_frames: int
) -> list[Person]:
    media = load_media(
        path,
        max_seconds=max_seconds,
        frames_per_second=fps,
        max_frames=max_frames,
        want_audio=False,
    )
    return people(read_media(media, models), models.face.match_threshold)
