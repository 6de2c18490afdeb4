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


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def speech(text: str, voice: str = "en-us", rate: int = 16_000) -> np.ndarray:
    """Speech synthesised by espeak-ng (a Debian package the setup installs), as float32 mono."""
    import io
    import subprocess

    import soundfile

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text], capture_output=True, check=True
    ).stdout
    samples, source_rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    if source_rate != rate:
        positions = np.arange(int(len(samples) * rate / source_rate)) * source_rate / rate
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    return samples


def make_selfie(
    path: Path,
    photos: list[Path],
    spoken: str | None,
    seconds: float = 4.0,
    voice: str = "en-us",
    size: tuple[int, int] = (480, 640),
    fps: int = 15,
    swap_at: float | None = None,
) -> Path:
    """An MP4 'selfie': each photo (switching to the next at `swap_at` seconds) letterboxed
    into the frame with a slow zoom and sway, and `spoken` said aloud (None: silence)."""
    from PIL import Image

    width, height = size
    bases = []
    for photo in photos:
        image = Image.open(photo).convert("RGB")
        scale = min(width / image.width, height / image.height)
        bases.append(image.resize((int(image.width * scale), int(image.height * scale))))
    audio = speech(spoken, voice) if spoken else np.zeros(int(seconds * 16_000), np.float32)
    seconds = max(seconds, len(audio) / 16_000 + 0.5)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        stream = out.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        for i in range(int(seconds * fps)):
            t = i / fps
            base = bases[1] if swap_at is not None and t >= swap_at and len(bases) > 1 else bases[0]
            zoom = 1.0 + 0.04 * np.sin(t)
            frame_image = base.resize((int(base.width * zoom), int(base.height * zoom)))
            canvas = Image.new("RGB", (width, height), (40, 40, 40))
            dx = int((width - frame_image.width) / 2 + 6 * np.sin(2 * t))
            dy = int((height - frame_image.height) / 2)
            canvas.paste(frame_image, (dx, dy))
            for packet in video.encode(av.VideoFrame.from_image(canvas)):
                out.mux(packet)
        padded = np.zeros(int(seconds * 16_000), np.float32)
        start = int(0.25 * 16_000)
        padded[start : start + len(audio)] = audio[: len(padded) - start]
        for offset in range(0, len(padded), 1024):
            frame = av.AudioFrame.from_ndarray(
                padded[None, offset : offset + 1024], format="flt", layout="mono"
            )
            frame.sample_rate = 16_000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
