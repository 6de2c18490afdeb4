"""The watermark payload: a 64-bit id followed by a CRC-16 (80 bits), and its soft decoder.

Decoding takes one soft value per bit (positive means 1). When the hard decision fails the CRC,
the decoder flips combinations of the least reliable bits (Chase decoding) and accepts the first
word whose CRC matches. The CRC stops wrong ids; the caller's presence test stops unmarked media.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

ID_BITS = 64
CRC_BITS = 16
PAYLOAD_BITS = ID_BITS + CRC_BITS
CHASE_BITS = 8  # up to 2^8 flip patterns of the 8 weakest bits


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def encode(identifier: int) -> np.ndarray:
    """80 bits (0/1) for a 64-bit id."""
    if not 0 <= identifier < 2**ID_BITS:
        raise ValueError("watermark id must fit in 64 bits")
    raw = identifier.to_bytes(8, "big")
    word = (identifier << CRC_BITS) | crc16(raw)
    return np.array([(word >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], np.int8)


def _word(bits: np.ndarray) -> tuple[int, int]:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value >> CRC_BITS, value & 0xFFFF


@dataclass(frozen=True)
class Decoded:
    identifier: int | None  # None when no word passes the CRC
    flipped: int  # how many weak bits Chase decoding had to flip
    bit_margin: float  # mean |soft value| / std: how clear the bits were


def decode(soft: np.ndarray) -> Decoded:
    if soft.shape != (PAYLOAD_BITS,):
        raise ValueError(f"need {PAYLOAD_BITS} soft values")
    scale = float(np.std(soft)) or 1.0
    margin = float(np.mean(np.abs(soft)) / scale)
    hard = (soft > 0).astype(np.int8)
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    for count in range(CHASE_BITS + 1):
        for flips in itertools.combinations(weakest, count):
            trial = hard.copy()
            trial[list(flips)] ^= 1
            identifier, crc = _word(trial)
            if crc16(identifier.to_bytes(8, "big")) == crc:
                return Decoded(identifier, count, margin)
    return Decoded(None, 0, margin)
