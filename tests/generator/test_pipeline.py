"""The generation pipeline end to end through the API and a worker, on SQLite and PostgreSQL,
with the real models, the embedded renderer, real MP4s and real signatures: a permitted
generation is rendered, scanned, marked, signed, read back, stored and published; blocks and
holds stop it with the reason; revocation cancels; bad input gets a clear answer."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assembly.reactions import all_reactions
from cameoguard import media_store
from cameoguard.contracts import CONSENT_REVOKED, GENERATION_STATE, validate
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from cameoguard.settings import get_settings
from consumers.runner import reactions_handler
from consumers.tables import FeedItem
from generator.pipeline import Tools
from provenance.verify import verify_file
from safety.consent import cameos
from safety.consent.tables import Cameo
from safety.review.tables import ReviewCase
from tests.conftest import auth, make_key
from tests.generator.conftest import job, run_queue, submit

STEPS = [
    "prompt_check",
    "consent_check",
    "reference_check",
    "render",
    "output_scan",
    "mark_and_sign",
    "store",
]


def _stored_files() -> list[Path]:
    root = get_settings().effective_media_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.slow
def test_a_permitted_generation_is_rendered_marked_signed_and_published(
    client: TestClient, platform: dict[str, str], tools: Tools, tmp_path: Path
) -> None:
    created = submit(
        client, platform, publish={"caption": "surf's up", "audience_age_group": "all"}
    )
    assert created["state"] == "queued" and created["created"]
    assert run_queue(tools) == 1
    done = job(client, platform, created["generation_id"])
    assert done["state"] == "done", done
    assert [s["step"] for s in done["steps"]] == STEPS
    assert all(s["outcome"] == "ok" and s["ms"] >= 0 for s in done["steps"])
    render = done["steps"][3]["details"]
    assert render["transcript"] == "what a day" and render["size"] == "640x360"
    mark = done["steps"][5]["details"]
    assert mark["watermark_read_back"] and mark["c2pa"] == "signed"

    media = client.get(done["media"], headers=platform)
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    out = tmp_path / "out.mp4"
    out.write_bytes(media.content)
    report = verify_file(out, full_record=True)
    assert report["c2pa"]["state"] == "Trusted"
    assert report["watermark"]["found"] and report["watermark"]["id"] == done["watermark_id"]
    assert report["record"]["generation_id"] == created["generation_id"]

    with session_scope() as session:
        item = session.get(FeedItem, created["generation_id"])
        assert item is not None and item.caption == "surf's up"
        assert item.provenance["watermark_id"] == done["watermark_id"]
        published = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "content.published")
        ).all()
        changes = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == GENERATION_STATE)
            .order_by(OutboxEvent.id)
        ).all()
    assert [e.key for e in published] == [created["generation_id"]]
    # Every state change goes out for the platform's consumers and webhooks, in order.
    states = [validate(GENERATION_STATE, e.payload) for e in changes]
    assert {e.key for e in changes} == {created["generation_id"]}
    assert [s.state for s in states] == ["queued", "running", "done"]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_blocks_and_holds_stop_the_job_with_the_reason(
    client: TestClient, platform: dict[str, str], tools: Tools
) -> None:
    blocked = submit(client, platform, prompt="a naked child in a bathtub")
    held = submit(client, platform, prompt="a nude woman lying on a bed")
    before = _stored_files()
    assert run_queue(tools) == 2
    b = job(client, platform, blocked["generation_id"])
    assert b["state"] == "blocked" and b["reason"].startswith("prompt_check:")
    assert [s["step"] for s in b["steps"]] == ["prompt_check"] and b["media"] is None
    h = job(client, platform, held["generation_id"])
    assert h["state"] == "held" and h["review_case_id"]
    assert _stored_files() == before  # nothing rendered was kept

    # A reviewer approves the held prompt: the job resumes and completes.
    reviewer = make_key("reviewer", roles=["child_safety"])
    case = client.post("/v1/review/claims", headers=auth(reviewer)).json()["case"]
    assert case["kind"] == "generation" and case["item_id"] == held["generation_id"]
    decided = client.post(
        f"/v1/review/cases/{case['case_id']}/decision",
        json={"action": "approve", "reason_code": "allowed_context"},
        headers=auth(reviewer),
    )
    assert decided.status_code == 200
    with session_scope() as session:
        assert (
            session.scalar(
                select(OutboxEvent.id).where(
                    OutboxEvent.key == held["generation_id"],
                    OutboxEvent.topic == "content.published",
                )
            )
            is None
        )
    assert run_queue(tools) == 1
    resumed = job(client, platform, held["generation_id"])
    assert resumed["state"] == "done", resumed
    assert "a reviewer approved" in resumed["steps"][0]["details"]["note"]


@pytest.mark.slow
def test_someone_elses_cameo_without_consent_is_blocked(
    client: TestClient, platform: dict[str, str], tools: Tools
) -> None:
    with session_scope(write=True) as session:
        session.add(Cameo(id="cam_alice", owner_id="alice", permission="only_me", face_model="t"))
    created = submit(client, platform, prompt="a person waves hello", cameo_ids=["cam_alice"])
    run_queue(tools)
    result = job(client, platform, created["generation_id"])
    assert result["state"] == "blocked"
    assert result["steps"][-1]["step"] == "consent_check"
    assert "cam_alice" in result["reason"]


@pytest.mark.slow
def test_a_revoked_cameo_cancels_queued_jobs(
    client: TestClient, platform: dict[str, str], tools: Tools
) -> None:
    with session_scope(write=True) as session:
        session.add(Cameo(id="cam_bob", owner_id="bob", permission="only_me", face_model="t"))
    created = submit(client, platform, prompt="me on a beach", cameo_ids=["cam_bob"])
    cameos.revoke("cam_bob", "bob", actor="test", tenant="")
    with session_scope() as session:
        event = session.scalar(select(OutboxEvent).where(OutboxEvent.topic == CONSENT_REVOKED))
        assert event is not None
        payload = event.payload
    # What the reactions worker does with it: the generator's own reaction cancels the job.
    reactions_handler(all_reactions())(CONSENT_REVOKED, validate(CONSENT_REVOKED, payload), {})
    cancelled = job(client, platform, created["generation_id"])
    assert cancelled["state"] == "cancelled" and "revoked" in cancelled["reason"]
    assert run_queue(tools) == 0


@pytest.mark.slow
def test_a_full_disk_fails_the_job_cleanly(
    client: TestClient,
    platform: dict[str, str],
    tools: Tools,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def disk_full(path: Path, suffix: str = ".mp4") -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(media_store, "put", disk_full)
    created = submit(client, platform, publish={"caption": "x"})
    run_queue(tools)
    failed = job(client, platform, created["generation_id"])
    assert failed["state"] == "failed" and "No space left" in failed["reason"]
    assert failed["steps"][-1]["step"] == "store" and failed["media"] is None
    with session_scope() as session:
        assert session.get(FeedItem, created["generation_id"]) is None  # nothing published
    assert not list(get_settings().effective_media_dir.rglob("*.partial"))


def test_bad_requests_get_clear_answers(client: TestClient, platform: dict[str, str]) -> None:
    def post(**body: object) -> tuple[int, str]:
        payload = {"requester_id": "bob", "prompt": "a cat", "idempotency_key": "k-12345678"}
        answer = client.post("/v1/generations", json={**payload, **body}, headers=platform)
        return answer.status_code, answer.json().get("error", {}).get("code", "")

    assert post(duration_s=600) == (422, "too_long")
    assert post(aspect_ratio="4:3") == (422, "bad_aspect_ratio")
    assert post(cameo_ids=["cam_nobody"]) == (422, "unknown_cameo")
    assert post(reference_location="../../etc/passwd") == (422, "bad_reference")
    missing = client.post(
        "/v1/generations", json={"requester_id": "bob", "prompt": "a cat"}, headers=platform
    )
    assert missing.status_code == 422
    not_media = client.post(
        "/v1/generations/references", content=b"%PDF-1.4 not media" * 50, headers=platform
    )
    assert not_media.status_code == 415 and not_media.json()["error"]["code"] == "bad_media"
    # The same idempotency key: the same job, or a 409 for a different request.
    first = client.post(
        "/v1/generations",
        json={"requester_id": "bob", "prompt": "a cat", "idempotency_key": "same-key-1"},
        headers=platform,
    )
    again = client.post(
        "/v1/generations",
        json={"requester_id": "bob", "prompt": "a cat", "idempotency_key": "same-key-1"},
        headers=platform,
    )
    assert first.status_code == again.status_code == 202
    assert again.json()["generation_id"] == first.json()["generation_id"]
    assert not again.json()["created"]
    other = client.post(
        "/v1/generations",
        json={"requester_id": "bob", "prompt": "a dog", "idempotency_key": "same-key-1"},
        headers=platform,
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert client.get("/v1/generations/gen_nope", headers=platform).status_code == 404
    queued = first.json()["generation_id"]
    assert client.get(f"/v1/generations/{queued}/media", headers=platform).status_code == 409
    reviewer = auth(make_key("reviewer"))
    assert client.post("/v1/generations", json={}, headers=reviewer).status_code == 403
    with session_scope() as session:
        assert session.scalar(select(ReviewCase.id)) is None
