"""Continuous likeness scanning, as a cameo owner lives it: a stranger uploads a video showing
her (no provenance, no cameo declared); the feed's likeness check finds her face, a match opens
and she is told; she lists her matches, confirms one (the item is taken down) and dismisses
another (it is never raised again). Nobody else sees or decides her matches. Real enrolled
cameos (talking selfies of real photos), real uploads, the real face models."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assembly.reactions import all_reactions
from cameoguard import media_store
from cameoguard.audit.tables import AuditEntry
from cameoguard.auth.keys import create_key
from cameoguard.auth.principal import Scope
from cameoguard.contracts import ContentPublished, ContentScores
from cameoguard.db import session_scope
from consumers.runner import reactions_handler
from rights.notify import send_digests
from rights.tables import LikenessMatch
from tests.conftest import auth
from tests.consent.conftest import FACES
from tests.feed import scorer
from tests.media_factory import make_selfie
from tests.rights.helpers import enroll_cameo, outbox

pytestmark = pytest.mark.slow


def upload(
    client: TestClient, headers: dict, tmp_path: Path, item_id: str, author: str, photo: str
) -> dict:
    """A silent video of `photo` published by `author`: an upload, nothing declared."""
    video = make_selfie(tmp_path / f"{item_id}.mp4", [FACES / photo], None, seconds=3.0, seed=7)
    stored = client.post("/v1/media", content=video.read_bytes(), headers=headers)
    assert stored.status_code == 201, stored.text
    location = stored.json()["media_location"]
    body = {"item_id": item_id, "author_id": author, "media_location": location}
    response = client.post("/v1/feed/items", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def run_feed(item_id: str) -> list[dict]:
    """What the workers do with the item: the deepfake signal scores it (its likeness check),
    then the reactions worker reads the scores (twice: a replay changes nothing)."""
    published = [p for p in outbox("content.published") if p["item_id"] == item_id]
    scorer("deepfake")("content.published", ContentPublished.model_validate(published[0]), {})
    react = reactions_handler(all_reactions())
    scores = [p for p in outbox("content.scores") if p["item_id"] == item_id]
    for payload in scores * 2:
        react("content.scores", ContentScores.model_validate(payload), {})
    return scores


def matches(client: TestClient, headers: dict, cameo: str, owner: str, **params) -> list[dict]:
    response = client.get(
        f"/v1/cameos/{cameo}/matches", params={"owner_id": owner, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def decide(client: TestClient, headers: dict, cameo: str, match: str, what: str, owner: str):  # type: ignore[no-untyped-def]
    return client.post(
        f"/v1/cameos/{cameo}/matches/{match}/{what}",
        json={"owner_id": owner, "reason": f"{what} by the owner"},
        headers=headers,
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # PostgreSQL: the broker test
def test_an_upload_showing_her_opens_a_match_she_confirms_or_dismisses(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    ana = enroll_cameo(client, platform, tmp_path, "ana", "obama.jpg")["id"]
    upload(client, platform, tmp_path, "upload-1", "stranger", "obama2.jpg")
    scores = run_feed("upload-1")
    # The feed's likeness check ran on the upload and saw her face without consent.
    faces = [e for e in scores[0]["evidence"] if e["kind"] == "face" and e.get("cameo_id") == ana]
    assert faces and faces[0]["consent"] == "not_granted"

    opened = matches(client, platform, ana, "ana")
    assert len(opened) == 1  # the replayed scores opened nothing more
    match = opened[0]
    assert match | {"match_id": None, "score": None, "found_at": None, "media_time": None} == {
        "match_id": None, "item_id": "upload-1", "cameo_id": ana, "modality": "face",
        "score": None, "threshold": match["threshold"], "media_time": None,
        "consent": "not_granted", "found_by": "feed", "state": "open", "made_by": "stranger",
        "item_state": "scoring", "decided_by": None, "decided_at": None, "decision_reason": "",
        "takedown_id": None, "found_at": None,
    }  # fmt: skip
    assert match["score"] >= match["threshold"]
    # She is told (her preference: every use), and the platform hears of the case.
    told = [u for u in outbox("likeness.used", ana) if u["uses"][0]["usage"].startswith("match:")]
    assert [(t["owner_id"], t["uses"][0]) for t in told] == [
        ("ana", {"usage": f"match:{match['match_id']}", "made_by": "stranger", "state": "match"})
    ]
    events = outbox("likeness.matches", "upload-1")
    assert [(e["state"], e["found_by"], e["owner_id"]) for e in events] == [("open", "feed", "ana")]
    # The item is a use of her cameo she sees among the others.
    uses = client.get(f"/v1/cameos/{ana}/usages", params={"owner_id": "ana"}, headers=platform)
    assert {u["usage"]: u["how"] for u in uses.json()["uses"]} == {"item:upload-1": "matched"}

    # Nobody else lists or decides her matches: another owner, another tenant's key.
    assert (
        client.get(
            f"/v1/cameos/{ana}/matches", params={"owner_id": "stranger"}, headers=platform
        ).status_code
        == 404
    )
    with session_scope() as session:
        other = auth(
            create_key(
                session, name="other", scopes=[Scope.platform], tenant="other-app",
                created_by="test",
            ).secret
        )  # fmt: skip
    assert client.get(
        f"/v1/cameos/{ana}/matches", params={"owner_id": "ana"}, headers=other
    ).status_code == 404  # fmt: skip
    for what in ("confirm", "dismiss"):
        assert decide(client, other, ana, match["match_id"], what, "ana").status_code == 404
        assert decide(client, platform, ana, match["match_id"], what, "eve").status_code == 404
    assert matches(client, platform, ana, "ana", state="open")[0]["state"] == "open"

    # It is her: the item is taken down at once, like her usage takedown.
    confirmed = decide(client, platform, ana, match["match_id"], "confirm", "ana")
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["already"] is False and body["match"]["state"] == "confirmed"
    assert body["takedown"]["items"] == ["upload-1"]
    assert body["match"]["decided_by"] == "ana" and body["match"]["takedown_id"]
    item = client.get("/v1/feed/items/upload-1", headers=platform).json()
    assert item["state"] == "removed" and item["state_source"] == "takedown"
    assert media_store.withheld(item["media_location"]) == "confirm by the owner"
    assert [e["items"] for e in outbox("likeness.takedown", ana)] == [["upload-1"]]
    again = decide(client, platform, ana, match["match_id"], "confirm", "ana").json()
    assert again["already"] is True
    refused = decide(client, platform, ana, match["match_id"], "dismiss", "ana")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "match_decided"

    # Another upload looks like her but is not her: dismissed, and never raised again. She now
    # hears of matches once a day.
    client.put(
        "/v1/likeness/notifications", json={"owner_id": "ana", "mode": "daily"}, headers=platform
    )
    upload(client, platform, tmp_path, "upload-2", "someone", "obama3.jpg")
    run_feed("upload-2")
    assert len(outbox("likeness.used", ana)) == 1  # held for the digest
    assert send_digests(older_than=timedelta(0)) == 1
    digest = outbox("likeness.used", ana)[-1]
    assert digest["digest"] and [u["state"] for u in digest["uses"]] == ["match"]
    second = next(m for m in matches(client, platform, ana, "ana") if m["item_id"] == "upload-2")
    dismissed = decide(client, platform, ana, second["match_id"], "dismiss", "ana")
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["match"]["state"] == "dismissed"
    assert client.get("/v1/feed/items/upload-2", headers=platform).json()["state"] == "scoring"
    for payload in outbox("content.scores"):  # the feed scores it again: still dismissed
        reactions_handler(all_reactions())(
            "content.scores", ContentScores.model_validate(payload), {}
        )
    states = {m["item_id"]: m["state"] for m in matches(client, platform, ana, "ana")}
    assert states == {"upload-1": "confirmed", "upload-2": "dismissed"}
    uses = client.get(f"/v1/cameos/{ana}/usages", params={"owner_id": "ana"}, headers=platform)
    assert "item:upload-2" not in {u["usage"] for u in uses.json()["uses"]}
    assert [e["state"] for e in outbox("likeness.matches", "upload-2")] == ["open", "dismissed"]
    with session_scope() as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("likeness.match%"))
            )
        )
        assert actions == {"likeness.match", "likeness.match.confirmed", "likeness.match.dismissed"}
        assert session.scalar(select(LikenessMatch).where(LikenessMatch.item_id == "x")) is None
