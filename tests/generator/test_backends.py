"""The backends: the embedded renderer (frames, speech, composited faces), the HTTP backend
against a local server (through the whole pipeline too), and the MP4 writer's checks."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
import pytest
from PIL import Image

from generator.backends import BackendError, Rendering, RenderRequest
from generator.backends.embedded import EmbeddedBackend, dialogue_of, subjects
from generator.backends.http import HttpBackend
from generator.encode import write_mp4
from safety.consent.models import get_models
from tests.media_factory import make_clip

FACES = Path(__file__).parents[1] / "data" / "faces"


def test_prompt_words_and_dialogue() -> None:
    prompt = 'Two friends cook pasta in a small kitchen; one says "add more salt"'
    assert subjects(prompt) == ["two", "friends", "cook", "pasta"]
    assert dialogue_of(prompt) == "add more salt"
    assert dialogue_of("Une fille dit « bonjour tout le monde »") == "bonjour tout le monde"
    assert dialogue_of("no quotes here") == ""


def face_crop(photo: Path) -> bytes:
    """A face image as enrollment stores it (the face box with half its width around it)."""
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    (face,) = get_models().face.faces(rgb)
    left, top, right, bottom = face.box
    pad = (right - left) // 2
    buffer = io.BytesIO()
    crop = rgb[max(top - pad, 0) : bottom + pad, max(left - pad, 0) : right + pad]
    Image.fromarray(crop).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_the_embedded_renderer_draws_speaks_and_composites_faces(tmp_path: Path) -> None:
    face = face_crop(FACES / "obama.jpg")
    request = RenderRequest(
        prompt='A person on a beach says "hello there"',
        duration_s=3,
        width=640,
        height=360,
        cameo_faces={"cam_1": face},
    )
    rendering = EmbeddedBackend().render(request)
    frames = list(rendering.frames)
    assert len(frames) == 75 and frames[0].shape == (360, 640, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[-1])  # things move
    assert rendering.transcript == "hello there"
    assert len(rendering.audio) == 3 * rendering.sample_rate
    speech = np.abs(rendering.audio[int(0.6 * 48000) : int(1.2 * 48000)]).mean()
    room = np.abs(rendering.audio[-int(0.5 * 48000) :]).mean()
    assert speech > 3 * room  # espeak-ng's speech stands out of the ambient sound
    found = get_models().face.faces(frames[30])
    assert len(found) == 1  # the enrolled face is in the picture

    out = tmp_path / "clip.mp4"
    rendering = EmbeddedBackend().render(request)
    assert write_mp4(rendering, out) == pytest.approx(3.0)
    with av.open(str(out)) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "video"]
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"


def test_the_writer_refuses_frames_of_the_wrong_size(tmp_path: Path) -> None:
    def frames() -> Iterator[np.ndarray]:
        yield np.zeros((100, 100, 3), np.uint8)

    bad = Rendering(frames(), 25, 640, 360, np.zeros(4800, np.float32), 48000, "", "test")
    with pytest.raises(BackendError, match="expected"):
        write_mp4(bad, tmp_path / "bad.mp4")


class _Api(BaseHTTPRequestHandler):
    answer: tuple[int, bytes, str] = (200, b"", "video/mp4")
    seen: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        type(self).seen.append(self.rfile.read(length))
        status, body, kind = type(self).answer
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def video_api(tmp_path: Path) -> Iterator[tuple[str, type[_Api]]]:
    clip = make_clip(tmp_path / "remote.mp4", seconds=2, width=320, height=240, fps=30)
    handler = type("Api", (_Api,), {"answer": (200, clip.read_bytes(), "video/mp4"), "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/videos", handler
    server.shutdown()


def test_the_http_backend_converts_the_answer(video_api: tuple[str, type[_Api]]) -> None:
    url, handler = video_api
    request = RenderRequest(prompt="a red kite", duration_s=3, width=640, height=360)
    rendering = HttpBackend(url, timeout_s=10).render(request)
    frames = list(rendering.frames)
    assert len(frames) == 75 and frames[0].shape == (360, 640, 3)  # resized, 25 fps, padded
    assert len(rendering.audio) == 3 * 48000
    assert json.loads(handler.seen[0])["prompt"] == "a red kite"

    handler.answer = (500, b"overloaded", "text/plain")
    with pytest.raises(BackendError, match="answered 500"):
        HttpBackend(url).render(request)
    handler.answer = (200, b"<html>not a video</html>" * 40, "text/html")
    with pytest.raises(BackendError, match="not a video"):
        HttpBackend(url).render(request)
    with pytest.raises(BackendError, match="unreachable"):
        HttpBackend("http://127.0.0.1:9/none", timeout_s=2).render(request)
