"""Hash banks in HMA's exchange format: an export (pdq and vpdq lines, comments, a bare hash) is
imported; a re-compressed copy of a banked photo, its hash alone, and a mirrored re-encode of a
banked clip match with their bank and distance; a negative bank suppresses a known false
positive; the export reads back. A child-safety bank's match on a feed item escalates: the item
removed, a case in the child-safety queue, the media preserved and a CyberTipline package; a
package that cannot be written is an alert and fails the match. Real photos and clips."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from cameoguard.audit.tables import AuditEntry
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from rights.hashes import media_hashes
from safety.review.tables import ReviewCase
from tests.conftest import auth, make_key
from tests.consent.conftest import FACES
from tests.media_factory import make_clip, transcode
from tests.rights.test_usages_and_lineage import publish


def _jpeg(path: Path, quality: int, scale: float = 1.0) -> bytes:
    image = Image.open(path).convert("RGB")
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _match(client: TestClient, headers: dict, body: bytes = b"", **params) -> dict:
    response = client.post("/v1/hashes/match", content=body, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_hma_export_import_match_negative_and_export(
    client: TestClient, admin_key: str, tmp_path: Path
) -> None:
    admin = auth(admin_key)
    photo = media_hashes(FACES / "obama.jpg").hashes[0]
    other = media_hashes(FACES / "biden.jpg").hashes[0]
    clip = make_clip(tmp_path / "banked.mp4", 6.0, 480, 270, seed=4242)
    frames = media_hashes(clip).hashes
    export = f"# exported from HMA: bank 'abuse-sample'\npdq {photo}\nvpdq {','.join(frames)}\n\n"
    imported = client.post(
        "/v1/hashes/banks/abuse-sample/import", content=export.encode(),
        params={"action": "remove"}, headers=admin,
    )  # fmt: skip
    assert imported.status_code == 200, imported.text
    assert imported.json() | {"bank": None} == {
        "bank": None, "added": 2, "signals": 2, "negative": False, "action": "remove",
        "child_safety": False,
    }  # fmt: skip
    bare = client.post(
        "/v1/hashes/banks/known-fp/import", content=f"{other}\n".encode(),
        params={"negative": "true", "default_type": "pdq"}, headers=admin,
    )  # fmt: skip
    assert bare.json()["added"] == 1
    bad = client.post("/v1/hashes/banks/x/import", content=b"pdq nothex\n", headers=admin)
    assert bad.status_code == 422 and "line 1" in bad.json()["error"]["message"]

    copy = _match(client, admin, _jpeg(FACES / "obama.jpg", 55, 0.7))
    assert [(m["bank"], m["signal_type"]) for m in copy["matches"]] == [("abuse-sample", "pdq")]
    assert copy["matches"][0]["distance"] <= 31 and copy["matches"][0]["suppressed_by"] is None
    by_hash = _match(client, admin, pdq=photo)["matches"]
    assert by_hash[0]["bank"] == "abuse-sample" and by_hash[0]["distance"] == 0
    mirrored = transcode(clip, tmp_path / "m.mp4", crf=28, mirror=True, keep_audio=False)
    video = _match(client, admin, mirrored.read_bytes())["matches"]
    assert [(m["bank"], m["signal_type"], m["mirrored"]) for m in video] == [
        ("abuse-sample", "vpdq", True)
    ]
    assert (
        _match(client, admin, make_clip(tmp_path / "u.mp4", 3.0, 480, 270, seed=7).read_bytes())[
            "matches"
        ]
        == []
    )
    # A known false positive: the photo is also in the negative bank.
    client.post(
        "/v1/hashes/banks/known-fp/import", content=f"pdq {photo}\n".encode(),
        params={"negative": "true"}, headers=admin,
    )  # fmt: skip
    suppressed = {m["bank"]: m for m in _match(client, admin, pdq=photo)["matches"]}
    assert suppressed["abuse-sample"]["suppressed_by"] == "known-fp"
    exported = client.get("/v1/hashes/banks/abuse-sample/export", headers=admin).json()
    assert exported["signals"] == 2 and f"pdq {photo}\n" in exported["content"]
    again = client.post(
        "/v1/hashes/banks/copy/import", content=exported["content"].encode(), headers=admin
    )
    assert again.json()["added"] == 2
    platform = auth(make_key("platform", name="platform"))
    assert (
        client.post("/v1/hashes/banks/z/import", content=b"", headers=platform).status_code == 403
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_child_safety_bank_match_escalates_with_a_package_or_alerts(
    client: TestClient, admin_key: str, tmp_path: Path, database: str
) -> None:
    admin = auth(admin_key)
    platform = auth(make_key("platform", name="platform"))
    item = publish(client, platform, tmp_path, "cs-item", "uploader", 77)
    from cameoguard import media_store

    frames = media_hashes(media_store.resolve(item["media_location"])).hashes
    client.post(
        "/v1/hashes/banks/cs-bank/import", content=f"vpdq {','.join(frames)}\n".encode(),
        params={"action": "escalate", "child_safety": "true"}, headers=admin,
    )  # fmt: skip
    media = media_store.resolve(item["media_location"]).read_bytes()
    report = _match(client, platform, media, item_id="cs-item")
    assert report["item_action"] == "remove"
    escalation = report["escalation"]
    assert escalation["queue"] == "child_safety"
    package = Path(escalation["package"])
    fields = json.loads((package / "cybertipline_report.json").read_text())
    assert fields["uploaded_file"]["platform_item_id"] == "cs-item"
    assert fields["uploaded_file"]["hash_match"]["bank"] == "cs-bank"
    assert fields["reported_person"]["platform_user_id"] == "uploader"
    assert (package / "media.mp4").read_bytes() == media
    assert client.get("/v1/feed/items/cs-item", headers=platform).json()["state"] == "removed"
    with session_scope() as session:
        case = session.get(ReviewCase, escalation["case_id"])
        assert case is not None and case.queue == "child_safety"
    # The package cannot be written: an alert, and the match fails (never silent).
    second = publish(client, platform, tmp_path, "cs-item-2", "uploader", 77)
    assert second["media_location"] == item["media_location"]
    folder = get_settings().home / "child_safety"
    folder.rename(folder.with_name("child_safety.done"))
    folder.write_text("not a folder: the package has nowhere to go")
    failed = client.post(
        "/v1/hashes/match", content=media, params={"item_id": "cs-item-2"}, headers=platform
    )
    assert failed.status_code == 503 and failed.json()["error"]["code"] == "escalation_failed"
    with session_scope() as session:
        alert = session.scalar(
            select(AuditEntry).where(AuditEntry.action == "alert.child_safety_package_failed")
        )
        assert alert is not None and alert.subject == "item:cs-item-2"
