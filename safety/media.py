"""Reads an uploaded image, video or audio file into what the face and voice models take:
RGB frames sampled over time and 16 kHz mono audio.

The type comes from the bytes, never from the file name: Pillow sniffs images (JPEG, PNG, WebP,
GIF, BMP, TIFF), PyAV (FFmpeg) everything else. Anything unreadable, too long or empty is a
MediaError with the reason, which the API turns into a 4xx."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

AUDIO_RATE = 16_000
MAX_PIXELS = 40_000_000  # a decompression bomb guard for images


class MediaError(ValueError):
    """The upload cannot be used; the message says why (shown to the caller)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Media:
    kind: str  # image | video | audio
    duration: float  # seconds (0 for an image)
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (time s, HxWx3 uint8)
    audio: np.ndarray | None = None  # float32 mono at AUDIO_RATE

    @property
    def has_audio(self) -> bool:
        return self.audio is not None and self.audio.size > 0


def _read_image(path: Path) -> Media | None:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1 and image.format == "GIF":
                return None  # animated: let FFmpeg read it as a video
            image.load()
            rgb = np.asarray(image.convert("RGB"))
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise MediaError(f"image too large: {exc}", 413) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from exc
    return Media(kind="image", duration=0.0, frames=[(0.0, rgb)])


def _container_duration(container: av.container.InputContainer) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    durations = [
        float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base
    ]
    return max(durations, default=0.0)


def load_media(
    path: Path,
    *,
    max_seconds: float,
    frames_per_second: float = 1.0,
    max_frames: int = 60,
    want_audio: bool = True,
) -> Media:
    """Decodes `path`; samples video frames at `frames_per_second` (at most `max_frames`)."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise MediaError("empty file")
    image = _read_image(path)
    if image is not None:
        return image
    try:
        container = av.open(str(path), mode="r")
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable image, video or audio file ({exc})", 415) from exc
    with container:
        if not container.streams.video and not container.streams.audio:
            raise MediaError("no video or audio stream in the file", 415)
        duration = _container_duration(container)
        if duration > max_seconds:
            raise MediaError(
                f"media is {duration:.0f} s long; the limit here is {max_seconds:.0f} s", 413
            )
        kind = "video" if container.streams.video else "audio"
        media = Media(kind=kind, duration=duration)
        try:
            if container.streams.video:
                # Long media is sampled sparser so that at most max_frames are decoded to RGB.
                fps = (
                    min(frames_per_second, max_frames / duration)
                    if duration > 0
                    else frames_per_second
                )
                media.frames = _sample_frames(container, fps, max_frames, max_seconds)
            if want_audio and container.streams.audio:
                container.seek(0)
                media.audio = _decode_audio(container, max_seconds)
        except av.error.FFmpegError as exc:
            raise MediaError(f"corrupt or truncated media: {exc}") from exc
    if kind == "video" and not media.frames:
        raise MediaError("the video has no decodable frames")
    if media.frames:
        media.duration = max(media.duration, media.frames[-1][0])
    if media.audio is not None:
        media.duration = max(media.duration, media.audio.size / AUDIO_RATE)
    if media.duration > max_seconds:
        raise MediaError(f"media runs past {max_seconds:.0f} s, the limit here", 413)
    return media


def _sample_frames(
    container: av.container.InputContainer, fps: float, max_frames: int, max_seconds: float
) -> list[tuple[float, np.ndarray]]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    frames: list[tuple[float, np.ndarray]] = []
    next_time = 0.0
    for frame in container.decode(stream):
        t = float(frame.time) if frame.time is not None else len(frames) / fps
        if t > max_seconds:
            raise MediaError(f"media runs past {max_seconds:.0f} s, the limit here", 413)
        if t + 1e-6 < next_time:
            continue
        frames.append((t, frame.to_ndarray(format="rgb24")))
        next_time = t + 1.0 / fps
        if len(frames) >= max_frames:
            break
    return frames


def _decode_audio(container: av.container.InputContainer, max_seconds: float) -> np.ndarray:
    stream = container.streams.audio[0]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    limit = int(max_seconds * AUDIO_RATE) + AUDIO_RATE
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            chunks.append(chunk)
            total += chunk.size
        if total > limit:
            raise MediaError(f"audio runs past {max_seconds:.0f} s, the limit here", 413)
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
