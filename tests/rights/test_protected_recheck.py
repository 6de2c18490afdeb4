"""Adding a person to the protected bank re-checks the cameos already enrolled: a cameo of that
face is suspended (consent.revoked with reason `suspended`, a case in the cameo queue), and the
operator's seed folder fills the bank at start, once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.db import session_scope
from safety.consent.models import LikenessModels
from safety.consent.protected import seed_protected_bank
from safety.consent.tables import Cameo, ProtectedPerson
from safety.review.tables import ReviewCase
from tests.conftest import auth, make_key
from tests.consent.conftest import FACES
from tests.rights.helpers import enroll_cameo, outbox

pytestmark = pytest.mark.slow


def _revocations(cameo_id: str) -> list[dict]:
    return outbox("consent.revoked", cameo_id)


def test_adding_a_protected_person_suspends_an_existing_cameo_of_that_face(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    biden = enroll_cameo(client, platform, tmp_path, "mallory", "biden.jpg")
    obama = enroll_cameo(client, platform, tmp_path, "olivia", "obama.jpg")
    assert biden["status"] == "active"
    with (FACES / "biden.jpg").open("rb") as fh:
        added = client.post(
            "/v1/protected-people",
            data={"name": "Joe Biden", "note": "head of state"},
            files=[("files", ("b.jpg", fh, "image/jpeg"))],
            headers=auth(make_key("admin", name="ops")),
        )
    assert added.status_code == 201, added.text
    suspended = added.json()["suspended"]
    assert [s["cameo_id"] for s in suspended] == [biden["id"]]
    assert suspended[0]["modality"] == "face" and suspended[0]["score"] >= suspended[0]["threshold"]
    view = client.get(f"/v1/cameos/{biden['id']}", params={"owner_id": "mallory"}, headers=platform)
    assert view.json()["status"] == "suspended"
    # The other cameo is untouched.
    other = client.get(f"/v1/cameos/{obama['id']}", params={"owner_id": "olivia"}, headers=platform)
    assert other.json()["status"] == "active"
    events = _revocations(biden["id"])
    assert [e["reason"] for e in events] == ["suspended"]
    assert events[0]["status"] == "revoked"
    assert _revocations(obama["id"]) == []
    with session_scope() as session:
        case = session.get(ReviewCase, suspended[0]["case_id"])
        assert case is not None and case.queue == "cameo" and case.cameo_id == biden["id"]
        assert "protected person Joe Biden" in case.reasons[0]
    # The suspended cameo cannot be used any more.
    decision = client.post(
        "/v1/checks/consent",
        json={"requester_id": "mallory", "cameo_ids": [biden["id"]], "prompt": "a walk"},
        headers=platform,
    ).json()
    assert decision["decision"] == "block"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_seeding_from_the_operator_folder_runs_once_and_reports_bad_folders(
    client: TestClient, platform: dict[str, str], models: LikenessModels, tmp_path: Path
) -> None:
    cameo = enroll_cameo(client, platform, tmp_path, "olivia", "obama.jpg")
    root = tmp_path / "protected"
    (root / "barack_obama").mkdir(parents=True)
    shutil.copy(FACES / "obama2.jpg", root / "barack_obama" / "1.jpg")
    shutil.copy(FACES / "obama3.jpg", root / "barack_obama" / "2.jpg")
    (root / "barack_obama" / "person.json").write_text(
        json.dumps({"name": "Barack Obama", "note": "former head of state"})
    )
    (root / "empty").mkdir()
    first = seed_protected_bank(root, models, actor="test")
    assert [a.name for a in first.added] == ["Barack Obama"]
    assert first.added[0].faces == 2
    assert [s.cameo_id for s in first.added[0].suspended] == [cameo["id"]]
    assert first.failed == {"empty": "ValueError: no photos and no voice clips"}
    again = seed_protected_bank(root, models, actor="test")
    assert again.added == [] and again.already_seeded == ["barack_obama"]
    with session_scope() as session:
        people = session.scalars(select(ProtectedPerson)).all()
        assert [(p.name, p.source) for p in people] == [("Barack Obama", "seed:barack_obama")]
        assert session.get(Cameo, cameo["id"]).status == "suspended"
