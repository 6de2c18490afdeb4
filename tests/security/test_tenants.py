"""Per-tenant platform keys: a key bound to a tenant sees and acts on that tenant's users,
cameos, items, generations and idempotency keys only; another tenant's data does not exist for
it (404), and the operator's keys (reviewers, auditors, admins) see every tenant's."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from cameoguard.db import session_scope
from safety.consent.tables import Cameo
from tests.conftest import auth, make_key
from tests.review.conftest import publish


def tenant_key(tenant: str) -> dict[str, str]:
    from cameoguard.auth.keys import create_key
    from cameoguard.auth.principal import Scope

    with session_scope() as session:
        new = create_key(
            session, name=tenant, scopes=[Scope.platform], tenant=tenant, created_by="test"
        )
    return auth(new.secret)


def test_a_tenant_key_cannot_see_or_act_on_another_tenants_items(
    client: TestClient, clip_bytes: bytes
) -> None:
    acme, globex = tenant_key("acme"), tenant_key("globex")
    default = auth(make_key("platform"))
    publish(client, acme["Authorization"].split()[1], clip_bytes, "it_acme")
    assert client.get("/v1/feed/items/it_acme", headers=acme).status_code == 200
    for other in (globex, default):
        assert client.get("/v1/feed/items/it_acme", headers=other).status_code == 404
        report = client.post(
            "/v1/reports",
            json={"item_id": "it_acme", "reporter_id": "u1", "reason": "harassment"},
            headers=other,
        )
        assert report.status_code == 404
        reach = client.post("/v1/feed/items/it_acme/reach", json={"views": 5}, headers=other)
        assert reach.status_code == 404
    for operator in (make_key("reviewer"), make_key("auditor"), make_key("admin")):
        assert client.get("/v1/feed/items/it_acme", headers=auth(operator)).status_code == 200


def test_idempotency_keys_and_generations_are_per_tenant(client: TestClient) -> None:
    acme, globex = tenant_key("acme"), tenant_key("globex")
    body = {
        "requester_id": "bob",
        "prompt": "a lighthouse at dawn, waves below",
        "duration_s": 5,
        "idempotency_key": f"same-key-{uuid.uuid4().hex}",
    }
    first = client.post("/v1/generations", json=body, headers=acme)
    second = client.post("/v1/generations", json={**body, "prompt": "a cat"}, headers=globex)
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json()["generation_id"] != second.json()["generation_id"]
    assert second.json()["created"] is True  # another tenant's key is not a reuse
    job = first.json()["generation_id"]
    assert client.get(f"/v1/generations/{job}", headers=globex).status_code == 404
    assert client.get(f"/v1/generations/{job}/media", headers=globex).status_code == 404
    assert client.get(f"/v1/generations/{job}", headers=acme).status_code == 200


@pytest.mark.slow
def test_another_tenants_cameo_is_unknown(client: TestClient) -> None:
    from safety.consent.models import restriction_embedder

    restriction_embedder()  # the consent check needs it loaded
    acme, globex = tenant_key("acme"), tenant_key("globex")
    with session_scope(write=True) as session:
        cameo = Cameo(id="cam_acme1", tenant="acme", owner_id="ana", face_model="t")
        cameo.permission = "everyone"
        session.add(cameo)
    check = {"requester_id": "bob", "cameo_ids": ["cam_acme1"], "prompt": "a walk in the park"}
    inside = client.post("/v1/checks/consent", json=check, headers=acme)
    assert inside.status_code == 200 and inside.json()["decision"] == "allow", inside.text
    outside = client.post("/v1/checks/consent", json=check, headers=globex)
    assert outside.json()["decision"] == "block"
    assert outside.json()["cameos"][0]["reason"] == "unknown cameo"
    assert client.get("/v1/cameos/cam_acme1?owner_id=ana", headers=globex).status_code == 404
    patch = {"owner_id": "ana", "permission": "only_me"}
    assert client.patch("/v1/cameos/cam_acme1", json=patch, headers=globex).status_code == 404
    assert [c["id"] for c in client.get("/v1/cameos?owner_id=ana", headers=acme).json()] == [
        "cam_acme1"
    ]
    assert client.get("/v1/cameos?owner_id=ana", headers=globex).json() == []
    generation = {
        "requester_id": "bob",
        "prompt": "ana waves",
        "cameo_ids": ["cam_acme1"],
        "idempotency_key": f"k-{uuid.uuid4().hex}",
    }
    refused = client.post("/v1/generations", json=generation, headers=globex)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_cameo"


def test_only_platform_keys_are_bound_to_a_tenant(client: TestClient) -> None:
    admin = auth(make_key("admin"))
    for scopes in (["admin"], ["reviewer"], ["platform", "auditor"]):
        answer = client.post(
            "/v1/admin/keys", json={"name": "x", "scopes": scopes, "tenant": "acme"}, headers=admin
        )
        assert answer.status_code == 422, (scopes, answer.text)
    made = client.post(
        "/v1/admin/keys", json={"name": "x", "scopes": ["platform"], "tenant": "acme"},
        headers=admin,
    )  # fmt: skip
    assert made.status_code == 201 and made.json()["tenant"] == "acme"
    who = client.get("/v1/whoami", headers=auth(made.json()["key"]))
    assert who.status_code == 200
