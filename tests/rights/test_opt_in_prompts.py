"""An opt-in likeness claim licenses accounts: once accepted, a prompt naming the person (or an
alias), in English or in French, short or long (read in a worker process), is allowed for a
licensed account and refused for anyone else and for a request that names no requester; an
opt-out claim's names stay refused for everyone. Real photos, the real prompt gate (rules and
classifier)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, make_key
from tests.rights.test_claims import NAME, claim

pytestmark = pytest.mark.slow
EN = f"a cat walking on a beach with {NAME}"
FR = "un chat qui joue sur la plage avec Lucienne Marchal"


def _check(client: TestClient, headers: dict, text: str, language: str, who: str | None) -> dict:
    body: dict = {"prompt": text, "language": language}
    if who is not None:
        body["requester"] = {"id": who, "age_group": "adult"}
    response = client.post("/v1/checks/prompt", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _named(decision: dict) -> bool:
    return "real-person.named" in [r["id"] for r in decision["rules"]]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_an_opt_in_name_is_allowed_to_licensed_accounts_only(
    client: TestClient, platform: dict[str, str]
) -> None:
    pending = claim(
        client, platform, "opt_in", "biden.jpg", licensed_user_ids="studio-a", deceased="false"
    )
    rights = auth(make_key("reviewer", roles=["rights"], name="rights-reviewer"))
    accepted = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "agency contract verified"}, headers=rights,
    )  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["names_added"] == [NAME, "Lucienne Marchal"]
    for text, language in ((EN, "en"), (FR, "fr")):
        licensed = _check(client, platform, text, language, "studio-a")
        assert licensed["decision"] == "allow" and not _named(licensed), licensed
        for who in ("someone-else", None):
            refused = _check(client, platform, text, language, who)
            assert refused["decision"] == "block" and _named(refused), (who, refused)
    # A long prompt is read in a worker process, with the same licence.
    scene = "The waves roll gently onto the sand under a warm afternoon sun. " * 70
    long = f"{EN}. {scene}"
    assert len(long) > 4_000
    assert not _named(_check(client, platform, long, "en", "studio-a"))
    assert _named(_check(client, platform, long, "en", "someone-else"))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_opt_out_name_is_refused_to_everyone(
    client: TestClient, platform: dict[str, str]
) -> None:
    pending = claim(client, platform, "opt_out", "obama2.jpg")
    rights = auth(make_key("reviewer", roles=["rights"], name="rights-reviewer"))
    client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "letters verified"}, headers=rights,
    )  # fmt: skip
    for who in ("studio-a", "estate-of-ld", None):
        decision = _check(client, platform, EN, "en", who)
        assert decision["decision"] == "block" and _named(decision), (who, decision)
