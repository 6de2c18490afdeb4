"""Remix lineage found by fingerprint: a stranger re-uploads a friend's clip of Ana's cameo
(mirrored, re-encoded, without sound) and the platform does not say it is a remix. The feed's
hash-bank signal hashes its frames once; the rights reaction keeps them and links the friend's
clip as its parent (found_by=fingerprint): Ana's cameo follows to it, she hears of the use, and
her takedown of the copy reaches the copy's own (declared) remix. An unrelated clip is linked to
nothing; a copy of an item she took down is removed as it is linked. Real cameo, real clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.db import session_scope
from provenance.fingerprint import nearest_distances
from rights.lineage import _as_bytes, _nearest_per_item
from rights.tables import ItemFingerprint, LineageLink
from tests.media_factory import make_clip, transcode
from tests.rights.feed_run import item_row, publish_file, run_feed
from tests.rights.helpers import enroll_cameo, outbox

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_a_copy_found_by_fingerprint_inherits_the_cameo_and_the_takedown(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    cameo = enroll_cameo(client, platform, tmp_path, "ana", "obama.jpg", permission="everyone")[
        "id"
    ]
    original = make_clip(tmp_path / "friend.mp4", 6.0, 480, 270, seed=31)
    publish_file(client, platform, original, "friend-1", "bob", cameo_ids=[cameo])
    run_feed("friend-1")
    assert item_row("friend-1").state == "published"

    copy = transcode(original, tmp_path / "copy.mp4", crf=28, mirror=True, keep_audio=False)
    uploaded = publish_file(client, platform, copy, "copy-1", "eve")
    assert uploaded["cameo_ids"] == [] and uploaded["parent_item_id"] is None
    run_feed("copy-1")
    found = item_row("copy-1")
    assert found.parent_item_id == "friend-1" and found.cameo_ids == [cameo]
    with session_scope() as session:
        link = session.get(LineageLink, "copy-1")
        assert link is not None and link.found_by == "fingerprint"
        assert link.matched_frames * 2 >= link.frames > 0
        kept = session.get(ItemFingerprint, "copy-1")
        assert kept is not None and len(kept.hashes) == link.frames
    told = [u for u in outbox("likeness.used") if u["uses"][0]["usage"] == "item:copy-1"]
    assert [(u["owner_id"], u["uses"][0]["made_by"]) for u in told] == [("ana", "eve")]

    # Replayed scores change nothing; an unrelated clip gets no parent.
    run_feed("copy-1")
    with session_scope() as session:
        assert len(session.scalars(select(LineageLink)).all()) == 1
    unrelated = make_clip(tmp_path / "other.mp4", 6.0, 480, 270, seed=32)
    publish_file(client, platform, unrelated, "other-1", "eve")
    run_feed("other-1")
    assert item_row("other-1").parent_item_id is None

    publish_file(client, platform, unrelated, "copy-2", "zed", remix_of="copy-1")
    run_feed("copy-2")  # declared by the platform: its parent stays the declared one
    assert item_row("copy-2").parent_item_id == "copy-1"

    lineage = client.get("/v1/feed/items/friend-1/lineage", headers=platform).json()
    assert [(d["item_id"], d["found_by"]) for d in lineage["descendants"]] == [
        ("copy-1", "fingerprint"),
        ("copy-2", "platform"),
    ]
    uses = client.get(f"/v1/cameos/{cameo}/usages", params={"owner_id": "ana"}, headers=platform)
    by_usage = {u["usage"]: u for u in uses.json()["uses"]}
    assert by_usage["item:copy-1"]["how"] == "remix of item:friend-1"
    assert by_usage["item:copy-1"]["made_by"] == "eve"

    down = client.post(
        f"/v1/cameos/{cameo}/usages/item:copy-1/takedown",
        json={"owner_id": "ana", "reason": "a stranger's copy"}, headers=platform,
    )  # fmt: skip
    assert down.status_code == 200, down.text
    assert down.json()["items"] == ["copy-1", "copy-2"]
    assert item_row("friend-1").state == "published"
    assert item_row("copy-2").state == "removed"

    # Ana takes her friend's clip down too: a later copy of it is removed as it is linked.
    client.post(
        f"/v1/cameos/{cameo}/usages/item:friend-1/takedown",
        json={"owner_id": "ana", "reason": "not any more"}, headers=platform,
    )  # fmt: skip
    late = transcode(original, tmp_path / "late.mp4", crf=30, height=240)
    publish_file(client, platform, late, "copy-3", "mallory")
    run_feed("copy-3")
    latest = item_row("copy-3")
    assert latest.parent_item_id in ("friend-1", "copy-1")
    assert latest.state == "removed" and latest.state_source == "takedown"


def test_the_vectorised_scan_gives_each_items_nearest_frame() -> None:
    """The one-pass scan agrees with the frame-by-frame distances for items of any length."""
    rng = np.random.default_rng(5)

    def hashes(n: int) -> list[str]:
        return [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(n)]

    items = [hashes(int(n)) for n in rng.integers(1, 9, 300)]
    query = hashes(6)
    pool = _as_bytes([h for frames in items for h in frames])
    starts = np.cumsum([0] + [len(frames) for frames in items[:-1]])
    nearest = _nearest_per_item(_as_bytes(query), pool, starts)
    assert nearest.shape == (6, 300)
    for index, frames in enumerate(items):
        assert (nearest[:, index] == nearest_distances(query, frames)).all()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_copy_scored_before_its_original_is_linked_when_the_original_is(
    client: TestClient, platform: dict[str, str], tmp_path: Path
) -> None:
    original = make_clip(tmp_path / "first.mp4", 6.0, 480, 270, seed=41)
    publish_file(client, platform, original, "first", "bob")
    copy = transcode(original, tmp_path / "second.mp4", crf=29, mirror=True, height=240)
    publish_file(client, platform, copy, "second", "eve")
    run_feed("second")  # the copy's scores arrive first: nothing to link it to yet
    assert item_row("second").parent_item_id is None
    run_feed("first")
    assert item_row("first").parent_item_id is None
    assert item_row("second").parent_item_id == "first"
    with session_scope() as session:
        link = session.get(LineageLink, "second")
        assert link is not None and link.found_by == "fingerprint"
