"""The invisible watermarks as marks: spread spectrum in the video's luma and in the audio,
both carrying the output's 64-bit id (provenance/watermark/)."""

from __future__ import annotations

import numpy as np

from provenance.marks.base import Detection, Mark, MarkSource, Segment, VideoEmbedder
from provenance.watermark import audio as audio_wm
from provenance.watermark import video as video_wm
from safety.media import FrameTap

SOFT_BINDING_ALG = "com.cameoguard.sswm.v1"  # one id, spread in video luma and in audio


def _hex(identifier: int | None) -> str | None:
    return f"{identifier:016x}" if identifier is not None else None


class VideoWatermark(Mark):
    name = "video_watermark"
    soft_binding_alg = SOFT_BINDING_ALG

    def frame_tap(self) -> FrameTap:
        return video_wm.VideoWatermarkTap(self.key)

    def video_embedder(self, identifier: int, width: int, height: int) -> VideoEmbedder:
        pattern = video_wm.field_for(video_wm.chip_grid(self.key, identifier), height, width)
        return lambda luma, t: video_wm.mark_luma(luma, pattern, t)

    def detect(self, source: MarkSource) -> Detection:
        tap = source.taps.get(self.name)
        if not isinstance(tap, video_wm.VideoWatermarkTap) or tap.whole.n == 0:
            return Detection(self.name, checked=False, reason="no video frames to read")
        report = tap.report()
        whole = report.whole
        return Detection(
            self.name,
            checked=True,
            found=whole.found,
            id=_hex(whole.identifier),
            z=whole.z,
            threshold=video_wm.PRESENCE_Z,
            segments=tuple(
                Segment(s.start, s.end, s.found, _hex(s.identifier), s.z) for s in report.segments
            ),
            details={"frames": whole.frames, "crop": list(whole.crop)},
        )


class AudioWatermark(Mark):
    name = "audio_watermark"
    soft_binding_alg = SOFT_BINDING_ALG

    def embed_audio(self, samples: np.ndarray, rate: int, identifier: int) -> np.ndarray:
        return audio_wm.embed(samples, rate, self.key, identifier)

    def detect(self, source: MarkSource) -> Detection:
        if source.audio is None or source.audio.size == 0:
            return Detection(self.name, checked=False, reason="no audio")
        found = audio_wm.detect(source.audio, self.key)
        return Detection(
            self.name,
            checked=found.checked,
            found=found.found,
            id=_hex(found.identifier),
            z=round(found.sync_z, 2),
            threshold=audio_wm.PRESENCE_Z,
            reason=found.reason,
            details={"bit_margin": round(found.bit_margin, 2), "seconds": round(found.seconds, 2)},
        )
