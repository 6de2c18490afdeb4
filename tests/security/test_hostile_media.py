"""Hostile media against every route that parses uploads: truncated and bit-flipped MP4, JPEG and
WAV files, a polyglot, a JPEG that declares enormous dimensions, a WAV that lies about its
length, garbage. Each gets a clear 4xx (never a 5xx), nothing is stored, and the service keeps
serving."""

from __future__ import annotations

import io
import random
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cameoguard.settings import get_settings
from safety.consent.models import get_models
from tests.conftest import auth, make_key
from tests.media_factory import make_clip

FACES = Path(__file__).parents[1] / "data" / "faces"
ROUTES = [
    ("/v1/provenance/verify", "auditor", 200),
    ("/v1/checks/likeness?requester_id=u1", "platform", 200),
    ("/v1/media", "platform", 201),
    ("/v1/generations/references", "platform", 201),
]


def _flip(data: bytes, seed: int, count: int = 40) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(count):
        at = rng.randrange(min(64, len(out) - 1), len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def _wav(seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        tone = (np.sin(np.arange(int(16000 * seconds)) / 10) * 8000).astype("<i2")
        w.writeframes(tone.tobytes())
    return buffer.getvalue()


def _huge_jpeg() -> bytes:
    """A small JPEG whose frame header claims 65000 x 65000 pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    clip = make_clip(tmp_path_factory.mktemp("fuzz") / "clip.mp4", seconds=1, width=160, height=96)
    mp4 = clip.read_bytes()
    jpeg = (FACES / "obama.jpg").read_bytes()
    wav = _wav()
    lying_wav = bytearray(wav)
    lying_wav[40:44] = struct.pack("<I", 0x7FFFFFF0)  # data chunk claims 2 GB
    return {
        "mp4_truncated": mp4[: len(mp4) // 2],
        "mp4_header_only": mp4[:200],
        "mp4_flipped": _flip(mp4, 1),
        "mp4_flipped_more": _flip(mp4, 2, 400),
        "jpeg_truncated": jpeg[: len(jpeg) // 3],
        "jpeg_flipped": _flip(jpeg, 3),
        "jpeg_huge_dimensions": _huge_jpeg(),
        "wav_truncated": wav[:30],
        "wav_lying_length": bytes(lying_wav),
        "polyglot_jpeg_then_mp4": jpeg + mp4,
        "garbage": bytes(random.Random(4).randrange(256) for _ in range(5000)),
        "zip_header": b"PK\x03\x04" + b"\x00" * 500,
    }


def test_hostile_uploads_get_a_4xx_and_the_service_keeps_serving(
    client: TestClient, samples: dict[str, bytes]
) -> None:
    get_models()  # the likeness route answers 503 until the models are loaded
    keys = {scope: make_key(scope, name=f"fuzz-{scope}") for scope in ("auditor", "platform")}
    media_dir = get_settings().effective_media_dir
    before = sorted(media_dir.rglob("*")) if media_dir.exists() else []
    outcomes = {}
    for name, data in samples.items():
        for route, scope, ok_status in ROUTES:
            response = client.post(
                route,
                content=data,
                headers={**auth(keys[scope]), "content-type": "application/octet-stream"},
            )
            outcomes[(name, route)] = response.status_code
            assert response.status_code < 500, (name, route, response.text[:300])
            if response.status_code != ok_status:
                assert "error" in response.json(), (name, route)
    # Only the verify route answers 200 to a broken file (a report that says what is wrong).
    accepted_uploads = [
        key for key, status in outcomes.items() if status in (200, 201) and "verify" not in key[1]
    ]
    stored = sorted(media_dir.rglob("*")) if media_dir.exists() else []
    if not accepted_uploads:
        assert stored == before
    assert client.get("/healthz").status_code == 200
