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
    place: tuple[float, float] = (1 / 3, 1 / 3),
    mirror: bool = False,
    start: float = 0.0,
    seconds: float | None = None,
    keep_audio: bool = True,
) -> Path:
    """What a re-upload does: decode, optional crop (fraction removed per side pair, its top
    left corner at `place` of the margin), mirror, cut (`start`, `seconds`), rescale,
    frame-rate change, brightness/contrast, then H.264 at `crf` and lossy audio (unless
    `keep_audio` is False)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        vin = inp.streams.video[0]
        w0, h0 = vin.codec_context.width, vin.codec_context.height
        cw, ch = int(w0 * (1 - crop)) // 2 * 2, int(h0 * (1 - crop)) // 2 * 2
        x0, y0 = int((w0 - cw) * place[0]), int((h0 - ch) * place[1])  # off-centre by default
        out_h = height or ch
        out_w = round(cw * out_h / ch / 2) * 2
        rate = fps or float(vin.average_rate or 25)
        vout = out.add_stream("libx264", rate=round(rate))
        vout.width, vout.height, vout.pix_fmt = out_w, out_h, "yuv420p"
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        ain = inp.streams.audio[0] if inp.streams.audio and keep_audio else None
        aout = None
        if ain is not None:
            aout = out.add_stream(audio_codec, rate=ain.codec_context.sample_rate)
            aout.layout = "mono"
            aout.bit_rate = audio_bitrate
        next_t, end = start, start + seconds if seconds is not None else float("inf")
        for packet in inp.demux(*([vin] + ([ain] if ain else []))):
            for frame in packet.decode():
                t = float(frame.time or 0)
                if t < start - 1e-6 or t >= end:
                    continue
                if packet.stream.type == "video":
                    if t + 1e-6 < next_t:
                        continue  # frame-rate change: drop frames not due yet
                    next_t += 1.0 / rate
                    rgb = frame.to_ndarray(format="rgb24")[y0 : y0 + ch, x0 : x0 + cw]
                    rgb = rgb[:, ::-1] if mirror else rgb
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


def speech(text: str, voice: str = "en-us", rate: int = 16_000, speed: int = 150) -> np.ndarray:
    """Speech synthesised by espeak-ng (a Debian package the setup installs), as float32 mono;
    `speed` in words per minute."""
    import io
    import subprocess

    import soundfile

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
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
    talking: bool = False,
    soundtrack: np.ndarray | None = None,
    seed: int = 0,
    speed: int = 150,
) -> Path:
    """An MP4 'selfie': each photo (switching to the next at `swap_at` seconds) letterboxed
    into the frame with a slow zoom and sway, and `spoken` said aloud (None: silence).

    `talking` animates the face like a live speaker: the jaw opens with the speech's loudness
    and the eyes blink now and then (the photo's 68 dlib landmarks place the mouth, jaw and
    eyes). Without it the picture is a still photo moved as a whole. `soundtrack` (16 kHz mono)
    replaces the recorded audio while the face still mouths `spoken`: a dubbed video. `speed`
    is espeak-ng's speaking rate in words per minute."""
    from PIL import Image

    width, height = size
    bases = []
    for photo in photos:
        image = Image.open(photo).convert("RGB")
        scale = min(width / image.width, height / image.height)
        bases.append(image.resize((int(image.width * scale), int(image.height * scale))))
    audio = speech(spoken, voice, speed=speed) if spoken else np.zeros(int(seconds * 16_000))
    audio = audio.astype(np.float32)
    track = audio if soundtrack is None else soundtrack
    seconds = max(seconds, len(audio) / 16_000 + 0.5, len(track) / 16_000 + 0.5)
    speech_start = 0.25
    faces = [_TalkingFace(np.asarray(b), seed + i) for i, b in enumerate(bases)] if talking else []
    opening = _mouth_opening(audio, speech_start, fps, int(seconds * fps)) if talking else None
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast"}
        stream = out.add_stream("aac", rate=16_000)
        stream.layout = "mono"
        for i in range(int(seconds * fps)):
            t = i / fps
            which = 1 if swap_at is not None and t >= swap_at and len(bases) > 1 else 0
            base = bases[which]
            if opening is not None:
                base = Image.fromarray(faces[which].frame(float(opening[i]), t))
            zoom = 1.0 + 0.04 * np.sin(t)
            frame_image = base.resize((int(base.width * zoom), int(base.height * zoom)))
            canvas = Image.new("RGB", (width, height), (40, 40, 40))
            dx = int((width - frame_image.width) / 2 + 6 * np.sin(2 * t))
            dy = int((height - frame_image.height) / 2)
            canvas.paste(frame_image, (dx, dy))
            for packet in video.encode(av.VideoFrame.from_image(canvas)):
                out.mux(packet)
        padded = np.zeros(int(seconds * 16_000), np.float32)
        start = int(speech_start * 16_000)
        padded[start : start + len(track)] = track[: len(padded) - start]
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


def _mouth_opening(audio: np.ndarray, start: float, fps: int, frames: int) -> np.ndarray:
    """How far the jaw is open (0-1) at each video frame: the speech's loudness over 60 ms
    around the frame, with the jaw's inertia (it neither snaps open nor shut)."""
    rate, half = 16_000, int(0.03 * 16_000)
    loudness = np.zeros(frames)
    for i in range(frames):
        centre = int((i / fps - start) * rate)
        window = audio[max(centre - half, 0) : max(centre + half, 0)]
        loudness[i] = float(np.sqrt(np.mean(window**2))) if window.size else 0.0
    opening = np.clip(loudness / max(0.6 * loudness.max(), 1e-6), 0, 1) ** 0.7
    smooth = np.copy(opening)
    for i in range(1, frames):
        smooth[i] = 0.35 * smooth[i - 1] + 0.65 * opening[i]
    return smooth


def _landmarks(rgb: np.ndarray) -> np.ndarray:
    """dlib's 68 face landmarks (x, y) of the largest face in `rgb`."""
    import warnings

    import dlib

    with warnings.catch_warnings():  # face_recognition_models imports pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    rects = dlib.get_frontal_face_detector()(rgb, 1)
    if not rects:
        raise ValueError("no face in the photo to animate")
    rect = max(rects, key=lambda r: r.width() * r.height())
    shape = dlib.shape_predictor(frm.pose_predictor_model_location())(rgb, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


class _TalkingFace:
    """A photo whose jaw drops with `opening` (the lower face slides down, a dark mouth
    opening shows between the lips) and whose eyelids close in random blinks."""

    def __init__(self, rgb: np.ndarray, seed: int) -> None:
        self.rgb = rgb.astype(np.float32)
        marks = _landmarks(rgb)
        self.mouth = marks[60:68].mean(axis=0)  # inner lips' centre
        self.mouth_width = float(np.linalg.norm(marks[54] - marks[48]))
        self.chin = marks[8]
        self.face_height = float(marks[8][1] - marks[19:25, 1].mean())
        self.jaw = (float(marks[4][0]), float(marks[12][0]))
        self.eyes = [marks[36:42], marks[42:48]]
        rng = np.random.default_rng(seed)
        self.blinks = np.cumsum(rng.uniform(1.2, 2.6, 12)) - 0.6  # blink start times, s
        h, w = rgb.shape[:2]
        top = int(max(self.mouth[1] - 0.2 * self.face_height, 0))
        bottom = int(min(self.chin[1] + 0.45 * self.face_height, h))
        left, right = int(max(self.jaw[0] - 10, 0)), int(min(self.jaw[1] + 10, w))
        self.box = (top, bottom, left, right)
        self.yy, self.xx = np.mgrid[top:bottom, left:right].astype(np.float32)

    def frame(self, opening: float, t: float) -> np.ndarray:
        from scipy.ndimage import map_coordinates

        out = self.rgb.copy()
        top, bottom, left, right = self.box
        yy, xx = self.yy, self.xx
        drop = opening * 0.09 * self.face_height
        centre = (self.jaw[0] + self.jaw[1]) / 2
        half = (self.jaw[1] - self.jaw[0]) / 2
        across = np.clip(np.cos(np.clip((xx - centre) / half, -1, 1) * np.pi / 2), 0, 1)
        my, cy = self.mouth[1], self.chin[1]
        below = np.where(
            yy < my,
            0.0,
            np.where(yy <= cy, 1.0, np.clip(1 - (yy - cy) / (0.4 * self.face_height), 0, 1)),
        )
        source_y = yy - drop * across * below
        for c in range(3):
            out[top:bottom, left:right, c] = map_coordinates(
                self.rgb[:, :, c], [source_y, xx], order=1, mode="nearest"
            )
        lens = np.sqrt(np.clip(1 - ((xx - self.mouth[0]) / (0.45 * self.mouth_width)) ** 2, 0, 1))
        inside = (lens > 0) & (yy >= my - 1) & (yy < my + drop * lens)
        region = out[top:bottom, left:right]
        region[inside] = 0.15 * region[inside] + 0.85 * np.array([55, 22, 28], np.float32)
        since = t - self.blinks[self.blinks <= t].max(initial=-10.0)
        closed = max(0.0, 1 - abs(since - 0.09) / 0.09)  # a 0.18 s blink
        if closed > 0:
            for eye in self.eyes:
                self._close_eye(out, eye, closed)
        return np.clip(out, 0, 255).astype(np.uint8)

    def _close_eye(self, out: np.ndarray, eye: np.ndarray, closed: float) -> None:
        (x0, y0), (x1, y1) = eye.min(axis=0) - 3, eye.max(axis=0) + 3
        x0, y0, x1, y1 = int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))
        lid = self.rgb[max(y0 - (y1 - y0), 0) : y0, x0:x1].reshape(-1, 3).mean(axis=0)
        rows = np.arange(y0, y1)[:, None]
        cover = (rows < y0 + closed * (y1 - y0)).astype(np.float32)[..., None]
        out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - cover) + lid * cover
