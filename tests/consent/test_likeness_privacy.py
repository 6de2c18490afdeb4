"""Likeness searches are audited and do not tell reviewers or auditors whose face it is; a
caller's made-up cameo ids do not become audit subjects."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cameoguard.audit.log import recent
from cameoguard.db import session_scope
from safety.consent.models import LikenessModels
from tests.conftest import auth, make_key
from tests.consent.conftest import FACES


def _protect(client: TestClient, admin: str) -> str:
    with (FACES / "obama.jpg").open("rb") as photo:
        answer = client.post(
            "/v1/protected-people",
            data={"name": "A public figure"},
            files={"files": ("p.jpg", photo, "image/jpeg")},
            headers=auth(admin),
        )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_likeness_search_is_audited_and_blind_for_reviewers(
    client: TestClient, models: LikenessModels
) -> None:
    admin, platform = make_key("admin"), make_key("platform")
    reviewer, auditor = make_key("reviewer"), make_key("auditor")
    person = _protect(client, admin)
    photo = (FACES / "obama2.jpg").read_bytes()

    full = client.post("/v1/checks/likeness?requester_id=u1", content=photo, headers=auth(platform))
    assert full.status_code == 200, full.text
    match = full.json()["faces"][0]["matches"][0]
    assert match["id"] == person and match["kind"] == "protected"
    assert full.json()["summary"]["matched"] == [f"protected:{person}"]

    for key in (reviewer, auditor):
        blind = client.post("/v1/checks/likeness", content=photo, headers=auth(key))
        assert blind.status_code == 200, blind.text
        shown = blind.json()["faces"][0]["matches"][0]
        assert shown["matched"] is True and shown["kind"] == "protected"
        assert "id" not in shown and "consent" not in shown
        assert person not in blind.text
        assert blind.json()["summary"]["matched"] == ["protected"]

    with session_scope() as session:
        searches = [e for e in recent(session, limit=50) if e.action == "likeness.search"]
    assert len(searches) == 3
    assert {e.actor for e in searches} == {f"key:{k[3:11]}" for k in (platform, reviewer, auditor)}
    assert all(person not in e.details and person not in e.subject for e in searches)
    assert '"matches":1' in searches[0].details


def test_made_up_cameo_ids_are_not_audit_subjects(
    client: TestClient, models: LikenessModels
) -> None:
    platform = make_key("platform")
    answer = client.post(
        "/v1/checks/consent",
        json={"requester_id": "u1", "cameo_ids": ["case_123"], "prompt": "a walk in the park"},
        headers=auth(platform),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "block"
    with session_scope() as session:
        entry = next(e for e in recent(session, limit=10) if e.action == "consent.check")
    assert entry.subject == "cameo:unknown" and "case_123" in entry.details
