"""Perceptual fingerprints: a PDQ hash (256 bits) of one frame per second. A copy that lost both
its manifest and its watermark (screen capture, heavy edit) can still be matched to its record.

Two frames match when their PDQ hashes differ in at most MATCH_BITS of 256 bits (the threshold
Meta's PDQ documentation gives for near-duplicates); a clip matches a record when at least half
of its sampled frames match one of that record's frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import pdqhash

MATCH_BITS = 31
SAMPLE_EVERY_S = 1.0
HASH_WIDTH = 512  # frames are downscaled first: PDQ looks at 64x64 luminance anyway


class FingerprintTap:
    """PDQ hashes of one frame per SAMPLE_EVERY_S seconds of a decode pass, in time order."""

    every_frame = False
    done = False

    def __init__(self) -> None:
        self.hashes: list[str] = []
        self._next = 0.0

    def take(self, frame: av.VideoFrame, t: float) -> None:
        if t + 1e-6 < self._next:
            return
        self._next = t + SAMPLE_EVERY_S
        width = min(HASH_WIDTH, frame.width)
        height = max(2, round(frame.height * width / frame.width))
        rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
        bits, _quality = pdqhash.compute(rgb)
        self.hashes.append(np.packbits(bits.astype(np.uint8)).tobytes().hex())


def fingerprint_video(
    path: Path, max_seconds: float = 600.0, max_pixels: int | None = None
) -> list[str]:
    """Hex PDQ hashes of one frame per SAMPLE_EVERY_S seconds, in time order; reading stops
    after `max_seconds` (past `max_pixels` decoded, keyframes only)."""
    from safety.media import decode_video, default_limits

    limits = default_limits(math.inf)
    if max_pixels is not None:
        limits = replace(limits, max_decode_pixels=max_pixels)
    tap = FingerprintTap()
    decode_video(path, [tap], limits, until_s=max_seconds)
    return tap.hashes


def _matrix(hashes: list[str]) -> np.ndarray:
    return np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h in hashes], np.uint8)


@dataclass(frozen=True)
class FingerprintMatch:
    key: str  # the record's watermark id
    matched_frames: int
    frames: int
    median_distance: float

    @property
    def is_match(self) -> bool:
        return self.frames > 0 and self.matched_frames * 2 >= self.frames


def closest(query: list[str], candidates: dict[str, list[str]]) -> FingerprintMatch | None:
    """The candidate (record key -> its hashes) most frames of `query` are close to."""
    if not query or not candidates:
        return None
    q = _matrix(query)
    best: FingerprintMatch | None = None
    for key, hashes in candidates.items():
        if not hashes:
            continue
        c = _matrix(hashes)
        distances = np.unpackbits(q[:, None, :] ^ c[None, :, :], axis=2).sum(axis=2)
        nearest = distances.min(axis=1)
        match = FingerprintMatch(
            key=key,
            matched_frames=int((nearest <= MATCH_BITS).sum()),
            frames=len(query),
            median_distance=float(np.median(nearest)),
        )
        if best is None or (match.matched_frames, -match.median_distance) > (
            best.matched_frames,
            -best.median_distance,
        ):
            best = match
    return best
