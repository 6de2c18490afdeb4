"""Invisible video watermark: keyed spread spectrum in luma, accumulated over time.

Embedding. The frame is divided into a 48x27 grid of cells in normalised coordinates (so the
grid survives any rescaling). Each cell carries a keyed chip (+1/-1): 336 cells are sync cells,
the others carry the 80 payload bits (about 12 cells each, chip times bit sign). The chip grid is
upsampled smoothly to the frame size and added to luma with a slow sinusoidal envelope in time,
AMPLITUDE * sin(2 pi t / PERIOD_S), t being the frame's presentation time.

Detection. Luma at 192x108 is demodulated in quadrature over time (sums of sin and cos of
2 pi t / PERIOD_S): static content cancels, and the phase (any trim or frame-rate change) does not
matter. Crop hypotheses (up to 10% off each side) are scored by the sync cells; the best one gives
the carrier phase, each cell's soft value, and the 80 soft bits that the payload decoder reads.
The sync correlation, in units of the noise measured on the orthogonal (watermark-free)
quadrature, is the presence test.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import av
import numpy as np
from scipy import ndimage

from provenance.watermark.payload import PAYLOAD_BITS, Decoded, decode, encode

GRID_W, GRID_H = 48, 27
SYNC_CELLS = 336
PERIOD_S = 2.0
AMPLITUDE = 2.0  # luma levels (of 255), peak
ANALYSIS_W, ANALYSIS_H = 192, 108
PRESENCE_Z = 15.0  # sync z needed for presence (unmarked clips reached 9.9; marked, 29.9+)
SEGMENT_S = 5.0


@dataclass(frozen=True)
class Layout:
    chips: np.ndarray  # (GRID_H, GRID_W) of +1/-1
    slots: np.ndarray  # (GRID_H, GRID_W): -1 for sync, else the payload bit index


def layout(key: bytes) -> Layout:
    seed = int.from_bytes(hashlib.sha256(key + b"/video-layout").digest()[:8], "big")
    rng = np.random.default_rng(seed)
    cells = GRID_W * GRID_H
    chips = rng.choice(np.array([-1, 1], np.int8), size=cells)
    order = rng.permutation(cells)
    slots = np.empty(cells, np.int32)
    slots[order[:SYNC_CELLS]] = -1
    slots[order[SYNC_CELLS:]] = np.arange(cells - SYNC_CELLS) % PAYLOAD_BITS
    return Layout(chips.reshape(GRID_H, GRID_W), slots.reshape(GRID_H, GRID_W))


def chip_grid(key: bytes, identifier: int) -> np.ndarray:
    lay = layout(key)
    signs = encode(identifier).astype(np.int8) * 2 - 1
    values = np.where(lay.slots < 0, 1, signs[np.clip(lay.slots, 0, None)])
    return (lay.chips * values).astype(np.float32)


def field_for(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """The chip grid upsampled smoothly (cubic) to a frame of `height` x `width`."""
    zoomed = ndimage.zoom(
        grid, (height / GRID_H, width / GRID_W), order=3, mode="grid-mirror", grid_mode=True
    )
    out = np.zeros((height, width), np.float32)
    h, w = min(height, zoomed.shape[0]), min(width, zoomed.shape[1])
    out[:h, :w] = zoomed[:h, :w]
    return out


def envelope(t: float) -> float:
    return float(np.sin(2 * np.pi * t / PERIOD_S))


def mark_luma(y: np.ndarray, pattern: np.ndarray, t: float) -> np.ndarray:
    """Adds the watermark to one frame's luma plane (uint8 in, uint8 out)."""
    marked = y.astype(np.float32) + AMPLITUDE * envelope(t) * pattern
    return np.clip(np.rint(marked), 0, 255).astype(np.uint8)


# --- detection -----------------------------------------------------------------------------


@dataclass
class _Accumulator:
    s_sin: np.ndarray = field(default_factory=lambda: np.zeros((ANALYSIS_H, ANALYSIS_W)))
    s_cos: np.ndarray = field(default_factory=lambda: np.zeros((ANALYSIS_H, ANALYSIS_W)))
    s_y: np.ndarray = field(default_factory=lambda: np.zeros((ANALYSIS_H, ANALYSIS_W)))
    w_sin: float = 0.0
    w_cos: float = 0.0
    n: int = 0

    def add(self, y: np.ndarray, t: float) -> None:
        s, c = np.sin(2 * np.pi * t / PERIOD_S), np.cos(2 * np.pi * t / PERIOD_S)
        self.s_sin += s * y
        self.s_cos += c * y
        self.s_y += y
        self.w_sin += s
        self.w_cos += c
        self.n += 1

    def quadrature(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.s_y / max(self.n, 1)
        i = self.s_sin - self.w_sin * mean
        q = self.s_cos - self.w_cos * mean
        # Remove what is left of the picture's large shapes; the chips live at cell scale.
        i = i - ndimage.gaussian_filter(i, 6)
        q = q - ndimage.gaussian_filter(q, 6)
        return i, q


def _crop_offsets() -> list[tuple[float, float]]:
    hypotheses = [(0.0, 1.0)]
    for width in (0.95, 0.9):
        for offset in np.arange(0.0, 1.0 - width + 1e-9, 0.01):
            hypotheses.append((float(offset), width))
    return hypotheses


_HYPOTHESES = _crop_offsets()


def _cell_index(offset: float, width: float, n: int, cells: int) -> np.ndarray:
    coords = offset + (np.arange(n) + 0.5) / n * width
    return np.clip((coords * cells).astype(np.int32), 0, cells - 1)


@dataclass(frozen=True)
class VideoDetection:
    found: bool
    identifier: int | None
    z: float  # sync correlation in noise units (presence test)
    bit_margin: float
    crop: tuple[float, float, float, float]  # x0, width, y0, height of the best hypothesis
    frames: int
    start: float = 0.0
    end: float = 0.0
    soft_bits: tuple[float, ...] = ()  # the 80 soft payload bits (for measurements)


def _decode(acc: _Accumulator, lay: Layout) -> VideoDetection:
    if acc.n < 3:
        return VideoDetection(False, None, 0.0, 0.0, (0, 1, 0, 1), acc.n)
    i_img, q_img = acc.quadrature()
    sync = np.where(lay.slots < 0, lay.chips, 0).astype(np.float64)
    cols = {h: _cell_index(h[0], h[1], ANALYSIS_W, GRID_W) for h in _HYPOTHESES}
    rows = {h: _cell_index(h[0], h[1], ANALYSIS_H, GRID_H) for h in _HYPOTHESES}
    best = (-1.0, _HYPOTHESES[0], _HYPOTHESES[0], 0.0)
    for hy in _HYPOTHESES:
        sync_rows = sync[rows[hy]]
        for hx in _HYPOTHESES:
            expected = sync_rows[:, cols[hx]]
            c = float(np.vdot(expected, i_img))
            d = float(np.vdot(expected, q_img))
            score = np.hypot(c, d) / (np.sqrt(float(np.vdot(expected, expected))) or 1.0)
            if score > best[0]:
                best = (score, hx, hy, np.arctan2(d, c))
    _, hx, hy, phase = best
    along = np.cos(phase) * i_img + np.sin(phase) * q_img
    across = -np.sin(phase) * i_img + np.cos(phase) * q_img
    cell = rows[hy][:, None] * GRID_W + cols[hx][None, :]
    counts = np.bincount(cell.ravel(), minlength=GRID_W * GRID_H)
    seen = counts > 0
    value = np.bincount(cell.ravel(), along.ravel(), GRID_W * GRID_H)
    noise = np.bincount(cell.ravel(), across.ravel(), GRID_W * GRID_H)
    value[seen] /= counts[seen]
    noise[seen] /= counts[seen]
    chips = lay.chips.ravel().astype(np.float64)
    slots = lay.slots.ravel()
    sigma = float(np.std(noise[seen])) or 1.0
    sync_cells = seen & (slots < 0)
    z = float(np.sum(chips[sync_cells] * value[sync_cells]) / (sigma * np.sqrt(sync_cells.sum())))
    soft = np.zeros(PAYLOAD_BITS)
    data = seen & (slots >= 0)
    np.add.at(soft, slots[data], chips[data] * value[data])
    decoded = decode(soft) if z >= PRESENCE_Z else Decoded(None, 0, 0.0)
    found = z >= PRESENCE_Z and decoded.identifier is not None
    return VideoDetection(
        found=found,
        identifier=decoded.identifier if found else None,
        z=round(z, 2),
        bit_margin=round(decoded.bit_margin, 2),
        crop=(hx[0], hx[1], hy[0], hy[1]),
        frames=acc.n,
        soft_bits=tuple(float(v) for v in soft),
    )


@dataclass(frozen=True)
class VideoReport:
    whole: VideoDetection
    segments: list[VideoDetection]


class VideoWatermarkTap:
    """Reads every frame of a decode pass (safety.media.decode_video) into the accumulators of
    the whole clip and of each SEGMENT_S segment; `report` decodes them."""

    every_frame = True
    done = False

    def __init__(self, key: bytes) -> None:
        self.layout = layout(key)
        self.whole = _Accumulator()
        self.segments: dict[int, _Accumulator] = {}
        self.last_t = 0.0

    def take(self, frame: av.VideoFrame, t: float) -> None:
        if frame.time is None:
            return
        y = frame.reformat(width=ANALYSIS_W, height=ANALYSIS_H, format="gray").to_ndarray()
        y = y.astype(np.float64)
        self.whole.add(y, t)
        self.segments.setdefault(int(t // SEGMENT_S), _Accumulator()).add(y, t)
        self.last_t = max(self.last_t, t)

    def report(self) -> VideoReport:
        """The detection in the whole clip and per segment (segments end at the last frame)."""
        per_segment = []
        for index in sorted(self.segments):
            detection = _decode(self.segments[index], self.layout)
            end = min((index + 1) * SEGMENT_S, round(self.last_t, 3))
            per_segment.append(
                VideoDetection(**{**detection.__dict__, "start": index * SEGMENT_S, "end": end})
            )
        return VideoReport(whole=_decode(self.whole, self.layout), segments=per_segment)


def detect_video(
    path: Path, key: bytes, max_seconds: float = 600.0, max_pixels: int | None = None
) -> VideoReport:
    """Looks for the watermark in the video stream of `path`, in the whole clip and in segments
    of SEGMENT_S seconds, reading every frame up to `max_pixels` decoded (the mark is in every
    frame: the first minutes suffice). Raises safety.media.MediaError on unreadable media."""
    from safety.media import decode_video, default_limits

    limits = default_limits(math.inf)
    if max_pixels is not None:
        limits = replace(limits, max_decode_pixels=max_pixels)
    tap = VideoWatermarkTap(key)
    decode_video(path, [tap], limits, until_s=max_seconds)
    return tap.report()
