"""The invisible audio watermark: keyed spread-spectrum gains on time-frequency tiles.

The spectrum from 400 to 3,800 Hz (where speech and most sound keep their energy, and what
64 kbit/s MP3 and AAC keep) is cut into BANDS log-spaced bands and time tiles of TILE_S seconds.
A block of TILES_PER_BLOCK tiles x BANDS bands holds SYNC_CELLS keyed sync chips and the 80-bit
payload (64-bit id + CRC-16), each bit on REPEAT cells; the block repeats through the clip. Each
cell's short-time spectrum is scaled by +-GAIN_DB (a multiplicative change, so it follows the
sound's own level and stays under it; silence carries nothing and is left silent).

The detector works at 16 kHz on the band log-energies, removes the slow envelope and the
broadband level per frame, folds the frames onto the block period, and tries every block phase
(the clip may start anywhere in a block, and codecs add delay). The phase with the strongest
sync correlation gives a z score (about N(0,1) per phase on unmarked audio) and the soft payload
bits, which the CRC/Chase decoder turns into an id. Both the z threshold and the CRC must pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import signal

from provenance.watermark import payload

RATE = 16_000  # detection rate
WINDOW_S = 0.064
HOP_S = 0.016
TILE_HOPS = 8  # a tile is 8 hops = 128 ms
TILE_S = TILE_HOPS * HOP_S
BANDS = 24
LOW_HZ, HIGH_HZ = 300.0, 7000.0
TILES_PER_BLOCK = 30  # a block is 3.84 s
CELLS = TILES_PER_BLOCK * BANDS  # 720
SYNC_CELLS = 240
REPEAT = 6  # 80 bits x 6 = 480 payload cells
GAIN_DB = 2.0
TREND_TILES = 5  # the envelope removed before correlation spans this many tiles
PRESENCE_Z = 6.0  # sync z needed for presence (plus a CRC match)
MIN_SECONDS = 3.0


@dataclass(frozen=True)
class AudioLayout:
    sync_cells: np.ndarray  # cell indices
    sync_chips: np.ndarray  # +-1
    bit_cells: np.ndarray  # (PAYLOAD_BITS, REPEAT) cell indices
    bit_chips: np.ndarray  # (PAYLOAD_BITS, REPEAT) +-1 (whitening of the payload)


def layout(key: bytes) -> AudioLayout:
    seed = int.from_bytes(hashlib.sha256(b"audio-wm-v1" + key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    order = rng.permutation(CELLS)
    sync = order[:SYNC_CELLS]
    bits = order[SYNC_CELLS : SYNC_CELLS + payload.PAYLOAD_BITS * REPEAT].reshape(
        payload.PAYLOAD_BITS, REPEAT
    )
    return AudioLayout(
        sync,
        rng.choice([-1.0, 1.0], SYNC_CELLS),
        bits,
        rng.choice([-1.0, 1.0], (payload.PAYLOAD_BITS, REPEAT)),
    )


def cell_signs(key: bytes, identifier: int) -> np.ndarray:
    """+-1 per cell of a block, shape (TILES_PER_BLOCK, BANDS)."""
    lay = layout(key)
    signs = np.zeros(CELLS)
    signs[lay.sync_cells] = lay.sync_chips
    bits = payload.encode(identifier).astype(np.float64) * 2 - 1
    signs[lay.bit_cells] = bits[:, None] * lay.bit_chips
    return signs.reshape(TILES_PER_BLOCK, BANDS)


def _band_edges(freqs: np.ndarray) -> list[np.ndarray]:
    edges = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
    return [(freqs >= lo) & (freqs < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def embed(samples: np.ndarray, rate: int, key: bytes, identifier: int) -> np.ndarray:
    """Marks float audio of shape (n,) or (channels, n) at `rate`; returns the same shape."""
    audio = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    nper = int(round(WINDOW_S * rate))
    hop = nper // 4  # 75% overlap, synthesis stays smooth
    freqs, times, spec = signal.stft(
        audio, fs=rate, window="hann", nperseg=nper, noverlap=nper - hop, boundary="even"
    )
    signs = cell_signs(key, identifier)
    tiles = np.floor(times / TILE_S).astype(np.int64) % TILES_PER_BLOCK
    gain = np.ones((len(freqs), len(times)))
    for band, mask in enumerate(_band_edges(freqs)):
        gain[mask, :] = 10 ** (GAIN_DB * signs[tiles, band] / 20)[None, :]
    # Smooth the gain over time (about 20 ms) so tile edges do not click.
    kernel = np.hanning(5)[1:-1]
    kernel /= kernel.sum()
    gain = signal.convolve(gain, kernel[None, :], mode="same")
    gain[:, :2], gain[:, -2:] = gain[:, 2:3], gain[:, -3:-2]
    _, marked = signal.istft(
        spec * gain[None], fs=rate, window="hann", nperseg=nper, noverlap=nper - hop,
        boundary=True,
    )  # fmt: skip
    marked = marked[:, : audio.shape[1]]
    if marked.shape[1] < audio.shape[1]:
        marked = np.pad(marked, ((0, 0), (0, audio.shape[1] - marked.shape[1])))
    marked = np.clip(marked, -1.0, 1.0).astype(np.float32)
    return marked[0] if np.ndim(samples) == 1 else marked


@dataclass(frozen=True)
class AudioDetection:
    checked: bool
    found: bool
    identifier: int | None
    sync_z: float
    bit_margin: float
    seconds: float
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "found": self.found,
            "id": f"{self.identifier:016x}" if self.identifier is not None else None,
            "sync_z": round(self.sync_z, 2),
            "bit_margin": round(self.bit_margin, 2),
            "seconds": round(self.seconds, 2),
            "reason": self.reason,
        }


def _band_levels(mono16k: np.ndarray) -> np.ndarray:
    nper = int(WINDOW_S * RATE)
    hop = int(HOP_S * RATE)
    freqs, _, spec = signal.stft(
        mono16k, fs=RATE, window="hann", nperseg=nper, noverlap=nper - hop, boundary=None
    )
    power = np.abs(spec) ** 2
    return np.stack([power[mask].sum(axis=0) for mask in _band_edges(freqs)], axis=1)


def detect(mono16k: np.ndarray, key: bytes) -> AudioDetection:
    """Looks for the watermark in 16 kHz mono float audio."""
    seconds = mono16k.size / RATE
    if seconds < MIN_SECONDS:
        return AudioDetection(True, False, None, 0.0, 0.0, seconds, "audio too short")
    levels = _band_levels(mono16k.astype(np.float64))  # frames x bands
    energy = levels.sum(axis=1)
    floor = max(float(np.percentile(energy, 95)) * 1e-4, 1e-10)
    active = energy > floor
    if active.sum() < TILE_HOPS * TILES_PER_BLOCK // 2:
        return AudioDetection(True, False, None, 0.0, 0.0, seconds, "too little sound")
    db = 10 * np.log10(levels + floor * 1e-3)
    # Remove the sound's own envelope: the slow trend per band, then the level per frame.
    width = TILE_HOPS * TREND_TILES
    trend = signal.convolve(db, np.ones((width, 1)) / width, mode="same")
    resid = db - trend
    resid -= resid.mean(axis=1, keepdims=True)
    resid[~active] = 0.0
    # Each band in units of its own spread, clipped: loud transients must not dominate.
    spread = np.median(np.abs(resid[active]), axis=0) * 1.4826 + 1e-6
    resid = np.clip(resid / spread, -2.5, 2.5)
    period = TILE_HOPS * TILES_PER_BLOCK
    n = (len(resid) // period) * period
    tail = len(resid) - n
    folded = resid[:n].reshape(-1, period, BANDS).sum(axis=0)
    counts = np.full(period, n // period, dtype=np.float64)
    if tail:
        folded[:tail] += resid[n:]
        counts[:tail] += 1
    lay = layout(key)
    best: tuple[float, np.ndarray] | None = None
    for phase in range(period):
        # Cell value: mean over the tile's hops, skipping the first and last (transitions).
        idx = (phase + np.arange(period)) % period
        f = folded[idx].reshape(TILES_PER_BLOCK, TILE_HOPS, BANDS)[:, 1:-1].sum(axis=1)
        cells = f.reshape(-1)
        sync = cells[lay.sync_cells] * lay.sync_chips
        scale = float(np.sqrt(np.sum(cells[lay.sync_cells] ** 2))) or 1.0
        z = float(sync.sum() / scale)
        if best is None or z > best[0]:
            best = (z, cells)
    assert best is not None
    z, cells = best
    soft = (cells[lay.bit_cells] * lay.bit_chips).sum(axis=1)
    decoded = payload.decode(soft)
    found = z >= PRESENCE_Z and decoded.identifier is not None
    reason = "" if found else ("no sync" if z < PRESENCE_Z else "sync found but no valid id")
    return AudioDetection(
        True, found, decoded.identifier if found else None, z, decoded.bit_margin, seconds, reason
    )
