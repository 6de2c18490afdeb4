"""The marks our outputs carry, one line each; marking, verification and the manifest's
soft-binding assertions loop over them."""

from __future__ import annotations

from provenance.marks.base import Mark
from provenance.marks.fingerprint import Fingerprint
from provenance.marks.watermarks import AudioWatermark, VideoWatermark

MARKS: tuple[type[Mark], ...] = (VideoWatermark, AudioWatermark, Fingerprint)


def marks(key: bytes) -> list[Mark]:
    return [mark(key) for mark in MARKS]
