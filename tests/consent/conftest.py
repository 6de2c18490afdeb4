"""Media for the consent tests: real face photos (tests/data/faces, public domain) turned into
selfie videos with speech from espeak-ng: talking ones (the jaw moves with the speech, the eyes
blink) that pass the liveness checks, and still ones (the photo moved as a whole) that fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from safety.consent.models import LikenessModels, get_models
from tests.conftest import auth, make_key
from tests.media_factory import DIGIT_WORDS, make_selfie

FACES = Path(__file__).parents[1] / "data" / "faces"


def say(phrase: str) -> str:
    return " ".join(DIGIT_WORDS[int(d)] for d in phrase.split())


@pytest.fixture(autouse=True)
def _enrollment_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests make many attempts for one owner within seconds; the per-owner limit has a
    test of its own (test_liveness), which sets a small one."""
    monkeypatch.setenv("CAMEOGUARD_ENROLLMENT_ATTEMPTS_PER_HOUR", "1000")


@pytest.fixture(scope="session")
def models() -> LikenessModels:
    return get_models()


@pytest.fixture
def platform(client: TestClient, models: LikenessModels) -> dict[str, str]:
    """The platform backend's API key (with the models loaded)."""
    return auth(make_key("platform", name="platform"))


def new_challenge(client: TestClient, headers: dict[str, str], owner: str) -> dict[str, Any]:
    response = client.post("/v1/cameos/challenges", json={"owner_id": owner}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("consent-media")
    out: dict[str, Path] = {}
    # Selfies that speak no particular phrase: tests pair them with a phrase of their own.
    out["two_people.jpg"] = root / "two_people.jpg"
    left, right = Image.open(FACES / "obama.jpg"), Image.open(FACES / "biden.jpg")
    canvas = Image.new("RGB", (left.width + right.width, max(left.height, right.height)))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    canvas.save(out["two_people.jpg"], quality=90)
    out["no_face.png"] = root / "no_face.png"
    gradient = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    Image.fromarray(np.stack([gradient] * 3, axis=-1)).save(out["no_face.png"])
    out["silent_selfie.mp4"] = make_selfie(root / "silent.mp4", [FACES / "obama.jpg"], None)
    out["swap_selfie.mp4"] = make_selfie(
        root / "swap.mp4",
        [FACES / "obama.jpg", FACES / "biden.jpg"],
        say("1 2 3 4 5 6"),
        swap_at=2.0,
    )
    out["two_people_selfie.mp4"] = make_selfie(
        root / "two.mp4", [out["two_people.jpg"]], say("1 2 3 4 5 6"), size=(640, 480)
    )
    out["no_face_selfie.mp4"] = make_selfie(
        root / "noface.mp4", [out["no_face.png"]], say("1 2 3 4 5 6")
    )
    return out


SPEED = 130  # words per minute: digits read aloud, a little slower than espeak-ng's 150


def selfie(
    tmp_path: Path, photo: str, phrase: str, voice: str = "en-us", talking: bool = True, **kw: Any
) -> Path:
    """A selfie video of `photo` saying the digits of `phrase` ("4 7 1 ..."): by default a
    talking one, as a live person would record it."""
    name = f"{photo}-{'talking' if talking else 'still'}-{phrase.replace(' ', '')}.mp4"
    kw.setdefault("speed", SPEED)
    return make_selfie(
        tmp_path / name, [FACES / photo], say(phrase), voice=voice, talking=talking, **kw
    )
