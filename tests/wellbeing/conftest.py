"""Fixtures for the wellbeing tests: selfie videos made from the public-domain face photos in
tests/data/faces, and helpers to call the checks.

We hold no redistributable photo of a real teenager. The "teen" selfie is therefore an adult's
photo (obama3.jpg) blurred (Gaussian, radius 3): the real age model reads its frames at 7-23
years (median 13), so the challenge-25 rule answers teen, exactly as it would for a young face.
The adult selfie is obama.jpg unblurred (read at about 41)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter

from safety.consent.models import LikenessModels, get_models
from tests.conftest import auth, make_key
from tests.media_factory import make_selfie

FACES = Path(__file__).parents[1] / "data" / "faces"


@pytest.fixture(scope="session")
def models() -> LikenessModels:
    return get_models()


@pytest.fixture(scope="session")
def selfies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wellbeing-selfies")
    young = root / "young.jpg"
    Image.open(FACES / "obama3.jpg").convert("RGB").filter(ImageFilter.GaussianBlur(3)).save(young)
    return {
        "teen": make_selfie(root / "teen.mp4", [young], None, seconds=3.0),
        "adult": make_selfie(root / "adult.mp4", [FACES / "obama.jpg"], None, seconds=3.0),
    }


@pytest.fixture
def headers(client: TestClient, models: LikenessModels) -> dict[str, str]:
    return auth(make_key("platform", name="platform"))


def upload(client: TestClient, headers: dict[str, str], path: Path) -> str:
    response = client.post(
        "/v1/media", content=path.read_bytes(), headers={**headers, "Content-Type": "video/mp4"}
    )
    assert response.status_code == 201, response.text
    return response.json()["media_location"]


def assure(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/age/assurance", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def adult(client: TestClient, headers: dict[str, str], account_id: str) -> None:
    """An account assured adult by the platform's confident behavioural estimate."""
    body = assure(
        client, headers, account_id=account_id,
        behavioural_estimate={"age": 40, "confidence": 0.95},
    )  # fmt: skip
    assert body["age_group"] == "adult"
