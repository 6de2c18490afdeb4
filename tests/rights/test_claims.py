"""Likeness claims: an estate claims a deceased person's likeness (opt_out); nothing changes
while it is pending; a reviewer without the rights role cannot decide it; accepted by a rights
reviewer, a new prompt naming the person is refused in English and French, the existing cameo
of that face is suspended with a case, and the face is refused to everyone. An opt_in claim
lets only the licensed account use the likeness. Real photos (the test's person is given a
made-up name: what matters is that the name is in no shipped list)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth, make_key
from tests.consent.conftest import FACES
from tests.rights.helpers import enroll_cameo

pytestmark = pytest.mark.slow
NAME = "Lucienne Dufresne-Marchal"


def _prompt(client: TestClient, headers: dict, text: str, language: str | None = None) -> dict:
    body = {"prompt": text} | ({"language": language} if language else {})
    response = client.post("/v1/checks/prompt", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def claim(client: TestClient, headers: dict, policy: str, photo: str, **fields) -> dict:
    with (FACES / photo).open("rb") as fh:
        response = client.post(
            "/v1/likeness/claims",
            data={
                "person_name": NAME,
                "aliases": '["Lucienne Marchal"]',
                "claimant_id": "estate-of-ld",
                "claimant_role": "estate",
                "evidence": "letters of administration no. 2026-118, Paris probate court",
                "policy": policy,
                "deceased": "true",
                **fields,
            },
            files=[("files", ("face.jpg", fh, "image/jpeg"))],
            headers=headers,
        )
    assert response.status_code == 201, response.text
    return response.json()


def test_an_accepted_estate_claim_refuses_the_name_and_suspends_the_cameo(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    cameo = enroll_cameo(client, platform, tmp_path, "impostor", "obama.jpg")
    pending = claim(client, platform, "opt_out", "obama2.jpg")
    assert pending["status"] == "pending"
    # Nothing takes effect unverified.
    en = f"a cat walking on a beach with {NAME}"
    fr = "un chat qui joue sur la plage avec Lucienne Marchal"
    assert _prompt(client, platform, en, "en")["decision"] == "allow"
    assert _prompt(client, platform, fr, "fr")["decision"] == "allow"
    status = client.get(
        f"/v1/cameos/{cameo['id']}", params={"owner_id": "impostor"}, headers=platform
    ).json()["status"]
    assert status == "active"
    # Only the rights role decides.
    plain = auth(make_key("reviewer", name="plain-reviewer"))
    refused = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "documents check out"},
        headers=plain,
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_required"
    assert client.get("/v1/likeness/claims", headers=plain).status_code == 403
    rights = auth(make_key("reviewer", roles=["rights"], name="rights-reviewer"))
    queue = client.get("/v1/likeness/claims", params={"status": "pending"}, headers=rights)
    assert [c["id"] for c in queue.json()] == [pending["id"]]
    accepted = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "letters of administration verified"},
        headers=rights,
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "accepted" and body["protected_person_id"]
    assert [s["cameo_id"] for s in body["suspended_cameos"]] == [cameo["id"]]
    assert body["names_added"] == [NAME, "Lucienne Marchal"]
    for text, language in ((en, "en"), (fr, "fr")):
        decision = _prompt(client, platform, text, language)
        assert decision["decision"] == "block", decision
        assert "real-person.named" in [r["id"] for r in decision["rules"]]
    status = client.get(
        f"/v1/cameos/{cameo['id']}", params={"owner_id": "impostor"}, headers=platform
    ).json()["status"]
    assert status == "suspended"
    again = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "reject", "reason": "changed my mind"},
        headers=rights,
    )
    assert again.status_code == 409


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_opt_in_claim_licenses_only_the_listed_accounts(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    pending = claim(
        client, platform, "opt_in", "biden.jpg", licensed_user_ids="studio-a", deceased="false"
    )
    rights = auth(make_key("reviewer", roles=["rights"], name="rights-reviewer"))
    rejected_first = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "agency contract verified"},
        headers=rights,
    )
    assert rejected_first.status_code == 200, rejected_first.text
    photo = (FACES / "biden.jpg").read_bytes()
    for requester, consent in (("studio-a", "granted"), ("someone", "protected")):
        report = client.post(
            "/v1/checks/likeness", params={"requester_id": requester}, content=photo,
            headers=platform,
        ).json()  # fmt: skip
        assert report["faces"][0]["matches"][0]["consent"] == consent
    assert client.post(
        "/v1/likeness/claims",
        data={"person_name": "X Y", "claimant_id": "a", "claimant_role": "agent",
              "evidence": "contract signed in 2020", "policy": "opt_out",
              "licensed_user_ids": "b"},
        files=[("files", ("f.jpg", photo, "image/jpeg"))], headers=platform,
    ).json()["error"]["code"] == "licence_on_opt_out"  # fmt: skip
