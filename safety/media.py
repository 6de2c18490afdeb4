"""Reads an uploaded image, video or audio file into what the face and voice models take:
RGB frames sampled over time and 16 kHz mono audio.

The type comes from the bytes, never from the file name: Pillow sniffs images (JPEG, PNG, WebP,
GIF, BMP, TIFF), PyAV (FFmpeg) everything else. Anything unreadable, too long or empty is a
MediaError with the reason, which the API turns into a 4xx.

Before anything is decoded, `probe` reads the headers (dimensions, frame rate, duration) and
`MediaLimits.check` refuses what is too large to decode (with the limit crossed): an image or frame
over its pixel cap, media over its duration. While decoding, the pixels actually decoded are
counted against the same budget, so a file whose headers lie is stopped too. Video longer than
the budget allows is sampled from its keyframes only (the decoder skips the other frames)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from cameoguard.errors import Refusal, RefusalKind

AUDIO_RATE = 16_000
# Pillow's own bomb guard, set far above our caps: our check runs first, from the header.
Image.MAX_IMAGE_PIXELS = 1_000_000_000


class MediaError(Refusal):
    """The upload cannot be used; the message says why (shown to the caller), with a stable
    code (`bad_media`, or `media_too_large` with the limit crossed in the details)."""

    def __init__(
        self,
        message: str,
        kind: RefusalKind = RefusalKind.invalid,
        details: dict[str, Any] | None = None,
    ) -> None:
        code = "media_too_large" if kind is RefusalKind.too_large else "bad_media"
        super().__init__(kind, code, message, details)


def estimate_work(
    path: Path, max_seconds: float, frames_per_second: float, max_frames: int = 120
) -> float:
    """Probes the headers, refuses what is too large (MediaError, too_large), and returns the
    estimated CPU-milliseconds of analysing the media at `frames_per_second`."""
    limits = default_limits(max_seconds)
    header = probe(path)
    limits.check(header)
    return header.work_ms(frames_per_second, limits, max_frames)


@dataclass(frozen=True)
class MediaLimits:
    """What one request may make the service decode. The defaults come from the settings."""

    max_seconds: float
    max_image_pixels: int = 25_000_000
    max_frame_pixels: int = 3840 * 2160
    max_decode_pixels: int = 5_000_000_000  # pixels decoded in all (about 10 CPU-seconds)

    def check(self, header: MediaHeader) -> None:
        """Refuses (too_large) media whose headers alone show it is too large to decode."""
        if header.kind == "image" and header.pixels > self.max_image_pixels:
            raise MediaError(
                f"image of {header.width}x{header.height} is over the limit of "
                f"{self.max_image_pixels:,} pixels",
                RefusalKind.too_large,
                {"limit_pixels": self.max_image_pixels, "pixels": header.pixels},
            )
        if header.kind == "video" and header.pixels > self.max_frame_pixels:
            raise MediaError(
                f"video frames of {header.width}x{header.height} are over the limit of "
                f"{self.max_frame_pixels:,} pixels",
                RefusalKind.too_large,
                {"limit_pixels": self.max_frame_pixels, "pixels": header.pixels},
            )
        if header.duration > self.max_seconds:
            raise MediaError(
                f"media is {header.duration:.0f} s long; the limit here is "
                f"{self.max_seconds:.0f} s",
                RefusalKind.too_large,
                {"limit_seconds": self.max_seconds, "seconds": round(header.duration, 2)},
            )


@dataclass(frozen=True)
class MediaHeader:
    """What the headers say, read without decoding any picture or sound."""

    kind: str  # image | video | audio
    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration: float = 0.0
    has_audio: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def frames(self) -> int:
        return max(1, round(self.fps * self.duration)) if self.kind == "video" else 1

    def work_ms(
        self, frames_per_second: float, limits: MediaLimits, max_frames: int = 120
    ) -> float:
        """A rough CPU cost in milliseconds of analysing this media: decoding (about 500
        megapixels a CPU-second here, keyframes only past the decode budget), the face models on
        each sampled frame (detection runs on a copy at most 960 px wide: about 100 ms) and the
        voice model on the audio. Used to charge a key's work budget before any decoding."""
        decoded = min(self.pixels * self.frames, limits.max_decode_pixels)
        if self.kind == "image":
            sampled = 1
        else:
            sampled = min(max_frames, max(1, int(self.duration * frames_per_second)))
        face_ms = 0.0 if self.kind == "audio" else 100.0
        audio_ms = 30.0 * self.duration if self.has_audio else 0.0
        return decoded / 500_000 + sampled * face_ms + audio_ms


@dataclass
class Media:
    kind: str  # image | video | audio
    duration: float  # seconds (0 for an image)
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (time s, HxWx3 uint8)
    audio: np.ndarray | None = None  # float32 mono at AUDIO_RATE

    @property
    def has_audio(self) -> bool:
        return self.audio is not None and self.audio.size > 0


def _image_header(path: Path) -> MediaHeader | None:
    """The header of a still image (None: not an image Pillow knows, or an animated GIF)."""
    try:
        with Image.open(path) as image:
            if getattr(image, "n_frames", 1) > 1 and image.format == "GIF":
                return None  # animated: let FFmpeg read it as a video
            width, height = image.size
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from exc
    return MediaHeader(kind="image", width=width, height=height)


def _read_image(path: Path) -> Media:
    try:
        with Image.open(path) as image:
            image.load()
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"corrupt or truncated image: {exc}") from exc
    return Media(kind="image", duration=0.0, frames=[(0.0, rgb)])


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.error.InvalidDataError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"not a readable image, video or audio file ({exc})", RefusalKind.unsupported
        ) from exc


def _container_header(container: av.container.InputContainer) -> MediaHeader:
    if not container.streams.video and not container.streams.audio:
        raise MediaError("no video or audio stream in the file", RefusalKind.unsupported)
    duration = _container_duration(container)
    has_audio = bool(container.streams.audio)
    if not container.streams.video:
        return MediaHeader(kind="audio", duration=duration, has_audio=has_audio)
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or 0
    return MediaHeader(
        kind="video",
        width=int(stream.codec_context.width or 0),
        height=int(stream.codec_context.height or 0),
        fps=float(rate),
        duration=duration,
        has_audio=has_audio,
    )


def probe(path: Path) -> MediaHeader:
    """Reads the headers only: what kind of media, its size, frame rate and duration."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise MediaError("empty file")
    header = _image_header(path)
    if header is not None:
        return header
    with _open(path) as container:
        return _container_header(container)


def _container_duration(container: av.container.InputContainer) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    durations = [
        float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base
    ]
    return max(durations, default=0.0)


class FrameTap(Protocol):
    """What reads the video frames of one decode pass: the face sampler, a watermark
    detector, the fingerprinter. Several taps share one pass over the video."""

    every_frame: bool  # True: needs every frame (a watermark accumulates them); False: samples

    def take(self, frame: av.VideoFrame, t: float) -> None: ...

    @property
    def done(self) -> bool: ...


class SampleFrames:
    """RGB frames sampled at `fps`, at most `max_frames`."""

    every_frame = False

    def __init__(self, fps: float, max_frames: int) -> None:
        self.fps, self.max_frames = fps, max_frames
        self.frames: list[tuple[float, np.ndarray]] = []
        self._next = 0.0

    def take(self, frame: av.VideoFrame, t: float) -> None:
        if t + 1e-6 < self._next or self.done:
            return
        self.frames.append((t, frame.to_ndarray(format="rgb24")))
        self._next = t + 1.0 / self.fps

    @property
    def done(self) -> bool:
        return len(self.frames) >= self.max_frames


@dataclass
class DecodedVideo:
    """What a decode pass saw: the time of the last frame, and whether the pixel budget made it
    switch to keyframes (the taps that need every frame then stopped receiving them)."""

    last_time: float = 0.0
    frames_decoded: int = 0
    keyframes_only_after: float | None = None


def decode_video(
    path: Path, taps: list[FrameTap], limits: MediaLimits, until_s: float | None = None
) -> DecodedVideo:
    """One pass over the video stream of `path`, handing each frame to the taps that want it.
    Every frame is decoded until `max_decode_pixels`; past it the decoder keeps only keyframes
    (enough for sampling) and the every-frame taps stop; a file that still decodes to twice the
    budget is refused (its headers lied). Ends early once every tap is done, or at `until_s`
    (a frame past `limits.max_seconds` is refused instead)."""
    report = DecodedVideo()
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError("no video stream in the file", RefusalKind.unsupported)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        decoded = 0
        try:
            for frame in container.decode(stream):
                pixels = frame.width * frame.height
                decoded += pixels
                if pixels > limits.max_frame_pixels or decoded > 2 * limits.max_decode_pixels:
                    raise MediaError(
                        "the video decodes to more pixels than its header said, over the limit "
                        f"of {limits.max_decode_pixels:,} pixels per request",
                        RefusalKind.too_large,
                        {"limit_pixels": limits.max_decode_pixels},
                    )
                t = float(frame.time) if frame.time is not None else report.frames_decoded / 25
                if until_s is not None and t > until_s:
                    break
                if t > limits.max_seconds:
                    raise MediaError(
                        f"media runs past {limits.max_seconds:.0f} s, the limit here",
                        RefusalKind.too_large,
                    )
                report.frames_decoded += 1
                report.last_time = max(report.last_time, t)
                sparse = report.keyframes_only_after is not None
                for tap in taps:
                    if not tap.done and not (sparse and tap.every_frame):
                        tap.take(frame, t)
                if not sparse and decoded > limits.max_decode_pixels:
                    stream.codec_context.skip_frame = "NONKEY"
                    report.keyframes_only_after = t
                    sparse = True
                if all(tap.done or (sparse and tap.every_frame) for tap in taps):
                    break
        except av.error.FFmpegError as exc:
            raise MediaError(f"corrupt or truncated media: {exc}") from exc
    return report


def load_media(
    path: Path,
    *,
    max_seconds: float,
    frames_per_second: float = 1.0,
    max_frames: int = 60,
    want_audio: bool = True,
    limits: MediaLimits | None = None,
    taps: list[FrameTap] | None = None,
) -> Media:
    """Decodes `path`: video frames sampled at `frames_per_second` (at most `max_frames`; long
    media is sampled sparser), and the audio at 16 kHz mono. `taps` read the same pass over the
    video (see `decode_video`). `limits` default to the service's settings with `max_seconds`."""
    path = Path(path)
    limits = limits or default_limits(max_seconds)
    header = probe(path)
    limits.check(header)
    if header.kind == "image":
        return _read_image(path)
    media = Media(kind=header.kind, duration=header.duration)
    if header.kind == "video":
        duration = header.duration
        fps = min(frames_per_second, max_frames / duration) if duration > 0 else frames_per_second
        sampler = SampleFrames(fps, max_frames)
        decode_video(path, [sampler, *(taps or [])], limits)
        media.frames = sampler.frames
        if not media.frames:
            raise MediaError("the video has no decodable frames")
    if want_audio and header.has_audio:
        media.audio = decode_audio(path, limits.max_seconds)
    if media.frames:
        media.duration = max(media.duration, media.frames[-1][0])
    if media.audio is not None:
        media.duration = max(media.duration, media.audio.size / AUDIO_RATE)
    if media.duration > limits.max_seconds:
        raise MediaError(
            f"media runs past {limits.max_seconds:.0f} s, the limit here", RefusalKind.too_large
        )
    return media


def default_limits(max_seconds: float) -> MediaLimits:
    """The service's media limits (settings) with the caller's longest duration."""
    from cameoguard.settings import get_settings

    settings = get_settings()
    return MediaLimits(
        max_seconds=max_seconds,
        max_image_pixels=settings.max_image_pixels,
        max_frame_pixels=settings.max_frame_pixels,
        max_decode_pixels=settings.max_decode_pixels,
    )


def decode_audio(path: Path, max_seconds: float) -> np.ndarray:
    """The first audio stream of `path` as float32 mono at AUDIO_RATE."""
    with _open(path) as container:
        try:
            return _decode_audio(container, max_seconds)
        except av.error.FFmpegError as exc:
            raise MediaError(f"corrupt or truncated media: {exc}") from exc


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
            raise MediaError(
                f"audio runs past {max_seconds:.0f} s, the limit here", RefusalKind.too_large
            )
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
