"""Enrollment, consent checks, revocation and likeness checks through the HTTP API, with the
real models, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from safety.consent.tables import Cameo, ConsentGrant
from tests.conftest import auth, make_key
from tests.consent.conftest import FACES, new_challenge, say, selfie
from tests.media_factory import make_selfie

pytestmark = pytest.mark.slow


def _enroll(
    client: TestClient,
    headers: dict[str, str],
    video: Path,
    challenge: dict[str, Any],
    owner: str,
    **fields: str,
):
    with video.open("rb") as fh:
        return client.post(
            "/v1/cameos",
            data={"owner_id": owner, "challenge_id": challenge["challenge_id"], **fields},
            files={"video": ("selfie.mov", fh, "video/quicktime")},
            headers=headers,
        )


def _count(model: type) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _consent(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/checks/consent", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_enroll_check_consent_and_revoke(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    challenge = new_challenge(client, platform, "alice")
    video = selfie(tmp_path, "obama.jpg", challenge["phrase"])
    response = _enroll(
        client,
        platform,
        video,
        challenge,
        "alice",
        permission="approved",
        approved_user_ids='["bob"]',
        restrictions='["no political content"]',
    )
    assert response.status_code == 201, response.text
    cameo = response.json()
    assert cameo["status"] == "active" and cameo["permission"] == "approved"
    assert cameo["liveness"]["mode"] == "video" and cameo["liveness"]["speech_seconds"] > 1
    assert cameo["owner_is_minor"] is False and cameo["has_face_image"] is False
    quality = cameo["liveness"]["face_quality"]
    assert 0 < quality["faces_used"] <= quality["faces_seen"]
    assert cameo["liveness"]["voice_views"] == 4
    with session_scope() as session:
        row = session.get(Cameo, cameo["id"])
        assert row is not None and row.face_embedding and row.voice_embedding
        # The voice as heard through each simulated channel; the face's good sightings only.
        assert (row.voice_views, row.voice_utterances) == (4, 1)
        assert row.face_image is None
    # The challenge is single use.
    again = _enroll(client, platform, video, challenge, "alice")
    assert again.status_code == 409 and again.json()["error"]["code"] == "challenge_used"

    cid = cameo["id"]
    owner = _consent(
        client, platform, requester_id="alice", cameo_ids=[cid], prompt="me at a rally"
    )
    assert owner["decision"] == "allow"
    friend = _consent(
        client, platform, requester_id="bob", cameo_ids=[cid], prompt="alice cooking pasta"
    )
    assert friend["decision"] == "allow" and friend["cameos"][0]["grant_id"]
    political = _consent(
        client,
        platform,
        requester_id="bob",
        cameo_ids=[cid],
        prompt="alice giving a speech to voters at a senate campaign rally",
    )
    assert political["decision"] == "block"
    assert "no political content" in political["reason"]
    stranger = _consent(
        client, platform, requester_id="mallory", cameo_ids=[cid], prompt="alice cooking"
    )
    assert stranger["decision"] == "block" and "approved list" in stranger["reason"]
    unknown = _consent(client, platform, requester_id="bob", cameo_ids=["cam_nope"], prompt="hi")
    assert unknown["decision"] == "block" and "unknown cameo" in unknown["reason"]

    # The owner's likeness: matched in a photo never seen at enrollment, consent per requester.
    with (FACES / "obama3.jpg").open("rb") as fh:
        body = fh.read()
    likeness = client.post(
        "/v1/checks/likeness", params={"requester_id": "mallory"}, content=body, headers=platform
    ).json()
    match = likeness["faces"][0]["matches"][0]
    assert match["id"] == cid and match["score"] >= match["threshold"]
    assert match["consent"] == "not_granted" and likeness["summary"]["decision"] == "block"
    allowed = client.post(
        "/v1/checks/likeness", params={"requester_id": "bob"}, content=body, headers=platform
    ).json()
    assert allowed["summary"]["decision"] == "allow"
    # Someone else's face matches nothing.
    other = client.post(
        "/v1/checks/likeness",
        params={"requester_id": "bob"},
        content=(FACES / "biden.jpg").read_bytes(),
        headers=platform,
    ).json()
    assert other["faces"] and not other["faces"][0]["matches"]

    # A permission change takes effect at once and emits consent.revoked.
    changed = client.patch(
        f"/v1/cameos/{cid}",
        json={"owner_id": "alice", "permission": "only_me"},
        headers=platform,
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    blocked = _consent(client, platform, requester_id="bob", cameo_ids=[cid], prompt="cooking")
    assert blocked["decision"] == "block"

    # Usages: the grants a generation recorded.
    from safety.consent.checks import attach_generation

    with session_scope() as session:
        attach_generation(session, [friend["cameos"][0]["grant_id"]], "gen_123")
    usages = client.get(f"/v1/cameos/{cid}/usages", params={"owner_id": "alice"}, headers=platform)
    assert [u["generation_id"] for u in usages.json()["generations"]] == ["gen_123"]

    # Revocation: only the owner; effective at once; an event for the feed.
    assert (
        client.delete(f"/v1/cameos/{cid}", params={"owner_id": "bob"}, headers=platform).status_code
        == 404
    )
    revoked = client.delete(f"/v1/cameos/{cid}", params={"owner_id": "alice"}, headers=platform)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    after = _consent(client, platform, requester_id="alice", cameo_ids=[cid], prompt="me cooking")
    assert after["decision"] == "block" and "revoked" in after["reason"]
    with session_scope() as session:
        events = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert [e.payload["reason"] for e in events] == ["permissions_changed", "revoked"]
        assert all(e.topic == "consent.revoked" and e.key == cid for e in events)
    # The revoked face still may not be used.
    revoked_likeness = client.post(
        "/v1/checks/likeness", params={"requester_id": "bob"}, content=body, headers=platform
    ).json()
    assert revoked_likeness["faces"][0]["matches"][0]["consent"] == "revoked"


def _refused(client: TestClient, platform: dict[str, str], video: Path, **fields: str) -> dict:
    before = (_count(Cameo), _count(ConsentGrant))
    challenge = new_challenge(client, platform, "carol")
    response = _enroll(client, platform, video, challenge, "carol", **fields)
    assert 400 <= response.status_code < 500, response.text
    assert (_count(Cameo), _count(ConsentGrant)) == before
    return response.json()["error"]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_enrollment_refusals_store_nothing(
    client: TestClient, platform: dict[str, str], media: dict[str, Path], tmp_path: Path
) -> None:
    assert _refused(client, platform, media["no_face_selfie.mp4"])["code"] == "no_face"
    assert _refused(client, platform, media["two_people_selfie.mp4"])["code"] == "several_faces"
    assert _refused(client, platform, media["swap_selfie.mp4"])["code"] == "identity_changes"
    assert _refused(client, platform, media["silent_selfie.mp4"])["code"] == "no_speech"
    # Speech far shorter than the six-digit phrase fails the liveness check.
    short = selfie(tmp_path, "obama2.jpg", "4")
    assert _refused(client, platform, short)["code"] == "liveness_failed"
    # A face too dark to enroll well: refused with the reason and what to do.
    dark_photo = tmp_path / "dark.png"
    pixels = np.asarray(Image.open(FACES / "obama.jpg"), dtype=np.float32) * 0.25
    Image.fromarray(pixels.astype(np.uint8)).save(dark_photo)
    dark = make_selfie(tmp_path / "dark.mp4", [dark_photo], say("1 2 3 4 5 6"), talking=True)
    error = _refused(client, platform, dark)
    assert error["code"] == "face_quality" and error["details"]["issue"] == "face_too_dark"
    assert "better light" in error["message"]
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("definitely not a video\n" * 20)
    assert _refused(client, platform, not_a_video)["code"] == "bad_media"
    photo = tmp_path / "photo.mp4"
    photo.write_bytes((FACES / "obama.jpg").read_bytes())
    error = _refused(client, platform, photo)
    assert "not a video" in error["message"]
    error = _refused(
        client, platform, media["silent_selfie.mp4"], permission="everyone", owner_is_minor="true"
    )
    assert error["code"] == "bad_permissions"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_challenge_must_belong_to_the_owner(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    challenge = new_challenge(client, platform, "dave")
    video = selfie(tmp_path, "obama.jpg", challenge["phrase"])
    response = _enroll(client, platform, video, challenge, "eve")
    assert response.status_code == 404 and response.json()["error"]["code"] == "challenge_unknown"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_protected_people_and_duplicate_faces(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    admin = auth(make_key("admin", name="ops"))
    with (FACES / "biden.jpg").open("rb") as fh:
        added = client.post(
            "/v1/protected-people",
            data={"name": "Joe Biden", "note": "head of state"},
            files=[("files", ("b.jpg", fh, "image/jpeg"))],
            headers=admin,
        )
    assert added.status_code == 201, added.text
    assert client.post(
        "/v1/protected-people", data={"name": "x"}, files=[], headers=platform
    ).status_code in (401, 403, 422)
    # Nobody can enroll a protected person's face as their cameo.
    challenge = new_challenge(client, platform, "frank")
    video = selfie(tmp_path, "biden.jpg", challenge["phrase"])
    refused = _enroll(client, platform, video, challenge, "frank")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "protected_person"
    likeness = client.post(
        "/v1/checks/likeness",
        params={"requester_id": "frank"},
        content=video.read_bytes(),
        headers=platform,
    ).json()
    assert likeness["summary"]["unconsented"] == [f"protected:{added.json()['id']}"]
    assert likeness["faces"][0]["matches"][0]["name"] == "Joe Biden"
    # One face, one owner: a second account cannot enroll an already enrolled face.
    first = new_challenge(client, platform, "gina")
    assert (
        _enroll(
            client, platform, selfie(tmp_path, "obama.jpg", first["phrase"]), first, "gina"
        ).status_code
        == 201
    )
    second = new_challenge(client, platform, "henry")
    clash = _enroll(
        client, platform, selfie(tmp_path, "obama2.jpg", second["phrase"]), second, "henry"
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "face_already_enrolled"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_likeness_rejects_bad_uploads(client: TestClient, platform: dict[str, str]) -> None:
    response = client.post("/v1/checks/likeness", content=b"garbage" * 100, headers=platform)
    assert response.status_code == 415
    assert client.post("/v1/checks/likeness", content=b"", headers=platform).status_code == 422


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_consent_check_fails_closed_without_the_restriction_embedder(
    client: TestClient, platform: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from safety.consent import checks
    from safety.models.text_embedder import ModelUnavailable

    def broken() -> None:
        raise ModelUnavailable("weights missing")

    monkeypatch.setattr(checks, "restriction_embedder", broken)
    response = client.post(
        "/v1/checks/consent",
        json={"requester_id": "bob", "cameo_ids": ["cam_any"], "prompt": "alice cooking"},
        headers=platform,
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"
