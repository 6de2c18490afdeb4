"""The perceptual fingerprint as a mark: PDQ hashes of one frame a second, matched against the
hashes our records keep of every output (it embeds nothing: the record is the other half). A
video that matches no record as seen or mirrored is searched for a crop
(provenance.crop_search) against the records' region hashes, when its tap kept the frames: the
auditor's verification does (`verify._decode_for_marks`); the feed does not (the search costs
0.2-0.5 CPU-s a video that matched nothing, and a cropped copy of our output still carries the
watermark)."""

from __future__ import annotations

from cameoguard.db import session_scope
from provenance import crop_search, records
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
            index = records.fingerprint_index(session)
        best = closest(tap.hashes, index, tap.mirrored)
        details: dict[str, object] = {"frames": len(tap.hashes), "threshold_bits": MATCH_BITS}
        if best is None or not best.is_match:
            cropped = crop_search.search(tap.frames, index)
            if cropped is not None and cropped.is_match:
                details |= {
                    "matched_frames": cropped.matched_frames,
                    "median_distance": cropped.median_distance,
                    "mirrored": False,
                    "crop": list(cropped.crop),
                    "threshold_bits": crop_search.MATCH_BITS,
                }
                return Detection(
                    self.name,
                    checked=True,
                    found=True,
                    id=cropped.key,
                    z=round(cropped.matched_frames / max(1, cropped.frames), 3),
                    threshold=0.5,
                    details=details,
                )
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
