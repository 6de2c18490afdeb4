from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cameoguard.audit.tables import AuditEntry
from cameoguard.auth.cache import PrincipalCache, forget_all
from cameoguard.auth.principal import Principal
from cameoguard.auth.tables import ApiKey
from cameoguard.db import session_scope, utcnow
from cameoguard.settings import reset_settings_cache
from tests.conftest import auth, make_key


def audit_count() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_missing_key_is_401_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/v1/whoami")
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "unauthenticated"
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_malformed_and_unknown_keys_are_401(client: TestClient) -> None:
    for key in ["nope", "cg_00000000_" + "a" * 43, "cg_zz_" + "a" * 43, "cg_" + "a" * 5000]:
        response = client.get("/v1/whoami", headers={"X-API-Key": key})
        assert response.status_code == 401, key


def test_valid_key_and_x_api_key_header(client: TestClient) -> None:
    key = make_key("reviewer", roles=["child_safety"], name="ana")
    for headers in (auth(key), {"X-API-Key": key}):
        response = client.get("/v1/whoami", headers=headers)
        assert response.status_code == 200
        assert response.json()["scopes"] == ["reviewer"]
        assert response.json()["roles"] == ["child_safety"]
        assert response.json()["name"] == "ana"


def test_key_of_another_owner_with_same_id_but_wrong_secret(client: TestClient) -> None:
    key = make_key("platform")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/v1/whoami", headers=auth(forged)).status_code == 401


def test_wrong_scope_is_403_and_changes_nothing(client: TestClient) -> None:
    reviewer = make_key("reviewer")
    before = audit_count()
    response = client.post(
        "/v1/admin/keys", json={"name": "x", "scopes": ["admin"]}, headers=auth(reviewer)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert audit_count() == before
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_admin_creates_lists_and_revokes_keys(client: TestClient, admin_key: str) -> None:
    created = client.post(
        "/v1/admin/keys",
        json={"name": "platform backend", "scopes": ["platform"]},
        headers=auth(admin_key),
    )
    assert created.status_code == 201
    new_key = created.json()["key"]
    assert client.get("/v1/whoami", headers=auth(new_key)).status_code == 200

    listed = client.get("/v1/admin/keys", headers=auth(admin_key)).json()
    assert {k["name"] for k in listed} == {"admin", "platform backend"}
    assert all("key" not in k and "key_hash" not in k for k in listed)

    key_id = created.json()["id"]
    revoked = client.post(
        f"/v1/admin/keys/{key_id}/revoke", json={"reason": "rotated"}, headers=auth(admin_key)
    )
    assert revoked.status_code == 204
    assert client.get("/v1/whoami", headers=auth(new_key)).status_code == 401
    again = client.post(
        f"/v1/admin/keys/{key_id}/revoke", json={"reason": "again"}, headers=auth(admin_key)
    )
    assert again.status_code == 404


def test_keys_are_stored_hashed(client: TestClient) -> None:
    key = make_key("auditor")
    with session_scope() as session:
        row = session.scalars(select(ApiKey)).one()
        stored = " ".join(str(v) for v in (row.id, row.name, row.key_hash, row.scopes))
    secret_part = key.split("_", 2)[2]
    assert secret_part not in stored
    assert len(row.key_hash) == 64


def test_bad_key_requests_are_422_and_create_nothing(client: TestClient, admin_key: str) -> None:
    before = audit_count()
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["admin"]},
        {"name": "x", "scopes": ["reviewer"], "roles": ["wizard"]},
        {"name": 7, "scopes": "admin"},
    ):
        response = client.post("/v1/admin/keys", json=body, headers=auth(admin_key))
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    assert audit_count() == before


def test_key_actions_are_audited(client: TestClient, admin_key: str) -> None:
    created = client.post(
        "/v1/admin/keys", json={"name": "r", "scopes": ["reviewer"]}, headers=auth(admin_key)
    ).json()
    client.post(
        f"/v1/admin/keys/{created['id']}/revoke", json={"reason": "left"}, headers=auth(admin_key)
    )
    entries = client.get("/v1/audit/entries", headers=auth(admin_key)).json()
    actions = [(e["action"], e["subject"]) for e in entries]
    assert ("key.revoke", f"key:{created['id']}") in actions
    assert ("key.create", f"key:{created['id']}") in actions
    revoke = next(e for e in entries if e["action"] == "key.revoke")
    assert revoke["reason"] == "left"
    assert revoke["actor"].startswith("key:")


def _revoke_behind_the_services_back(key: str) -> None:
    """What another replica or the CLI does: the row changes, this process is not told."""
    key_id = key.split("_")[1]
    with session_scope() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None
        row.revoked_at = utcnow()


@pytest.mark.parametrize("ttl", [0.0, 2.0])  # 2 s: a slow CI machine still answers within it
def test_a_revocation_by_another_process_applies_within_the_cache_time(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, ttl: float
) -> None:
    monkeypatch.setenv("CAMEOGUARD_AUTH_CACHE_SECONDS", str(ttl))
    reset_settings_cache()
    forget_all()
    key = make_key("platform")
    assert client.get("/v1/whoami", headers=auth(key)).status_code == 200
    _revoke_behind_the_services_back(key)
    if ttl:
        assert client.get("/v1/whoami", headers=auth(key)).status_code == 200  # still trusted
        time.sleep(ttl + 0.1)
    assert client.get("/v1/whoami", headers=auth(key)).status_code == 401


def test_the_cache_keeps_no_key_and_no_failure() -> None:
    cache = PrincipalCache(ttl_seconds=2.0)
    principal = Principal(key_id="0123abcd", name="n", scopes=frozenset({"platform"}))
    cache.put("cg_0123abcd_secret", principal, now=100.0)
    assert cache.get("cg_0123abcd_secret", now=101.9) == principal
    assert cache.get("cg_0123abcd_secret", now=102.0) is None  # expired
    assert cache.get("cg_0123abcd_other", now=100.0) is None
    assert not any("secret" in slot for slot in cache._entries)  # only hashes are held
