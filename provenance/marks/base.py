"""The shape every provenance mark has. A mark is something our output carries that can be
found again without its C2PA manifest: the invisible video watermark, the audio watermark, the
perceptual fingerprint kept in our records. Each mark

- may embed itself while the output is re-encoded (`video_embedder`, `embed_audio`),
- names its C2PA soft-binding algorithm, if it is one (the manifest lists them),
- reads what it needs of a media file's single decode pass (`frame_tap`, and the audio),
- and detects itself: `detect(source) -> Detection` (found, the id it carries, its statistic
  and threshold, per time segment).

Marking, verification and the soft-binding assertions loop over the registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from safety.media import FrameTap


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    found: bool
    id: str | None
    z: float


@dataclass(frozen=True)
class Detection:
    """What a mark found in one file. `id` is the 64-bit output id (16 hex digits) the mark
    carries or points to; `z` its statistic against `threshold` (a watermark's sync z, the
    share of a fingerprint's frames that match)."""

    mark: str
    checked: bool
    found: bool = False
    id: str | None = None
    z: float = 0.0
    threshold: float = 0.0
    segments: tuple[Segment, ...] = ()
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class MarkSource:
    """What detection reads of one file: the file, its audio (16 kHz mono, None without sound),
    and the frame taps of the marks after one decode pass (absent: no video was decoded)."""

    path: Path
    audio: np.ndarray | None
    taps: dict[str, FrameTap]


VideoEmbedder = Callable[[np.ndarray, float], np.ndarray]  # (Y plane rows, time) -> marked


class Mark(ABC):
    name: ClassVar[str]
    soft_binding_alg: ClassVar[str | None] = None  # C2PA soft-binding algorithm, if it is one

    def __init__(self, key: bytes) -> None:
        self.key = key

    def frame_tap(self) -> FrameTap | None:
        """A fresh reader of video frames for one decode pass, if the mark reads video."""
        return None

    def video_embedder(self, identifier: int, width: int, height: int) -> VideoEmbedder | None:
        """Marks the luma of each frame of a `width` x `height` video, if the mark embeds into
        video."""
        return None

    def embed_audio(self, samples: np.ndarray, rate: int, identifier: int) -> np.ndarray | None:
        """The samples (channels, n) marked, if the mark embeds into audio."""
        return None

    @abstractmethod
    def detect(self, source: MarkSource) -> Detection: ...
