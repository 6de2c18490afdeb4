"""Marking a rendered clip: the visible mark and the invisible watermarks, written as one new
H.264 + AAC MP4. (C2PA signing comes after this, as the very last step.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from provenance.visible_mark import MarkRenderer
from provenance.watermark import video as video_wm


@dataclass(frozen=True)
class MarkResult:
    frames: int
    seconds: float
    width: int
    height: int


def mark_file(
    src: Path,
    dst: Path,
    key: bytes,
    identifier: int,
    crf: int = 18,
    visible_text: str | None = None,
) -> MarkResult:
    """Re-encodes `src` into `dst`: first the visible mark (`visible_text`, when given), then
    the invisible video watermark carrying `identifier`."""
    grid = video_wm.chip_grid(key, identifier)
    frames = 0
    last_t = 0.0
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        ain = inp.streams.audio[0] if inp.streams.audio else None
        aout = None
        if ain is not None:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48000)
            aout.layout = ain.codec_context.layout.name if ain.codec_context.layout else "mono"
        pattern = video_wm.field_for(grid, vout.height, vout.width)
        badge = MarkRenderer.build(visible_text, vout.width, vout.height) if visible_text else None
        streams = [vin] + ([ain] if ain is not None else [])
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    t = float(frame.time or 0.0)
                    if badge is not None:
                        rgb = badge.apply(frame.to_ndarray(format="rgb24"), t)
                        frame_in = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                        planes = frame_in.reformat(format="yuv420p").to_ndarray()
                    else:
                        planes = frame.to_ndarray(format="yuv420p")
                    planes[: vout.height] = video_wm.mark_luma(planes[: vout.height], pattern, t)
                    marked = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                    marked.pts = frame.pts
                    marked.time_base = frame.time_base
                    for out_packet in vout.encode(marked):
                        out.mux(out_packet)
                    frames += 1
                    last_t = max(last_t, t)
                elif aout is not None:
                    frame.pts = None
                    for out_packet in aout.encode(frame):
                        out.mux(out_packet)
        for out_packet in vout.encode():
            out.mux(out_packet)
        if aout is not None:
            for out_packet in aout.encode():
                out.mux(out_packet)
    return MarkResult(frames, last_t, vout.width, vout.height)
