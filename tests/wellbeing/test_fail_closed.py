"""Fail closed: without the face models a selfie check is a 503 and stores nothing; without
the policy engine a crisis check is a 503; another tenant's checks are not seen."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cameoguard.auth.keys import create_key
from cameoguard.auth.principal import Scope
from cameoguard.db import session_scope
from safety.consent import models as consent_models
from safety.policy import engine as engine_module
from tests.conftest import auth
from tests.wellbeing.conftest import assure, upload
from wellbeing.tables import AgeCheck


def test_missing_models_fail_closed(
    client: TestClient, headers: dict[str, str], selfies: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    location = upload(client, headers, selfies["adult"])
    monkeypatch.setattr(consent_models, "_models", None)
    selfie = client.post("/v1/age/assurance",
                         json={"account_id": "u", "selfie_media_location": location},
                         headers=headers)  # fmt: skip
    assert selfie.status_code == 503 and selfie.json()["error"]["code"] == "model_unavailable"
    with session_scope() as session:
        assert session.query(AgeCheck).count() == 0
    real = engine_module.current_engine()
    engine_module.set_engine(None)
    try:
        crisis = client.post("/v1/checks/crisis",
                             json={"account_id": "u", "surface": "comment", "text": "hello"},
                             headers=headers)  # fmt: skip
        assert crisis.status_code == 503
    finally:
        engine_module.set_engine(real)


def test_another_tenants_checks_are_not_seen(client: TestClient, headers: dict[str, str]) -> None:
    assure(client, headers, account_id="shared_name",
           behavioural_estimate={"age": 40, "confidence": 0.95})  # fmt: skip
    with session_scope() as session:
        other = auth(create_key(session, name="other", scopes=[Scope.platform], tenant="app2",
                                created_by="test").secret)  # fmt: skip
    assert client.get("/v1/age/assurance/shared_name", headers=other).status_code == 404
    dm = client.post("/v1/checks/interaction",
                     json={"actor_id": "shared_name", "target_id": "kid", "kind": "dm"},
                     headers=other).json()  # fmt: skip
    assert dm["actor_age_group"] == "unknown"  # the adult of the default tenant is unknown here
