"""The hash-bank feed signal: every published item's frames are matched against the imported
banks, and each bank's action is the feed policy's step. Through the scoring handler and the
reactions the workers run, on real clips re-encoded the way re-uploads are: a `review` bank's
match goes to a reviewer, a `remove` bank's (mirrored) is removed, a match a negative bank also
matches does nothing, an unrelated clip passes; a child-safety bank's match is removed and
escalated (case in the child-safety queue, media preserved, CyberTipline package, once), and a
package that cannot be written is an alert while the item is still removed and the case open."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from assembly.reactions import all_reactions
from cameoguard import media_store
from cameoguard.audit.tables import AuditEntry
from cameoguard.contracts import CONTENT_SCORES, validate
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from consumers.feed_policy import FeedPolicy, feed_policy
from consumers.runner import reactions_handler
from rights.hashes import HashError, media_hashes
from safety.review.tables import ReviewCase
from tests.conftest import auth, make_key
from tests.media_factory import make_clip, transcode
from tests.rights.feed_run import item_row, publish_file, run_feed, scores_of

pytestmark = pytest.mark.slow


def _import(client: TestClient, admin: dict, bank: str, clip: Path, **params: str) -> None:
    frames = media_hashes(clip).hashes
    answer = client.post(
        f"/v1/hashes/banks/{bank}/import", content=f"vpdq {','.join(frames)}\n".encode(),
        params=params, headers=admin,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_each_banks_action_is_the_feed_policys_step(
    client: TestClient, admin_key: str, tmp_path: Path
) -> None:
    admin, platform = auth(admin_key), auth(make_key("platform", name="platform"))
    held = make_clip(tmp_path / "held.mp4", 4.0, 480, 270, seed=501)
    banned = make_clip(tmp_path / "banned.mp4", 4.0, 480, 270, seed=502)
    harmless = make_clip(tmp_path / "harmless.mp4", 4.0, 480, 270, seed=503)
    _import(client, admin, "watch", held, action="review")
    _import(client, admin, "abuse", banned, action="remove")
    _import(client, admin, "abuse", harmless, action="remove")
    _import(client, admin, "known-fp", harmless, action="review", negative="true")

    uploads = {
        "re-held": transcode(held, tmp_path / "a.mp4", crf=28, keep_audio=False),
        "re-banned": transcode(banned, tmp_path / "b.mp4", crf=28, mirror=True, height=240),
        "re-harmless": transcode(harmless, tmp_path / "c.mp4", crf=26),
        "unrelated": make_clip(tmp_path / "d.mp4", 4.0, 480, 270, seed=504),
    }
    for item_id, path in uploads.items():
        publish_file(client, platform, path, item_id)
        run_feed(item_id)

    shown = {p["item_id"]: p for p in (scores_of(i)[0] for i in uploads)}
    assert shown["re-held"]["scores"]["risk"] == 0.5  # the policy's review threshold
    watch = [e for e in shown["re-held"]["evidence"] if e["kind"] == "hash_bank"]
    assert [(e["bank"], e["step"]) for e in watch] == [("watch", "review")]
    assert watch[0]["distance"] <= 31 and watch[0]["signal_type"] == "vpdq"
    assert item_row("re-held").state == "in_review"
    with session_scope() as session:
        case = session.scalar(select(ReviewCase).where(ReviewCase.item_id == "re-held"))
        assert case is not None and "hashbank" in case.signals and case.queue == "general"

    banned_match = [e for e in shown["re-banned"]["evidence"] if e["kind"] == "hash_bank"]
    assert [(e["bank"], e["mirrored"], e["step"]) for e in banned_match] == [
        ("abuse", True, "remove")
    ]
    removed = item_row("re-banned")
    assert removed.state == "removed"
    assert any("hashbank risk 0.90 >= remove 0.90" in r for r in removed.state_reasons)

    # A known false positive: the negative bank's match suppresses the abuse bank's.
    fp = {e["bank"]: e for e in shown["re-harmless"]["evidence"] if e["kind"] == "hash_bank"}
    assert fp["abuse"]["suppressed_by"] == "known-fp" and fp["abuse"]["step"] is None
    assert fp["known-fp"]["negative"] is True
    assert shown["re-harmless"]["scores"] | {"frames_hashed": 0} == {
        "risk": 0.0, "frames_hashed": 0, "bank_matches": 0.0, "suppressed_matches": 1.0,
        "child_safety_matches": 0.0,
    }  # fmt: skip
    assert item_row("re-harmless").state == "published"
    assert shown["unrelated"]["scores"]["risk"] == 0.0
    assert [e["kind"] for e in shown["unrelated"]["evidence"]] == ["fingerprint"]
    assert item_row("unrelated").state == "published"


def test_the_policy_maps_bank_actions_and_child_safety_always_removes() -> None:
    shipped = feed_policy()
    assert shipped.bank_actions == {"review": "review", "remove": "remove", "escalate": "remove"}
    strict = FeedPolicy(id="strict", version=1, bank_actions={"review": "remove"})
    assert strict.bank_step("review", child_safety=False) == "remove"
    assert strict.bank_step("escalate", child_safety=False) == "remove"  # unlisted: fail closed
    lenient = FeedPolicy(id="lenient", version=1, bank_actions={"remove": "review"})
    assert lenient.bank_step("remove", child_safety=True) == "remove"
    with pytest.raises(ValueError, match="bank_actions"):
        FeedPolicy(id="bad", version=1, bank_actions={"review": "publish"})  # type: ignore[dict-item]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_a_child_safety_match_in_the_feed_escalates_once_or_alerts(
    client: TestClient, admin_key: str, tmp_path: Path
) -> None:
    admin, platform = auth(admin_key), auth(make_key("platform", name="platform"))
    banked = make_clip(tmp_path / "cs.mp4", 4.0, 480, 270, seed=777)
    _import(client, admin, "cs-bank", banked, action="escalate", child_safety="true")
    upload = transcode(banked, tmp_path / "cs-upload.mp4", crf=27, keep_audio=False)
    item = publish_file(client, platform, upload, "cs-feed")
    run_feed("cs-feed")

    assert item_row("cs-feed").state == "removed"
    with session_scope() as session:
        escalated = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "hashbank.escalate")
        ).all()
        assert [e.subject for e in escalated] == ["item:cs-feed"]
        case_id = json.loads(escalated[0].details)["case_id"]
        case = session.get(ReviewCase, case_id)
        assert case is not None and case.queue == "child_safety" and case.item_id == "cs-feed"
        package = Path(json.loads(escalated[0].details)["package"])
    report = json.loads((package / "cybertipline_report.json").read_text())
    assert report["uploaded_file"]["hash_match"]["bank"] == "cs-bank"
    assert report["uploaded_file"]["platform_item_id"] == "cs-feed"
    assert (package / "media.mp4").read_bytes() == (
        media_store.resolve(item["media_location"]).read_bytes()
    )
    # Delivered again (at least once): no second case, no second package.
    react = reactions_handler(all_reactions())
    for payload in scores_of("cs-feed"):
        react(CONTENT_SCORES, validate(CONTENT_SCORES, payload), {})
    with session_scope() as session:
        count = select(func.count()).where(AuditEntry.action == "hashbank.escalate")
        assert session.scalar(count) == 1

    # The package has nowhere to go: an alert, the item removed and the case open all the same,
    # and the reaction fails (the worker retries it, then dead-letters it).
    folder = get_settings().home / "child_safety"
    folder.rename(folder.with_name("child_safety.done"))
    folder.write_text("not a folder")
    again = transcode(banked, tmp_path / "cs-again.mp4", crf=30, mirror=True)
    publish_file(client, platform, again, "cs-feed-2")
    with pytest.raises(HashError, match="child-safety package failed"):
        run_feed("cs-feed-2")
    assert item_row("cs-feed-2").state == "removed"
    with session_scope() as session:
        alert = session.scalar(
            select(AuditEntry).where(AuditEntry.action == "alert.child_safety_package_failed")
        )
        assert alert is not None and alert.subject == "item:cs-feed-2"
        case = session.scalar(select(ReviewCase).where(ReviewCase.item_id == "cs-feed-2"))
        assert case is not None and case.queue == "child_safety"
