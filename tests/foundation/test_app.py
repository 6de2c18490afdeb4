from __future__ import annotations

import os
import re

import pytest
from fastapi.testclient import TestClient

from cameoguard.auth.principal import Scope
from cameoguard.health import _model_checks, register_model_check
from cameoguard.middleware import api_routes, route_scopes
from cameoguard.ratelimit import reset_limiter
from cameoguard.settings import reset_settings_cache
from tests.conftest import auth, make_key

PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
}


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_each_part(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMEOGUARD_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    from cameoguard.settings import reset_settings_cache
    from safety.consent.models import get_models, restriction_embedder

    get_models()  # loaded in the background at start; run first, the test would see "loading"
    restriction_embedder()

    reset_settings_cache()
    admin = make_key("admin")
    response = client.get("/readyz", headers=auth(admin))
    body = response.json()
    assert set(body["parts"]) == {"database", "broker", "models", "workers"}
    assert body["parts"]["workers"]["required"] is False  # no worker runs here: reported only
    assert body["parts"]["database"]["ok"] is True
    assert body["parts"]["database"]["required"] is True
    # The broker is down here; by default it is reported but not required.
    assert body["parts"]["broker"]["ok"] is False
    assert body["parts"]["broker"]["required"] is False
    assert response.status_code == 200 and body["status"] == "ready"


def test_readyz_fails_when_a_required_part_is_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cameoguard.settings import reset_settings_cache

    monkeypatch.setenv("CAMEOGUARD_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("CAMEOGUARD_READY_REQUIRES", "database,broker")
    reset_settings_cache()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"


def test_a_model_that_failed_to_load_fails_readiness(client: TestClient) -> None:
    def broken() -> str | None:
        raise RuntimeError("weights not found")

    register_model_check("test-broken-model", broken)
    try:
        response = client.get("/readyz", headers=auth(make_key("admin")))
        assert response.status_code == 503
        model = response.json()["parts"]["models"]["models"]["test-broken-model"]
        assert model["ok"] is False and "weights not found" in model["error"]
    finally:
        _model_checks.pop("test-broken-model")


@pytest.mark.kafka
def test_readyz_sees_the_real_broker(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    bootstrap = os.environ.get("CAMEOGUARD_TEST_KAFKA_BOOTSTRAP")
    if not bootstrap:
        if os.environ.get("CI"):
            pytest.fail("CI must run the broker tests: CAMEOGUARD_TEST_KAFKA_BOOTSTRAP is unset")
        pytest.skip("no broker: use scripts/test.sh")
    from cameoguard.settings import reset_settings_cache

    monkeypatch.setenv("CAMEOGUARD_KAFKA_BOOTSTRAP", bootstrap)
    monkeypatch.setenv("CAMEOGUARD_READY_REQUIRES", "database,broker,models")
    reset_settings_cache()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["parts"]["broker"]["ok"] is True


def test_readyz_and_checks_fail_closed_when_the_database_is_gone(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from cameoguard.db import reset_engine
    from cameoguard.settings import reset_settings_cache

    key = make_key("platform")
    monkeypatch.setenv("CAMEOGUARD_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    reset_settings_cache()
    reset_engine()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["parts"]["database"]["ok"] is False
    denied = client.get("/v1/whoami", headers=auth(key))
    assert denied.status_code == 503
    assert denied.json()["error"]["code"] == "database_unavailable"


def test_metrics_exposes_request_counters(client: TestClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'cameoguard_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "cameoguard_http_request_seconds_bucket" in text


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 32


def test_oversize_body_is_413(client: TestClient, admin_key: str) -> None:
    response = client.post(
        "/v1/admin/keys",
        content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
        headers={**auth(admin_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_chunked_oversize_body_is_413(client: TestClient, admin_key: str) -> None:
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(
        "/v1/admin/keys",
        content=chunks(),
        headers={**auth(admin_key), "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_invalid_json_and_wrong_types_are_422(client: TestClient, admin_key: str) -> None:
    bad = client.post(
        "/v1/admin/keys",
        content=b"{not json",
        headers={**auth(admin_key), "Content-Type": "application/json"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_request"
    invalid_utf8 = client.post(
        "/v1/admin/keys",
        content=b'{"name": "\xff\xfe", "scopes": ["admin"]}',
        headers={**auth(admin_key), "Content-Type": "application/json"},
    )
    assert invalid_utf8.status_code in (400, 422)
    assert "error" in invalid_utf8.json()


def test_unknown_route_is_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_every_v1_route_demands_a_key(client: TestClient) -> None:
    """Enumerates every operation of the OpenAPI document: each non-public one rejects an
    anonymous call with 401 before it looks at the request."""
    spec = client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        if path in PUBLIC_PATHS:
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in operations:
            response = client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 6


def test_docs_and_openapi_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/admin/keys" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_every_v1_route_enforces_its_scopes(client: TestClient) -> None:
    """Enumerates the app's routes: each /v1 route names the scopes it admits, and a valid key
    holding only another scope gets 403 before anything runs."""
    keys = {scope.value: make_key(scope.value, name=f"only-{scope.value}") for scope in Scope}
    checked = 0
    routes = [r for r in api_routes(client.app.routes) if r.path.startswith("/v1/")]  # type: ignore[attr-defined]
    assert len(routes) >= 40
    for route in routes:
        allowed = route_scopes(route)
        assert allowed, f"{route.path} has no scope guard"
        concrete = re.sub(r"\{[^}]+\}", "x", route.path)
        for scope, key in keys.items():
            if scope in allowed:
                continue
            for method in route.methods:
                response = client.request(method, concrete, json={}, headers=auth(key))
                assert response.status_code == 403, (method, route.path, scope, response.text)
                checked += 1
    assert checked >= 60


def test_a_key_over_its_rate_limit_gets_429(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMEOGUARD_RATE_LIMIT_PER_MINUTE", "60")
    monkeypatch.setenv("CAMEOGUARD_RATE_LIMIT_BURST", "3")
    reset_settings_cache()
    reset_limiter()
    try:
        busy, other = make_key("platform", name="busy"), make_key("platform", name="other")
        codes = [client.get("/v1/whoami", headers=auth(busy)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = client.get("/v1/whoami", headers=auth(busy))
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/v1/whoami", headers=auth(other)).status_code == 200  # per key
    finally:
        reset_limiter()
