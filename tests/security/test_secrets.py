"""Secrets stay secret: API keys, the master secret and the signing key never appear in the
service's logs or in any answer (a new key is shown once, to the admin who made it), and keys are
stored only as hashes."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.auth.tables import ApiKey
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from provenance.keys import load_signing_material
from tests.conftest import auth, make_key


def test_no_secret_in_logs_or_answers(
    client: TestClient, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    material = load_signing_material()
    master = get_settings().master_key().hex()
    created = client.post(
        "/v1/admin/keys", json={"name": "backend", "scopes": ["platform"]}, headers=auth(admin_key)
    )
    assert created.status_code == 201
    platform = created.json()["key"]
    auditor = make_key("auditor")
    answers = [
        client.get("/v1/whoami", headers=auth(platform)),
        client.get("/v1/admin/keys", headers=auth(admin_key)),
        client.post("/v1/moderations", json={"input": "hello there"}, headers=auth(platform)),
        client.get("/v1/whoami", headers={"Authorization": f"Bearer {platform}x"}),  # a bad key
        client.get("/v1/audit/entries", headers=auth(auditor)),
        client.get("/openapi.json"),
        client.get("/readyz"),
        client.get("/metrics"),
    ]
    secrets = {
        "platform key": platform,
        "platform key secret part": platform.split("_", 2)[2],
        "admin key": admin_key,
        "master secret": master,
        "signing key": material.private_key_pem.decode().split("\n")[1],
    }
    logged = caplog.text
    for name, secret in secrets.items():
        assert secret not in logged, f"{name} was logged"
        for answer in answers:
            assert secret not in answer.text, f"{name} in {answer.request.url}"
    with session_scope() as session:
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert platform not in stored and all(len(h) == 64 for h in stored)
