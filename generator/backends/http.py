"""A backend for an external video API: POSTs the prompt as JSON to a configured endpoint and
takes back a video (the response body, MP4 or WebM). The answer is decoded and resized to the
requested frame size and rate, so everything after the render (scan, marks, signature) treats
it like any other rendering. Size-capped, time-limited; anything else is a BackendError."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np

from generator.backends import BackendError, Rendering, RenderRequest

MAX_BYTES = 500 << 20
AUDIO_RATE = 48_000


def _frames(path: Path, request: RenderRequest) -> Iterator[np.ndarray]:
    """The video's frames at the requested rate and size (nearest earlier frame per tick)."""
    total = max(1, round(request.duration_s * request.fps))
    emitted = 0
    last: np.ndarray | None = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            image = frame.to_ndarray(width=request.width, height=request.height, format="rgb24")
            while emitted < total and emitted / request.fps <= frame.time:
                yield image
                emitted += 1
            last = image
            if emitted >= total:
                return
    if last is None:
        raise BackendError("the external API's video has no frames")
    while emitted < total:  # a shorter answer holds its last frame
        yield last
        emitted += 1


def _frames_then_clean(path: Path, request: RenderRequest, tmp: Path) -> Iterator[np.ndarray]:
    """Streams the frames from the downloaded file, then removes it (also when abandoned)."""
    try:
        yield from _frames(path, request)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _audio(path: Path, seconds: float) -> np.ndarray:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return np.zeros(int(seconds * AUDIO_RATE), np.float32)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            chunks = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        raise BackendError(f"the external API's audio is unreadable: {exc}") from exc
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    wanted = int(seconds * AUDIO_RATE)
    return np.pad(audio[:wanted], (0, max(0, wanted - len(audio)))).astype(np.float32)


class HttpBackend:
    def __init__(self, url: str, timeout_s: float = 120.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.name = f"http:{httpx.URL(url).host}"

    def render(self, request: RenderRequest) -> Rendering:
        body = {
            "prompt": request.prompt,
            "duration_s": request.duration_s,
            "width": request.width,
            "height": request.height,
            "fps": request.fps,
            "seed": request.seed,
        }
        tmp = Path(tempfile.mkdtemp(prefix="cameoguard-http-"))
        path = tmp / "answer.video"
        try:
            with httpx.stream("POST", self.url, json=body, timeout=self.timeout_s) as answer:
                if answer.status_code != 200:
                    raise BackendError(f"the external API answered {answer.status_code}")
                written = 0
                with path.open("wb") as fh:
                    for chunk in answer.iter_bytes():
                        written += len(chunk)
                        if written > MAX_BYTES:
                            raise BackendError(f"the external API sent more than {MAX_BYTES} bytes")
                        fh.write(chunk)
            try:
                with av.open(str(path)) as container:
                    if not container.streams.video:
                        raise BackendError("the external API's answer has no video stream")
            except av.FFmpegError as exc:
                raise BackendError(f"the external API's answer is not a video: {exc}") from exc
            audio = _audio(path, request.duration_s)
        except httpx.HTTPError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BackendError(f"the external API is unreachable: {exc}") from exc
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Rendering(
            frames=_frames_then_clean(path, request, tmp),
            fps=request.fps,
            width=request.width,
            height=request.height,
            audio=audio,
            sample_rate=AUDIO_RATE,
            transcript="",
            backend=self.name,
        )
