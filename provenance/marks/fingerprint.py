"""The perceptual fingerprint as a mark: PDQ hashes of one frame a second, matched against the
hashes our records keep of every output (it embeds nothing: the record is the other half)."""

from __future__ import annotations

from cameoguard.db import session_scope
from provenance import records
from provenance.fingerprint import MATCH_BITS, FingerprintTap, closest
from provenance.marks.base import Detection, Mark, MarkSource
from safety.media import FrameTap


class Fingerprint(Mark):
    name = "fingerprint"

    def frame_tap(self) -> FrameTap:
        return FingerprintTap()

    def detect(self, source: MarkSource) -> Detection:
        tap = source.taps.get(self.name)
        if not isinstance(tap, FingerprintTap) or not tap.hashes:
            return Detection(self.name, checked=False, reason="no video frames to fingerprint")
        with session_scope() as session:
            best = closest(tap.hashes, records.fingerprint_index(session), tap.mirrored)
        details: dict[str, object] = {"frames": len(tap.hashes), "threshold_bits": MATCH_BITS}
        if best is None:
            return Detection(self.name, checked=True, threshold=0.5, details=details)
        details |= {
            "matched_frames": best.matched_frames,
            "median_distance": best.median_distance,
            "mirrored": best.mirrored,
        }
        return Detection(
            self.name,
            checked=True,
            found=best.is_match,
            id=best.key,
            z=round(best.matched_frames / max(1, best.frames), 3),
            threshold=0.5,
            details=details,
        )
