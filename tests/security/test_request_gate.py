"""The request gate and the web defences: a request is decided from its headers before any body
is read (key, scope, rate limits), each route's body limit holds whatever content type is
declared, floods without a valid key get 429 per address, every response carries the web
defences, and /readyz tells details to admins only."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cameoguard import broker
from cameoguard.ratelimit import reset_limiter
from cameoguard.settings import reset_settings_cache
from tests.conftest import auth, make_key


def _call(app: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """Calls the ASGI app directly with a body it would have to read; returns the status and
    how many times the app asked for body bytes."""
    asked = 0
    sent: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        return {"type": "http.request", "body": b"x" * 65536, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return sent["status"], asked


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/checks/prompt", "application/json"),
        ("/v1/checks/prompt", "application/octet-stream"),
        ("/v1/cameos", "multipart/form-data; boundary=xyz"),
        ("/v1/checks/likeness", "application/octet-stream"),
    ],
)
def test_no_body_is_read_before_the_key_is_checked(
    client: TestClient, path: str, content_type: str
) -> None:
    huge = {"content-type": content_type, "content-length": str(199 * 1024 * 1024)}
    status, asked = _call(client.app, "POST", path, huge)
    assert (status, asked) == (401, 0)
    status, asked = _call(client.app, "POST", path, {**huge, **auth("cg_00000000_" + "x" * 43)})
    assert (status, asked) == (401, 0)
    reviewer = make_key("auditor")  # a valid key without the route's scope
    if path != "/v1/checks/likeness":
        status, asked = _call(client.app, "POST", path, {**huge, **auth(reviewer)})
        assert (status, asked) == (403, 0)


def test_each_route_keeps_its_own_body_limit_whatever_the_type(client: TestClient) -> None:
    key = make_key("platform")
    two_mb = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    for content_type in ("application/json", "application/octet-stream", "multipart/form-data"):
        answer = client.post(
            "/v1/checks/prompt",
            content=two_mb,
            headers={**auth(key), "content-type": content_type},
        )
        assert answer.status_code == 413, (content_type, answer.text)
        assert answer.json()["error"]["code"] == "payload_too_large"


def test_without_a_key_a_bad_body_is_still_401(client: TestClient) -> None:
    for body in (b"{not json", b"[]", b""):
        answer = client.post(
            "/v1/checks/prompt", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 401, answer.text


def test_floods_without_a_valid_key_get_429_per_address(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = make_key("platform")
    monkeypatch.setenv("CAMEOGUARD_UNAUTHENTICATED_RATE_LIMIT_PER_MINUTE", "60")
    monkeypatch.setenv("CAMEOGUARD_UNAUTHENTICATED_RATE_LIMIT_BURST", "5")
    reset_settings_cache()
    reset_limiter()
    bad = auth("cg_00000000_" + "y" * 43)
    codes = [client.get("/v1/whoami", headers=bad).status_code for _ in range(12)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    limited = client.get("/metrics")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # A caller with a valid key is not held back by the flood from its address.
    assert client.get("/v1/whoami", headers=auth(key)).status_code == 200


def test_every_response_carries_the_web_defences(client: TestClient) -> None:
    page = client.get("/review")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    admin = make_key("admin")
    created = client.post(
        "/v1/admin/keys", json={"name": "n", "scopes": ["platform"]}, headers=auth(admin)
    )
    assert created.status_code == 201
    for response in (page, created, client.get("/healthz"), client.get("/v1/whoami")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in created.headers["content-security-policy"]


def test_readyz_details_are_for_admins_only(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMEOGUARD_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    reset_settings_cache()
    anyone = client.get("/readyz").json()["parts"]
    assert anyone["broker"] == {"ok": False, "required": False}
    assert "127.0.0.1:1" not in str(anyone)
    detailed = client.get("/readyz", headers=auth(make_key("admin"))).json()["parts"]
    assert detailed["broker"]["bootstrap"] == "127.0.0.1:1" and "error" in detailed["broker"]
    platform = client.get("/readyz", headers=auth(make_key("platform"))).json()["parts"]
    assert "bootstrap" not in platform["broker"]


def test_a_readiness_storm_costs_one_broker_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thirty concurrent probes of an unreachable broker whose answer expired: one background
    probe runs, and every caller gets the last answer at once."""
    probes: list[str] = []

    def slow_probe(bootstrap: str, timeout_s: float) -> None:
        probes.append(bootstrap)
        time.sleep(1.0)
        broker._cache[bootstrap] = (time.monotonic(), "down")

    monkeypatch.setattr(broker, "_probe", slow_probe)
    monkeypatch.setitem(broker._cache, "storm:1", (time.monotonic() - 60, "down"))
    took: list[float] = []

    def ask() -> None:
        started = time.monotonic()
        assert broker.probe_broker("storm:1") == "down"
        took.append(time.monotonic() - started)

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(took) < 0.5
    deadline = time.monotonic() + 3
    while broker._refreshing and time.monotonic() < deadline:
        time.sleep(0.05)
    assert probes == ["storm:1"]
