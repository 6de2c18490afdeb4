"""Every use of a cameo, visible to its owner and taken down at her word: a friend's item that
declares her cameo, a stranger's remix of it (which inherits the cameo), and the remix's own
remix. Taking the stranger's remix down removes it and its descendants (later ones too),
withholds their media, and is audited and announced; the owner hears of each use by her
preference. Real enrolled cameo (a talking selfie), real clips."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard import media_store
from cameoguard.audit.tables import AuditEntry
from cameoguard.contracts import ContentPublished
from cameoguard.db import session_scope
from rights.notify import notify_published, send_digests
from tests.media_factory import make_clip
from tests.rights.helpers import enroll_cameo, outbox

pytestmark = pytest.mark.slow


def _events(topic: str) -> list[dict]:
    return outbox(topic)


def _deliver_published() -> None:
    """What the reactions worker does with each content.published (replayed twice: idempotent)."""
    for payload in _events("content.published") * 2:
        notify_published(ContentPublished.model_validate(payload))


def publish(
    client: TestClient, headers: dict, tmp_path: Path, item_id: str, author: str, seed: int, **kw
) -> dict:
    clip = make_clip(tmp_path / f"{item_id}.mp4", seconds=2.0, width=320, height=180, seed=seed)
    stored = client.post("/v1/media", content=clip.read_bytes(), headers=headers)
    assert stored.status_code == 201, stored.text
    body = {"item_id": item_id, "author_id": author, **kw}
    response = client.post(
        "/v1/feed/items", json=body | {"media_location": stored.json()["media_location"]},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    return response.json()


def test_owner_sees_every_use_and_takes_a_remix_down_with_its_descendants(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    cameo = enroll_cameo(client, platform, tmp_path, "ana", "obama.jpg", permission="everyone")[
        "id"
    ]
    publish(client, platform, tmp_path, "friend-1", "bob", 1, cameo_ids=[cameo])
    remix = publish(client, platform, tmp_path, "remix-1", "eve", 2, remix_of="friend-1")
    assert remix["cameo_ids"] == [cameo] and remix["parent_item_id"] == "friend-1"
    publish(client, platform, tmp_path, "remix-2", "zed", 3, remix_of="remix-1")
    unknown = client.post(
        "/v1/feed/items",
        json={"item_id": "x", "author_id": "x", "media_location": remix["media_location"],
              "remix_of": "nope"}, headers=platform,
    )  # fmt: skip
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_parent"

    # The owner hears of each use (not of her own), once each, as she prefers.
    _deliver_published()
    used = _events("likeness.used")
    assert [(u["owner_id"], u["uses"][0]["usage"], u["uses"][0]["made_by"]) for u in used] == [
        ("ana", "item:friend-1", "bob"),
        ("ana", "item:remix-1", "eve"),
        ("ana", "item:remix-2", "zed"),
    ]
    pref = client.put(
        "/v1/likeness/notifications", json={"owner_id": "ana", "mode": "daily"}, headers=platform
    )
    assert pref.status_code == 200 and pref.json()["mode"] == "daily"
    publish(client, platform, tmp_path, "friend-2", "carl", 4, cameo_ids=[cameo])
    _deliver_published()
    assert len(_events("likeness.used")) == 3  # held for the digest
    assert send_digests() == 0  # not a day old yet
    from datetime import timedelta

    assert send_digests(older_than=timedelta(0)) == 1
    digest = _events("likeness.used")[-1]
    assert digest["digest"] and [u["usage"] for u in digest["uses"]] == ["item:friend-2"]

    uses = client.get(f"/v1/cameos/{cameo}/usages", params={"owner_id": "ana"}, headers=platform)
    assert uses.status_code == 200, uses.text
    by_usage = {u["usage"]: u for u in uses.json()["uses"]}
    assert by_usage["item:friend-1"]["how"] == "declared"
    assert by_usage["item:remix-1"] | {"at": None} == {
        "usage": "item:remix-1", "kind": "item", "made_by": "eve", "state": "scoring",
        "how": "remix of item:friend-1", "parent_item_id": "friend-1", "at": None,
    }  # fmt: skip
    assert by_usage["item:remix-2"]["how"] == "remix of item:remix-1"
    # Nobody else sees her cameo's uses.
    assert (
        client.get(f"/v1/cameos/{cameo}/usages", params={"owner_id": "eve"}, headers=platform)
    ).status_code == 404

    down = client.post(
        f"/v1/cameos/{cameo}/usages/item:remix-1/takedown",
        json={"owner_id": "ana", "reason": "I never agreed to this"},
        headers=platform,
    )
    assert down.status_code == 200, down.text
    assert down.json()["items"] == ["remix-1", "remix-2"] and not down.json()["already"]
    for item_id, state in (("friend-1", "scoring"), ("remix-1", "removed"), ("remix-2", "removed")):
        assert client.get(f"/v1/feed/items/{item_id}", headers=platform).json()["state"] == state
    assert media_store.withheld(remix["media_location"]) == "I never agreed to this"
    taken = _events("likeness.takedown")
    assert taken[0]["items"] == ["remix-1", "remix-2"] and taken[0]["by"] == "ana"
    decisions = [e for e in _events("content.decisions") if e["source"] == "takedown"]
    assert sorted(d["item_id"] for d in decisions) == ["remix-1", "remix-2"]
    with session_scope() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "likeness.takedown"))
        assert entry is not None and entry.subject == "item:remix-1"
    again = client.post(
        f"/v1/cameos/{cameo}/usages/item:remix-1/takedown", json={"owner_id": "ana"},
        headers=platform,
    )  # fmt: skip
    assert again.json()["already"] is True
    # A remix of what was taken down is taken down as it is published.
    late = publish(client, platform, tmp_path, "remix-3", "zed", 5, remix_of="remix-2")
    assert late["state"] == "removed" and late["state_source"] == "takedown"
    lineage = client.get("/v1/feed/items/remix-1/lineage", headers=platform)
    assert lineage.status_code == 200, lineage.text
    assert [a["item_id"] for a in lineage.json()["ancestors"]] == ["friend-1"]
    assert [(d["item_id"], d["found_by"]) for d in lineage.json()["descendants"]] == [
        ("remix-2", "platform"),
        ("remix-3", "platform"),
    ]
    states = {
        u["usage"]: u["state"]
        for u in client.get(
            f"/v1/cameos/{cameo}/usages", params={"owner_id": "ana"}, headers=platform
        ).json()["uses"]
    }
    assert states["item:remix-1"] == states["item:remix-2"] == "taken_down"  # fmt: skip
    assert (
        client.post(
            f"/v1/cameos/{cameo}/usages/item:nope/takedown", json={"owner_id": "ana"},
            headers=platform,
        ).status_code
        == 404
    )  # fmt: skip
