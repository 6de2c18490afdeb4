"""Real MP4 clips for tests and benchmarks: moving, textured procedural scenes with a soundtrack,
encoded with PyAV (H.264 + AAC), and the re-upload attacks applied to them."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_clip(
    path: Path,
    seconds: float = 10.0,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    seed: int = 0,
    crf: int = 16,
) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    texture = np.kron(texture, np.ones((8, 8), np.float32))[:height, :width]
    hue = rng.uniform(0, 2 * np.pi, 3)
    blobs = rng.uniform([0, 0, 20], [width, height, 80], (6, 3))
    velocity = rng.uniform(-60, 60, (6, 2))
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": "veryfast"}
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "mono"
        for i in range(int(seconds * fps)):
            t = i / fps
            base = 110 + 60 * np.sin(xx / width * 3 + t * 0.7 + hue[0]) * np.cos(
                yy / height * 2 + hue[1]
            )
            frame = base + 18 * texture
            for (bx, by, r), (vx, vy) in zip(blobs, velocity, strict=True):
                cx, cy = (bx + vx * t) % width, (by + vy * t) % height
                frame += 70 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
            gray = np.clip(frame, 0, 255).astype(np.uint8)
            rgb = np.stack([gray, np.roll(gray, 7, axis=1), 255 - gray // 2], axis=-1)
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        sr = 48000
        n = int(seconds * sr)
        t = np.arange(n) / sr
        tone = 0.15 * np.sin(2 * np.pi * (220 + 40 * np.sin(2 * np.pi * 0.3 * t)) * t)
        noise = 0.05 * rng.normal(0, 1, n)
        signal = (tone + noise).astype(np.float32)
        for start in range(0, n, 1024):
            chunk = signal[start : start + 1024]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            frame.sample_rate = sr
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def transcode(
    src: Path,
    dst: Path,
    *,
    crf: int = 23,
    height: int | None = None,
    fps: float | None = None,
    crop: float = 0.0,
    brightness: float = 0.0,
    contrast: float = 1.0,
    audio_codec: str = "aac",
    audio_bitrate: int = 64_000,
) -> Path:
    """What a re-upload does: decode, optional crop (fraction removed per side pair), rescale,
    frame-rate change, brightness/contrast, then H.264 at `crf` and lossy audio."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        cw, ch = int(w0 * (1 - crop)) // 2 * 2, int(h0 * (1 - crop)) // 2 * 2
        x0, y0 = (w0 - cw) // 3, (h0 - ch) // 3  # off-centre crop
        out_h = height or ch
        out_w = round(cw * out_h / ch / 2) * 2
        rate = fps or float(vin.average_rate or 25)
        vout = out.add_stream("libx264", rate=round(rate))
        vout.width, vout.height, vout.pix_fmt = out_w, out_h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        ain = inp.streams.audio[0] if inp.streams.audio else None
        aout = None
        if ain is not None:
            aout = out.add_stream(audio_codec, rate=ain.codec_context.sample_rate)
            aout.layout = "mono"
            aout.bit_rate = audio_bitrate
        next_t = 0.0
        for packet in inp.demux(*([vin] + ([ain] if ain else []))):
            for frame in packet.decode():
                if packet.stream.type == "video":
                    t = float(frame.time or 0)
                    if t + 1e-6 < next_t:
                        continue  # frame-rate change: drop frames not due yet
                    next_t += 1.0 / rate
                    rgb = frame.to_ndarray(format="rgb24")[y0 : y0 + ch, x0 : x0 + cw]
                    rgb = np.clip(rgb.astype(np.float32) * contrast + brightness, 0, 255)
                    image = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
                    image = image.reformat(width=out_w, height=out_h)
                    for p in vout.encode(image):
                        out.mux(p)
                elif aout is not None:
                    frame.pts = None
                    for p in aout.encode(frame):
                        out.mux(p)
        for p in vout.encode():
            out.mux(p)
        if aout is not None:
            for p in aout.encode():
                out.mux(p)
    return dst
