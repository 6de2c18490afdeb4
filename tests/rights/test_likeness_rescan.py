"""Re-scans after an enrollment: a stranger's video of Joe was published before Joe enrolled, so
the feed never matched it against him. Once he enrolls, the recent items are matched against his
face alone, newest first; the scan is stopped after one item and a new scanner continues from
the cursor, scanning each item once; the old video opens a match for Joe (his own does not);
what he dismissed is not raised by the next scan. A protected person added later sends an old
item of theirs to review. `cameoguard rights rescan` runs the same by hand. Real photos, real
models."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from assembly.cli import app
from cameoguard.db import session_scope, utcnow
from rights.rescan import LEASE, Pace, enqueue_new_identities, rescans, run_pending
from rights.tables import LikenessRescan
from safety.consent.models import LikenessModels
from safety.consent.protected import add_protected_person
from safety.review.tables import ReviewCase
from tests.consent.conftest import FACES
from tests.rights.helpers import enroll_cameo
from tests.rights.test_likeness_matches import decide, matches, upload
from tests.rights.test_usages_and_lineage import publish

pytestmark = pytest.mark.slow
FAST = Pace(items_per_minute=6000)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_enrolling_rescans_older_items_newest_first_and_resumes(
    client: TestClient, platform: dict[str, str], models: LikenessModels, tmp_path: Path
) -> None:
    upload(client, platform, tmp_path, "joe-own", "joe", "biden.jpg")  # his own: no match
    upload(client, platform, tmp_path, "old-joe", "eve", "biden.jpg")
    publish(client, platform, tmp_path, "old-clip-1", "carl", 11)
    publish(client, platform, tmp_path, "old-clip-2", "dora", 12)
    joe = enroll_cameo(client, platform, tmp_path, "joe", "biden.jpg")["id"]
    assert enqueue_new_identities() == [f"cameo:{joe}"]
    assert enqueue_new_identities() == []  # queued once

    # Stopped after one item: the newest, and the cursor says so.
    assert run_pending(models, threading.Event(), FAST, scanner="first", max_items=1) == 1
    [job] = rescans()
    assert (job.state, job.scanned, job.cursor_item, job.matched) == (
        "running", 1, "old-clip-2", 0,
    )  # fmt: skip
    # A scanner that died holding the lease keeps others off until the lease runs out.
    with session_scope(write=True) as session:
        session.execute(
            update(LikenessRescan).values(lease_owner="died", lease_until=utcnow() + LEASE)
        )
    assert run_pending(models, threading.Event(), FAST, scanner="second") == 0
    with session_scope(write=True) as session:
        session.execute(update(LikenessRescan).values(lease_until=utcnow() - LEASE))
    # A scanner started later (a restart) continues from the cursor, each item once.
    assert run_pending(models, threading.Event(), FAST, scanner="second") == 3
    [job] = rescans()
    assert (job.state, job.scanned, job.matched, job.failed) == ("done", 4, 1, 0)
    [found] = matches(client, platform, joe, "joe")
    assert (found["item_id"], found["found_by"], found["modality"]) == ("old-joe", "rescan", "face")
    assert found["consent"] == "not_granted" and found["made_by"] == "eve"
    assert found["score"] >= found["threshold"]

    # Dismissed (not him): the next scan of the same items raises nothing.
    assert decide(client, platform, joe, found["match_id"], "dismiss", "joe").status_code == 200
    with session_scope(write=True) as session:
        session.execute(
            update(LikenessRescan).values(state="pending", cursor_at=None, cursor_item=None)
        )
    assert run_pending(models, threading.Event(), FAST, scanner="third") == 4
    assert [m["state"] for m in matches(client, platform, joe, "joe")] == ["dismissed"]
    assert rescans()[0].matched == 1

    # A protected person added after an item of theirs was published: the item goes to review.
    upload(client, platform, tmp_path, "old-obama", "mallory", "obama2.jpg")
    person = add_protected_person("Barack Obama", "", models, [FACES / "obama.jpg"], actor="ops")
    result = CliRunner().invoke(app, ["rights", "rescan", "--items-per-minute", "6000"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    by_identity = {line["identity"]: line for line in lines}
    assert by_identity[f"protected:{person.id}"]["state"] == "done"
    assert by_identity[f"protected:{person.id}"]["matched"] == 1
    item = client.get("/v1/feed/items/old-obama", headers=platform).json()
    assert item["state"] == "in_review"
    assert "protected person Barack Obama" in item["state_reasons"][0]
    with session_scope() as session:
        case = session.query(ReviewCase).filter(ReviewCase.item_id == "old-obama").one()
        assert case.status == "open" and "deepfake" in case.signals
