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
from PIL import Image

MATCH_BITS = 31
SAMPLE_EVERY_S = 1.0  # a query's frames
RECORD_EVERY_S = 0.25  # an output's frames on record
MIN_QUALITY = 50  # PDQ's own advice: hashes of lower quality are not worth matching
HASH_WIDTH = 512  # frames are downscaled first: PDQ looks at 64x64 luminance anyway
# PDQ does not survive cropping (a 5% crop moves a hash by 40-90 bits). A record therefore also
# keeps, every REGION_EVERY_S, the hashes of REGIONS of the frame: windows of REGION_SIDE of each
# side, one centred and four offset diagonally by 4%. A cropped copy (up to ~13%) still shows
# one of them whole; provenance.crop_search guesses the crop and hashes that window again.
REGION_EVERY_S = 0.5
REGION_SIDE = 0.76
REGIONS = ((0, 0), (-4, -4), (4, -4), (-4, 4), (4, 4))  # offsets from the centre, % of a side
KEEP_FRAMES_S = 30.0  # a query's frames kept for the crop search: its first 30 s
KEEP_WIDTH = 320
REGION_PIXELS = 128  # a region is resampled to 128x128 before PDQ (which reads 64x64 anyway)


def region_tag(dx: int, dy: int) -> str:
    """The tag of a region on record, e.g. `r76-4+4` (offset -4% across, +4% down)."""
    return f"r{round(REGION_SIDE * 100)}{dx:+d}{dy:+d}"


def region_box(dx: int, dy: int) -> tuple[float, float]:
    """The region's top-left corner as shares of the width and height."""
    margin = (1 - REGION_SIDE) / 2
    return margin + dx / 100, margin + dy / 100


def box_hash(image: Image.Image, box: tuple[float, float, float, float]) -> tuple[str, int]:
    """The PDQ hash (and quality) of `box` (left, top, right, bottom in pixels, fractional) of
    an image, resampled to REGION_PIXELS square: the same on record and at query time."""
    size = (REGION_PIXELS, REGION_PIXELS)
    return pdq_hex(np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=box)))


def region_hashes(rgb: np.ndarray, t: float) -> list[str]:
    """The tagged hashes of the frame's REGIONS at time `t` (`r76-4+4@2.5:<hex>`), those of
    enough detail."""
    image = Image.fromarray(rgb)
    width, height = image.size
    found = []
    for dx, dy in REGIONS:
        left, top = region_box(dx, dy)
        box = (
            left * width,
            top * height,
            (left + REGION_SIDE) * width,
            (top + REGION_SIDE) * height,
        )
        digest, quality = box_hash(image, box)
        if quality >= MIN_QUALITY:
            found.append(f"{region_tag(dx, dy)}@{t:.2f}:{digest}")
    return found


def parse_region(entry: str) -> tuple[str, float, str] | None:
    """A record entry written by `region_hashes` as (tag, time, hex); None for a whole-frame
    hash."""
    if ":" not in entry:
        return None
    label, digest = entry.split(":", 1)
    tag, _, at = label.partition("@")
    return tag, float(at or 0.0), digest


def plain_hashes(hashes: list[str]) -> list[str]:
    """A record's whole-frame hashes (its region hashes, tagged, left out)."""
    return [h for h in hashes if ":" not in h]


def pdq_hex(rgb: np.ndarray) -> tuple[str, int]:
    """The PDQ hash of an RGB image as 64 hex digits, and its quality (0-100)."""
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def downscaled(rgb: np.ndarray, width: int = HASH_WIDTH) -> np.ndarray:
    """An image no wider than `width` (what the frame taps hash), for stills and crops."""
    height, wide = rgb.shape[:2]
    if wide <= width:
        return rgb
    size = (width, max(2, round(height * width / wide)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


class FingerprintTap:
    """PDQ hashes of one frame per `every` seconds of a decode pass, in time order (frames of
    too little detail left out), and with `mirrored` the hashes of the same frames flipped.
    With `regions` (an output's record) the tagged region hashes every REGION_EVERY_S follow;
    with `keep_frames` (a query) small copies of the sampled frames of the first
    KEEP_FRAMES_S seconds are kept for the crop search."""

    every_frame = False
    done = False

    def __init__(
        self,
        every: float = SAMPLE_EVERY_S,
        mirrored: bool = True,
        regions: bool = False,
        keep_frames: bool = False,
    ) -> None:
        self.hashes: list[str] = []
        self.mirrored: list[str] = []
        self.frames: list[tuple[float, np.ndarray]] = []  # (time, RGB <= KEEP_WIDTH wide)
        self.every, self.with_mirror = every, mirrored
        self.with_regions, self.keep_frames = regions, keep_frames
        self._next = 0.0
        self._next_regions = 0.0

    def take(self, frame: av.VideoFrame, t: float) -> None:
        if t + 1e-6 < self._next:
            return
        self._next = t + self.every
        width = min(HASH_WIDTH, frame.width)
        height = max(2, round(frame.height * width / frame.width))
        rgb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
        if self.take_image(rgb) and self.keep_frames and t < KEEP_FRAMES_S:
            self.frames.append((t, downscaled(rgb, KEEP_WIDTH)))
        if self.with_regions and t + 1e-6 >= self._next_regions:
            self._next_regions = t + REGION_EVERY_S
            self.hashes.extend(region_hashes(rgb, t))

    def take_image(self, rgb: np.ndarray) -> bool:
        """One still (a screenshot, a photo), or a decoded frame; False if it has too little
        detail to hash."""
        digest, quality = pdq_hex(downscaled(rgb))
        if quality < MIN_QUALITY:
            return False
        self.hashes.append(digest)
        if self.with_mirror:
            self.mirrored.append(pdq_hex(downscaled(rgb)[:, ::-1])[0])
        return True


def fingerprint_video(
    path: Path,
    max_seconds: float = 600.0,
    max_pixels: int | None = None,
    every: float = RECORD_EVERY_S,
) -> list[str]:
    """An output's record: hex PDQ hashes of one frame per `every` seconds (every 0.25 s) and,
    tagged, of its REGIONS every REGION_EVERY_S, in time order; reading stops after
    `max_seconds` (past `max_pixels` decoded, keyframes only)."""
    from safety.media import decode_video, default_limits

    limits = default_limits(math.inf)
    if max_pixels is not None:
        limits = replace(limits, max_decode_pixels=max_pixels)
    tap = FingerprintTap(every=every, mirrored=False, regions=True)
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

    def beats(self, other: FingerprintMatch | None) -> bool:
        """The better of two candidates: more frames matched, then the closer median."""
        return other is None or (self.matched_frames, -self.median_distance) > (
            other.matched_frames,
            -other.median_distance,
        )


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
    for key, every in candidates.items():
        hashes = plain_hashes(every)
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
            if match.beats(best):
                best = match
    return best
