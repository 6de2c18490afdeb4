"""Perceptual fingerprints: PDQ hashes (256 bits) of video frames. A copy that lost both its
manifest and its watermark (screen capture, heavy edit) can still be matched to its record.

An output's record keeps a hash every RECORD_EVERY_S (0.25 s): an excerpt cut anywhere, or a
screenshot of any moment, has its frames within 0.125 s of one on record. A query samples one
frame a second, and hashes each frame as seen and mirrored (a horizontal flip is the commonest
re-upload evasion after re-encoding). Frames of too little detail for PDQ (quality under
MIN_QUALITY: flat or black frames, which collide with each other) are left out on both sides.

Two frames match when their PDQ hashes differ in at most MATCH_BITS of 256 bits (the threshold
Meta's PDQ documentation gives for near-duplicates); a clip matches a record when at least half
of its sampled frames match one of that record's frames in the same orientation (a still image
is a one-frame clip). The audio plays no part: a copy without sound matches the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
import pdqhash

MATCH_BITS = 31
SAMPLE_EVERY_S = 1.0  # a query's frames
RECORD_EVERY_S = 0.25  # an output's frames on record
MIN_QUALITY = 50  # PDQ's own advice: hashes of lower quality are not worth matching
HASH_WIDTH = 512  # frames are downscaled first: PDQ looks at 64x64 luminance anyway
# PDQ does not survive cropping (a 5% crop moves a hash by 40-90 bits), so a record also keeps,
# once a second, the hashes of the frame cropped by each fraction at each placement: a cropped
# re-upload then lands near one of them. 3 fractions x 4 x 4 placements = 48 hashes a second.
CROP_FRACTIONS = (0.05, 0.10, 0.15)
CROP_PLACES = (0.0, 1 / 3, 2 / 3, 1.0)
CROP_WIDTH = 160  # crops are hashed from a small copy: PDQ reads 64x64 anyway


def pdq_hex(rgb: np.ndarray) -> tuple[str, int]:
    """The PDQ hash of an RGB image as 64 hex digits, and its quality (0-100)."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def downscaled(rgb: np.ndarray, width: int = HASH_WIDTH) -> np.ndarray:
    """An image no wider than `width` (what the frame taps hash), for stills and crops."""
    height, wide = rgb.shape[:2]
    if wide <= width:
        return rgb
    from PIL import Image

    size = (width, max(2, round(height * width / wide)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def crop_hashes(rgb: np.ndarray) -> list[str]:
    """The hashes of the frame cropped by each CROP_FRACTIONS at each CROP_PLACES (top-left
    corner as a share of the margin), those of enough detail."""
    small = downscaled(rgb, CROP_WIDTH)
    height, width = small.shape[:2]
    found = []
    for fraction in CROP_FRACTIONS:
        ch, cw = round(height * (1 - fraction)), round(width * (1 - fraction))
        for fy in CROP_PLACES:
            for fx in CROP_PLACES:
                y, x = round((height - ch) * fy), round((width - cw) * fx)
                digest, quality = pdq_hex(small[y : y + ch, x : x + cw])
                if quality >= MIN_QUALITY:
                    found.append(digest)
    return found


class FingerprintTap:
    """PDQ hashes of one frame per `every` seconds of a decode pass, in time order (frames of
    too little detail left out), and with `mirrored` the hashes of the same frames flipped."""

    every_frame = False
    done = False

    def __init__(
        self, every: float = SAMPLE_EVERY_S, mirrored: bool = True, crops: bool = False
    ) -> None:
        self.hashes: list[str] = []
        self.mirrored: list[str] = []
        self.every, self.with_mirror, self.with_crops = every, mirrored, crops
        self._next = 0.0
        self._next_crops = 0.0

    def take(self, frame: av.VideoFrame, t: float) -> None:
        if t + 1e-6 < self._next:
            return
        self._next = t + self.every
        width = min(HASH_WIDTH, frame.width)
        height = max(2, round(frame.height * width / frame.width))
        rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
        self.take_image(rgb)
        if self.with_crops and t + 1e-6 >= self._next_crops:
            self._next_crops = t + 1.0
            self.hashes.extend(crop_hashes(rgb))

    def take_image(self, rgb: np.ndarray) -> None:
        """One still (a screenshot, a photo), or a decoded frame."""
        digest, quality = pdq_hex(downscaled(rgb))
        if quality < MIN_QUALITY:
            return
        self.hashes.append(digest)
        if self.with_mirror:
            self.mirrored.append(pdq_hex(downscaled(rgb)[:, ::-1])[0])


def fingerprint_video(
    path: Path,
    max_seconds: float = 600.0,
    max_pixels: int | None = None,
    every: float = RECORD_EVERY_S,
) -> list[str]:
    """Hex PDQ hashes of one frame per `every` seconds (an output's record: every 0.25 s) and,
    once a second, of its crops (CROP_FRACTIONS), in time order; reading stops after
    `max_seconds` (past `max_pixels` decoded, keyframes only)."""
    from safety.media import decode_video, default_limits

    limits = default_limits(math.inf)
    if max_pixels is not None:
        limits = replace(limits, max_decode_pixels=max_pixels)
    tap = FingerprintTap(every=every, mirrored=False, crops=True)
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
    mirrored: bool = False  # the query matched as a horizontal flip of the record

    @property
    def is_match(self) -> bool:
        return self.frames > 0 and self.matched_frames * 2 >= self.frames


def nearest_distances(query: list[str], hashes: list[str]) -> np.ndarray:
    """For each query hash, its Hamming distance to the closest of `hashes`."""
    q, c = _matrix(query), _matrix(hashes)
    return np.unpackbits(q[:, None, :] ^ c[None, :, :], axis=2).sum(axis=2).min(axis=1)


def closest(
    query: list[str], candidates: dict[str, list[str]], mirrored: list[str] | None = None
) -> FingerprintMatch | None:
    """The candidate (record key -> its hashes) most frames of `query` are close to, as seen or
    (with `mirrored`, the query's flipped hashes) as a mirror image."""
    if not query or not candidates:
        return None
    orientations = [(False, query)] + ([(True, mirrored)] if mirrored else [])
    best: FingerprintMatch | None = None
    for key, hashes in candidates.items():
        if not hashes:
            continue
        for flipped, frames in orientations:
            nearest = nearest_distances(frames, hashes)
            match = FingerprintMatch(
                key=key,
                matched_frames=int((nearest <= MATCH_BITS).sum()),
                frames=len(frames),
                median_distance=float(np.median(nearest)),
                mirrored=flipped,
            )
            if best is None or (match.matched_frames, -match.median_distance) > (
                best.matched_frames,
                -best.median_distance,
            ):
                best = match
    return best
