"""The policy routes over HTTP, on the real model: shapes, audit, bad input, fail closed."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from cameoguard.audit.log import recent
from cameoguard.db import session_scope
from safety.policy import engine as engine_module
from safety.policy import service
from safety.policy.pack import OPENAI_CATEGORIES
from tests.conftest import auth, make_key


@pytest.fixture
def platform_key(database: str) -> str:
    return make_key("platform", name="backend")


def test_moderations_accepts_the_openai_shape(client: TestClient, platform_key: str) -> None:
    one = client.post(
        "/v1/moderations", json={"input": "a cat on a mat"}, headers=auth(platform_key)
    )
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["id"].startswith("modr-") and body["model"].startswith("cameoguard-")
    assert len(body["results"]) == 1
    result = body["results"][0]
    assert result["flagged"] is False
    assert set(OPENAI_CATEGORIES) <= set(result["categories"])
    assert all(0.0 <= s <= 1.0 for s in result["category_scores"].values())

    many = client.post(
        "/v1/moderations",
        json={
            "input": ["a cat on a mat", "I will kill you, you bitch"],
            "model": "omni-moderation-latest",
        },
        headers=auth(platform_key),
    )
    flags = [r["flagged"] for r in many.json()["results"]]
    assert flags == [False, True]
    assert many.json()["results"][1]["categories"]["harassment/threatening"] is True


def test_prompt_check_gives_the_decision_and_is_audited(
    client: TestClient, platform_key: str
) -> None:
    prompt = "a naked sexy teen girl"
    response = client.post(
        "/v1/checks/prompt",
        json={
            "prompt": prompt,
            "requester": {"id": "u1", "age_group": "adult"},
            "cameo_ids": ["c1"],
        },
        headers=auth(platform_key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decision"] == "block"
    assert "sexual/minors" in body["flagged"]
    assert body["categories"]["sexual/minors"]["threshold_set"] == "default+cameo"
    assert body["pack"].startswith("cameoguard-default@")
    with session_scope() as session:
        entry = recent(session, limit=1)[0]
    assert entry.action == "policy.check" and entry.subject == f"check:{body['id']}"
    details = json.loads(entry.details)
    assert details["decision"] == "block" and details["requester"] == "u1"
    assert prompt not in entry.details and prompt not in entry.reason
    assert len(details["prompt_sha256"]) == 64


def test_allowed_prompt(client: TestClient, platform_key: str) -> None:
    response = client.post(
        "/v1/checks/prompt",
        json={
            "prompt": "a hot air balloon over a lavender field",
            "requester": {"id": "u2", "age_group": "teen"},
        },
        headers=auth(platform_key),
    )
    assert response.json()["decision"] == "allow"
    assert response.json()["reasons"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"input": ""}, 422),
        ({"input": "   "}, 422),
        ({"input": []}, 422),
        ({"input": ["ok"] * 10_000}, 422),
        ({"input": 5}, 422),
        ({"input": {"text": "x"}}, 422),
        ({"input": [1, 2]}, 422),
        ({"input": "null byte \u0000 here"}, 422),
        ({"input": "bell \u0007"}, 422),
        ({"input": "x" * 20_001}, 422),
        ({"text": "wrong field"}, 422),
    ],
)
def test_bad_moderation_input_is_4xx(client: TestClient, platform_key: str, body, status) -> None:
    response = client.post("/v1/moderations", json=body, headers=auth(platform_key))
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_bad_bytes_and_huge_bodies_are_4xx_and_service_keeps_serving(
    client: TestClient, platform_key: str
) -> None:
    headers = {**auth(platform_key), "Content-Type": "application/json"}
    invalid_utf8 = client.post(
        "/v1/checks/prompt", content=b'{"prompt": "\xff\xfe"}', headers=headers
    )
    assert invalid_utf8.status_code == 400
    assert invalid_utf8.json()["error"]["code"] == "bad_request"
    huge = client.post(
        "/v1/checks/prompt", content=b'{"prompt": "' + b"a" * 1_100_000 + b'"}', headers=headers
    )
    assert huge.status_code == 413
    wrong = client.post(
        "/v1/checks/prompt",
        json={"prompt": "hi", "requester": {"id": 7}},
        headers=auth(platform_key),
    )
    assert wrong.status_code == 422
    # Valid JSON, but "\ud800" decodes to a lone surrogate, which no encoder takes: 422, not 503.
    for route, field in [("/v1/checks/prompt", "prompt"), ("/v1/moderations", "input")]:
        surrogate = client.post(route, content=f'{{"{field}": "a \\ud800 b"}}', headers=headers)
        assert surrogate.status_code == 422, surrogate.text
    fine = client.post(
        "/v1/checks/prompt", json={"prompt": "a sunny day"}, headers=auth(platform_key)
    )
    assert fine.status_code == 200


def test_reviewer_key_cannot_check_prompts(client: TestClient) -> None:
    reviewer = make_key("reviewer")
    response = client.post("/v1/checks/prompt", json={"prompt": "hi"}, headers=auth(reviewer))
    assert response.status_code == 403


def test_missing_model_fails_closed(client: TestClient, platform_key: str, monkeypatch) -> None:
    real = engine_module.current_engine()
    assert real is not None
    monkeypatch.setattr(service, "_load_error", "ModelUnavailable: weights not found")
    engine_module.set_engine(None)
    try:
        ready = client.get("/readyz", headers=auth(make_key("admin")))
        assert ready.status_code == 503
        assert "weights not found" in json.dumps(ready.json())
        for path, body in (
            ("/v1/checks/prompt", {"prompt": "a sunny day"}),
            ("/v1/moderations", {"input": "a sunny day"}),
        ):
            response = client.post(path, json=body, headers=auth(platform_key))
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "model_unavailable"
    finally:
        engine_module.set_engine(real)


def test_policy_info_and_reload(client: TestClient, tmp_path, monkeypatch) -> None:
    admin = make_key("admin")
    info = client.get("/v1/policy", headers=auth(admin)).json()
    assert info["pack"].startswith("cameoguard-default@")
    assert info["categories"]["sexual/minors"]["thresholds"]["block"] == 0.5

    engine = engine_module.current_engine()
    assert engine is not None
    original_path = engine.store.path
    broken = tmp_path / "pack.yaml"
    broken.write_text(
        original_path.read_text().replace("review: 0.45, block: 0.85", "review: 2, block: 0.85", 1)
    )
    monkeypatch.setattr(engine.store, "path", broken)
    refused = client.post("/v1/admin/policy/reload", headers=auth(admin))
    assert refused.status_code == 422
    details = refused.json()["error"]["details"]
    assert details["file"] == "pack.yaml" and details["line"] > 1
    assert engine.pack.ref == info["pack"]  # the running pack stays
    monkeypatch.setattr(engine.store, "path", original_path)
    assert client.post("/v1/admin/policy/reload", headers=auth(admin)).status_code == 200


def test_a_model_call_that_never_returns_is_a_503(
    client: TestClient, platform_key: str, monkeypatch
) -> None:
    """A stuck model worker must not hold checks forever, nor let them through."""
    from concurrent.futures import Future

    engine = engine_module.current_engine()
    assert engine is not None

    class Stuck:
        def __call__(self, texts: list[str]) -> list[dict[str, float]]:
            raise AssertionError("the async path must not call the model synchronously")

        def submit(self, texts: list[str]) -> Future[list[dict[str, float]]]:
            return Future()  # never completed

    monkeypatch.setattr(engine_module, "MODEL_TIMEOUT_S", 0.3)
    monkeypatch.setattr(engine, "predict", Stuck())
    for path, body in (
        ("/v1/checks/prompt", {"prompt": "a sunny day"}),
        ("/v1/moderations", {"input": "a sunny day"}),
    ):
        response = client.post(path, json=body, headers=auth(platform_key))
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "model_error"


def test_an_audit_write_that_never_commits_fails_the_check(
    client: TestClient, platform_key: str, monkeypatch
) -> None:
    """The answer waits for its audit entry; a stuck writer turns into a 503, never an answer
    without its record."""
    from concurrent.futures import Future

    from safety.policy import api as policy_api

    class StuckWriter:
        def submit(self, entry: object) -> Future[int]:
            return Future()  # never committed

    monkeypatch.setattr(policy_api, "AUDIT_TIMEOUT_S", 0.3)
    monkeypatch.setattr(policy_api, "appender", lambda: StuckWriter())
    response = client.post(
        "/v1/checks/prompt", json={"prompt": "a sunny day"}, headers=auth(platform_key)
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "database_unavailable"


def test_moderations_take_the_readers_age_group_and_openai_text_parts(
    client: TestClient, platform_key: str
) -> None:
    # Between the teen and adult review lines: harassment 0.51 (teen 0.4, adult 0.6), no rule.
    text = "sal3 conn4rd personne t'aime"
    adult = client.post("/v1/moderations", json={"input": text}, headers=auth(platform_key))
    teen = client.post(
        "/v1/moderations", json={"input": text, "age_group": "teen"}, headers=auth(platform_key)
    )
    assert adult.status_code == teen.status_code == 200, teen.text
    assert adult.json()["results"][0]["flagged"] is False
    assert teen.json()["results"][0]["flagged"] is True  # the teen thresholds
    parts = {"input": [{"type": "text", "text": text}, "a cat on a mat"], "age_group": "teen"}
    both = client.post("/v1/moderations", json=parts, headers=auth(platform_key))
    assert [r["flagged"] for r in both.json()["results"]] == [True, False]


def test_moderations_name_the_supported_input_types_for_an_image(
    client: TestClient, platform_key: str
) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    body = {"input": [{"type": "text", "text": "hello"}, image]}
    response = client.post("/v1/moderations", json=body, headers=auth(platform_key))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unsupported_input_type" and "'image_url'" in error["message"]
    assert error["details"] == {"supported_input_types": ["text"]}
