"""Enrolling a real cameo through the API (a talking selfie of a public-domain photo)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from tests.consent.conftest import new_challenge, selfie


def enroll_cameo(
    client: TestClient, headers: dict[str, str], tmp_path: Path, owner: str, photo: str, **fields
) -> dict:
    challenge = new_challenge(client, headers, owner)
    video = selfie(tmp_path, photo, challenge["phrase"])
    with video.open("rb") as fh:
        response = client.post(
            "/v1/cameos",
            data={"owner_id": owner, "challenge_id": challenge["challenge_id"], **fields},
            files={"video": ("selfie.mov", fh, "video/quicktime")},
            headers=headers,
        )
    assert response.status_code == 201, response.text
    return response.json()


def outbox(topic: str, key: str | None = None) -> list[dict]:
    """The payloads of the outbox's events of a topic (and key), oldest first."""
    query = select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
    if key is not None:
        query = query.where(OutboxEvent.key == key)
    with session_scope() as session:
        return [e.payload for e in session.scalars(query)]
