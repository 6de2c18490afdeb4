"""Fixtures for the generator tests: the real tools (policy engine, face/voice/age models, NSFW
model, the embedded backend) and helpers to submit and run jobs."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from generator.backends.embedded import EmbeddedBackend
from generator.pipeline import Tools
from generator.worker import work
from tests.conftest import auth, make_key
from tests.consent.conftest import selfie


@pytest.fixture(scope="session")
def tools() -> Tools:
    from consumers.items import publish
    from safety.consent.models import get_models
    from safety.models.nsfw import get_nsfw
    from safety.policy.engine import get_engine

    return Tools(
        backend=EmbeddedBackend(),
        engine=get_engine(),
        models=get_models(),
        nsfw=get_nsfw(),
        publish=publish,
    )


@pytest.fixture
def platform(client: TestClient) -> dict[str, str]:
    return auth(make_key("platform", name="platform"))


def submit(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {
        "requester_id": "bob",
        "prompt": 'A golden retriever surfs a wave at sunset and says "what a day"',
        "duration_s": 10,
        "idempotency_key": f"key-{uuid.uuid4().hex}",
        **body,
    }
    answer = client.post("/v1/generations", json=payload, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.json()


def enroll(
    client: TestClient,
    headers: dict[str, str],
    tmp_path: Path,
    owner: str,
    photo: str,
    **fields: str,
) -> str:
    """Enrolls a cameo through the API from a public-domain photo turned into a speaking selfie."""
    challenge = client.post("/v1/cameos/challenges", json={"owner_id": owner}, headers=headers)
    assert challenge.status_code == 201, challenge.text
    video = selfie(tmp_path, photo, challenge.json()["phrase"])
    with video.open("rb") as fh:
        answer = client.post(
            "/v1/cameos",
            data={"owner_id": owner, "challenge_id": challenge.json()["challenge_id"], **fields},
            files={"video": ("selfie.mp4", fh, "video/mp4")},
            headers=headers,
        )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def run_queue(tools: Tools) -> int:
    """One worker, until the queue is empty."""
    return work(threading.Event(), tools, name="test-worker", until_idle=True)


def job(client: TestClient, headers: dict[str, str], generation_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/generations/{generation_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()
