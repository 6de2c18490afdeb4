"""What users write in their reports reaches the reviewer who holds the case."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import auth, make_key
from tests.review.conftest import publish, score


def test_report_notes_reach_the_reviewer(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    publish(client, platform_key, clip_bytes, "it_notes")
    score("it_notes")
    for reporter, note in (("u1", "they posted my address in the caption"), ("u2", "")):
        answer = client.post(
            "/v1/reports",
            json={"item_id": "it_notes", "reporter_id": reporter, "reason": "harassment",
                  "note": note},
            headers=auth(platform_key),
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
    reviewer = make_key("reviewer")
    case = client.post("/v1/review/claims", headers=auth(reviewer)).json()["case"]
    assert [r["note"] for r in case["reports"]] == ["they posted my address in the caption", ""]
    assert {r["reason"] for r in case["reports"]} == {"harassment"}
    assert "u1" not in str(case["reports"])  # reporters stay anonymous to reviewers
