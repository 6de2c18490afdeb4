"""The likeness-rights stories on the real parts: PostgreSQL, the Kafka broker (the relay, one
scoring worker per registered signal, the reactions worker), the real models, real MP4s.

(a) Bob generates a clip with Ana's cameo and publishes it. Eve, a stranger, downloads it and
re-uploads it mirrored and without sound as her own, without saying it is a remix: the feed's
hash-bank worker hashes its frames and the rights reaction links it to Bob's clip by fingerprint,
so Ana's cameo follows to it and Ana hears of the use. Zed remixes Eve's copy (declared). Ana
sees Eve's copy among her cameo's uses, takes it down, and Zed's remix disappears with it; Bob's
clip stays up.

(b) Joe enrolled a cameo with a face that is not his and published a clip with it. The person's
estate claims the likeness (opt-out); a rights reviewer accepts the claim: Joe's cameo is
suspended (its clip goes back to review through the broker), and a new prompt naming the person
is refused in English and French, and a generation asking for them is blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cameoguard.db import session_scope
from generator.pipeline import Tools
from rights.tables import LineageLink
from tests.conftest import auth, make_key
from tests.e2e.test_story import _state, _wait, feed
from tests.generator.conftest import enroll, job, run_queue, submit
from tests.media_factory import make_clip, transcode
from tests.rights.feed_run import publish_file
from tests.rights.helpers import outbox
from tests.rights.test_claims import NAME, claim

pytestmark = [pytest.mark.slow, pytest.mark.kafka]
__all__ = ["feed"]


def _linked(item_id: str) -> LineageLink | None:
    with session_scope() as session:
        link = session.get(LineageLink, item_id)
        if link is not None:
            session.expunge(link)
        return link


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_strangers_copy_is_found_and_taken_down_with_its_remix(
    client: TestClient, platform: dict[str, str], tools: Tools, feed: None, tmp_path: Path
) -> None:
    ana = enroll(client, platform, tmp_path, "ana", "obama.jpg", permission="everyone")
    original = submit(
        client, platform, cameo_ids=[ana], requester_handle="bob", duration_s=4,
        prompt='My friend waves from a sailboat and says "what a beautiful day on the water"',
        publish={"caption": "sailing with ana"},
    )["generation_id"]  # fmt: skip
    assert run_queue(tools) == 1 and job(client, platform, original)["state"] == "done"
    _wait("the feed's decision on Bob's clip", lambda: _state(original) not in (None, "scoring"))
    assert _state(original) in ("published", "age_restricted")

    # Eve re-uploads a mirrored copy without sound, and does not say where it comes from.
    download = tmp_path / "download.mp4"
    download.write_bytes(client.get(f"/v1/generations/{original}/media", headers=platform).content)
    copy = transcode(download, tmp_path / "eve.mp4", crf=28, mirror=True, keep_audio=False)
    uploaded = publish_file(client, platform, copy, "eve-copy", "eve", caption="look at this")
    assert uploaded["parent_item_id"] is None and uploaded["cameo_ids"] == []
    _wait("the copy to be linked by fingerprint", lambda: _linked("eve-copy") is not None)
    link = _linked("eve-copy")
    assert link is not None and link.parent_item_id == original
    assert link.found_by == "fingerprint" and link.matched_frames * 2 >= link.frames
    item = client.get("/v1/feed/items/eve-copy", headers=platform).json()
    assert item["parent_item_id"] == original and item["cameo_ids"] == [ana]
    told = [u["uses"][0] for u in outbox("likeness.used") if u["owner_id"] == "ana"]
    assert ("item:eve-copy", "eve") in [(u["usage"], u["made_by"]) for u in told]

    # Zed remixes Eve's copy and says so: he inherits Ana's cameo from it.
    remix = make_clip(tmp_path / "zed.mp4", 3.0, 480, 270, seed=909)
    zed = publish_file(client, platform, remix, "zed-remix", "zed", remix_of="eve-copy")
    assert zed["cameo_ids"] == [ana]
    _wait("the feed's decision on Zed's remix", lambda: _state("zed-remix") != "scoring")
    lineage = client.get(f"/v1/feed/items/{original}/lineage", headers=platform).json()
    assert [(d["item_id"], d["found_by"]) for d in lineage["descendants"]] == [
        ("eve-copy", "fingerprint"),
        ("zed-remix", "platform"),
    ]

    # Ana sees the stranger's copy among her cameo's uses and takes it down.
    uses = client.get(f"/v1/cameos/{ana}/usages", params={"owner_id": "ana"}, headers=platform)
    by_usage = {u["usage"]: u for u in uses.json()["uses"]}
    assert by_usage["item:eve-copy"]["made_by"] == "eve"
    assert by_usage["item:eve-copy"]["how"] == f"remix of item:{original}"
    down = client.post(
        f"/v1/cameos/{ana}/usages/item:eve-copy/takedown",
        json={"owner_id": "ana", "reason": "a stranger's copy of my cameo"}, headers=platform,
    )  # fmt: skip
    assert down.status_code == 200, down.text
    assert down.json()["items"] == ["eve-copy", "zed-remix"]
    _wait("the copy and its remix to be gone", lambda: _state("zed-remix") == "removed")
    assert _state("eve-copy") == "removed"
    assert _state(original) in ("published", "age_restricted")
    taken = [t for t in outbox("likeness.takedown") if t["usage"] == "item:eve-copy"]
    assert taken and taken[0]["items"] == ["eve-copy", "zed-remix"]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_an_estates_claim_refuses_the_name_and_suspends_the_cameo(
    client: TestClient, platform: dict[str, str], tools: Tools, feed: None, tmp_path: Path
) -> None:
    joe = enroll(client, platform, tmp_path, "joe", "biden.jpg", permission="everyone")
    clip = make_clip(tmp_path / "joe.mp4", 3.0, 480, 270, seed=808)
    publish_file(client, platform, clip, "joe-clip", "joe", cameo_ids=[joe])
    _wait("the feed's decision on Joe's clip", lambda: _state("joe-clip") not in (None, "scoring"))
    assert _state("joe-clip") in ("published", "age_restricted")

    en = f"a cat walking on a beach with {NAME}"
    fr = "un chat qui joue sur la plage avec Lucienne Marchal"
    pending = claim(client, platform, "opt_out", "biden.jpg")
    rights = auth(make_key("reviewer", roles=["rights"], name="rights-reviewer"))
    accepted = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "accept", "reason": "letters of administration verified"},
        headers=rights,
    )
    assert accepted.status_code == 200, accepted.text
    assert [s["cameo_id"] for s in accepted.json()["suspended_cameos"]] == [joe]

    # The suspension reaches the feed through the broker: Joe's clip goes back to review.
    _wait("Joe's clip to be held for review", lambda: _state("joe-clip") == "in_review")
    cameo = client.get(f"/v1/cameos/{joe}", params={"owner_id": "joe"}, headers=platform).json()
    assert cameo["status"] == "suspended"

    for text, language in ((en, "en"), (fr, "fr")):
        decision = client.post(
            "/v1/checks/prompt", json={"prompt": text, "language": language}, headers=platform
        ).json()
        assert decision["decision"] == "block", decision
        assert "real-person.named" in [r["id"] for r in decision["rules"]]
    asked = submit(client, platform, prompt=f"{NAME} gives a speech in a town square")
    assert run_queue(tools) == 1
    assert job(client, platform, asked["generation_id"])["state"] == "blocked"
