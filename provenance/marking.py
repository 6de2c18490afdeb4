"""Marking a rendered clip: the visible mark, then every mark of the registry that embeds itself
(the invisible video and audio watermarks), written as one new H.264 + AAC MP4. (C2PA signing
comes after this, as the very last step.)"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from provenance.marks.base import Mark
from provenance.marks.registry import marks
from provenance.visible_mark import MarkRenderer


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
    every registered mark that embeds into video (on each frame's luma) or audio, all carrying
    `identifier`."""
    chosen = marks(key)
    audio, audio_rate, layout = _marked_audio(src, chosen, identifier)
    audio_at = 0  # samples of the marked audio already encoded
    frames = 0
    last_t = 0.0
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or 25
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
        vout.pix_fmt = "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        aout = None
        if audio is not None:
            aout = out.add_stream("aac", rate=audio_rate)
            aout.layout = layout
            aout.bit_rate = 128_000
        embedders = [
            e for m in chosen if (e := m.video_embedder(identifier, vout.width, vout.height))
        ]
        badge = MarkRenderer.build(visible_text, vout.width, vout.height) if visible_text else None
        for packet in inp.demux(vin):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    t = float(frame.time or 0.0)
                    if badge is not None:
                        rgb = badge.apply(frame.to_ndarray(format="rgb24"), t)
                        frame_in = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                        planes = frame_in.reformat(format="yuv420p").to_ndarray()
                    else:
                        planes = frame.to_ndarray(format="yuv420p")
                    for embed in embedders:
                        planes[: vout.height] = embed(planes[: vout.height], t)
                    marked = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                    marked.pts = frame.pts
                    marked.time_base = frame.time_base
                    for out_packet in vout.encode(marked):
                        out.mux(out_packet)
                    frames += 1
                    last_t = max(last_t, t)
                    if aout is not None and audio is not None:  # keep the streams interleaved
                        audio_at = encode_audio(out, aout, audio, audio_at, int(t * audio_rate))
        for out_packet in vout.encode():
            out.mux(out_packet)
        if aout is not None and audio is not None:
            encode_audio(out, aout, audio, audio_at, audio.shape[1])
            for out_packet in aout.encode():
                out.mux(out_packet)
    return MarkResult(frames, last_t, vout.width, vout.height)


def _marked_audio(
    src: Path, chosen: list[Mark], identifier: int
) -> tuple[np.ndarray | None, int, str]:
    """The source's whole audio track, decoded to float planar and marked."""
    with av.open(str(src)) as inp:
        if not inp.streams.audio:
            return None, 0, "mono"
        stream = inp.streams.audio[0]
        rate = stream.codec_context.sample_rate or 48_000
        layout = "stereo" if (stream.codec_context.channels or 1) >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [
            out.to_ndarray() for frame in inp.decode(stream) for out in resampler.resample(frame)
        ]
        chunks += [out.to_ndarray() for out in resampler.resample(None)]
    if not chunks:
        return None, 0, layout
    samples = np.concatenate(chunks, axis=1)
    for mark in chosen:
        marked = mark.embed_audio(samples, rate, identifier)
        samples = marked if marked is not None else samples
    return samples, rate, layout


def encode_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    audio: np.ndarray,
    start: int,
    end: int,
) -> int:
    """Encodes audio[:, start:end] in whole 1024-sample frames (the AAC frame size; only the
    track's last frame may be shorter); returns where it stopped."""
    total = audio.shape[1]
    end = min(end, total)
    while start < end and (start + 1024 <= end or end == total):
        stop = min(start + 1024, end)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(audio[:, start:stop], dtype=np.float32),
            format="fltp",
            layout=stream.layout.name,
        )
        frame.sample_rate = stream.rate
        for packet in stream.encode(frame):
            out.mux(packet)
        start = stop
    return start
