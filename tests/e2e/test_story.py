"""The whole story on the real parts: PostgreSQL, the Kafka broker, the real models, real MP4s.

Two people enroll cameos. Bob generates a clip with Ana's cameo (she lets everyone use it): it is
rendered, scanned, marked, signed and published; the feed workers score it on Kafka and the
aggregator lets it through. Bob publishes a second clip with Joe's cameo (Joe approved Bob) and a
bullying caption: it goes to the review queue, and a reviewer removes it. Ana revokes her cameo:
her clip is taken down. An auditor verifies a downloaded copy of Ana's clip, then the same copy
re-encoded without its manifest, and gets the generation record both times."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assembly.reactions import all_reactions
from cameoguard.contracts import CONTENT_PUBLISHED
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from consumers.relay import OutboxRelay, make_producer
from consumers.runner import (
    Handler,
    Worker,
    WorkerConfig,
    describe,
    reaction_topics,
    reactions_handler,
)
from consumers.signals.registry import SIGNALS
from consumers.tables import FeedItem, FeedScore
from generator.pipeline import Tools
from rights.tables import ItemFingerprint
from tests.conftest import auth, make_key
from tests.feed import scorer
from tests.generator.conftest import enroll, job, run_queue, submit
from tests.media_factory import transcode

pytestmark = [pytest.mark.slow, pytest.mark.kafka]


@dataclass
class _Running:
    """The feed of the test in hand, described when a wait times out."""

    relay: OutboxRelay | None = None
    workers: list[Worker] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)


_running = _Running()


@pytest.fixture
def feed(database: str, bootstrap: str, tools: Tools) -> Iterator[None]:
    """The relay, one scoring worker per registered signal and the reactions worker, on topics
    of their own."""
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    stop = threading.Event()
    relay = OutboxRelay(make_producer(bootstrap), topic_prefix=prefix)

    def worker(group: str, topics: list[str], handler: Handler) -> Worker:
        config = WorkerConfig(
            group=f"{prefix}{group}", topics=topics, bootstrap=bootstrap, topic_prefix=prefix
        )
        return Worker(config, handler)

    workers = [
        worker(name, [CONTENT_PUBLISHED], scorer(name, engine=tools.engine, models=tools.models))
        for name in SIGNALS
    ]
    reactions = all_reactions()
    workers.append(worker("reactions", reaction_topics(reactions), reactions_handler(reactions)))
    threads = [threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    _running.relay, _running.workers, _running.threads = relay, workers, threads
    yield
    _running.relay, _running.workers, _running.threads = None, [], []
    stop.set()
    for worker in workers:
        worker.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    relay.producer.close()
    leaked = [t.name for t in threads if t.is_alive()]
    assert not leaked, (
        f"feed threads still running after 30 s (they would outlive the test): {leaked}"
    )


def _wait(what: str, condition: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{_snapshot()}")


def _snapshot() -> str:
    """What the feed was doing when a wait timed out: each worker's counters and lag, the
    relay's, the threads alive, the outbox rows not yet published and each item's signals."""
    lines = []
    if _running.relay is not None:
        relay = _running.relay
        lines.append(f"relay: published={relay.published} replays={relay.replays}")
    lines += [f"worker: {describe(w)} lag={w.lag}" for w in _running.workers]
    alive = sum(t.is_alive() for t in _running.threads)
    lines.append(f"threads alive: {alive}/{len(_running.threads)}")
    with session_scope() as session:
        pending = session.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.published_at.is_(None))
        ).all()
        lines.append(f"outbox pending: {sorted(pending)}")
        for item in session.scalars(select(FeedItem).order_by(FeedItem.created_at)):
            signals = session.scalars(
                select(FeedScore.classifier).where(FeedScore.item_id == item.id)
            ).all()
            kept = session.get(ItemFingerprint, item.id) is not None
            lines.append(
                f"item {item.id}: {item.state}, scored by {sorted(signals)}, "
                f"fingerprints kept: {kept}, parent: {item.parent_item_id}"
            )
    return "\n".join(lines)


def _state(item_id: str) -> str | None:
    with session_scope() as session:
        item = session.get(FeedItem, item_id)
        return item.state if item else None


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_whole_story(
    client: TestClient,
    platform: dict[str, str],
    tools: Tools,
    feed: None,
    tmp_path: Path,
) -> None:
    ana = enroll(
        client, platform, tmp_path, "ana", "obama.jpg",
        permission="everyone", store_face_image="true",
    )  # fmt: skip
    joe = enroll(
        client, platform, tmp_path, "joe", "biden.jpg",
        permission="approved", approved_user_ids='["bob"]', store_face_image="true",
    )  # fmt: skip

    # A permitted generation: rendered, marked, signed, published, scored, let through.
    sailing = submit(
        client, platform, cameo_ids=[ana], requester_handle="bob",
        prompt='My friend waves from a sailboat and says "what a beautiful day on the water"',
        publish={"caption": "sailing with ana"},
    )["generation_id"]  # fmt: skip
    bullying = submit(
        client, platform, cameo_ids=[joe], prompt="my friend stands in a hallway",
        publish={"caption": "everyone should bully joe until he leaves school"},
    )["generation_id"]  # fmt: skip
    assert run_queue(tools) == 2
    assert job(client, platform, sailing)["state"] == "done"
    assert job(client, platform, bullying)["state"] == "done"
    _wait("the feed's decision on Ana's clip", lambda: _state(sailing) not in (None, "scoring"))
    assert _state(sailing) in ("published", "age_restricted")
    _wait("the bullying clip to reach review", lambda: _state(bullying) == "in_review")

    # A reviewer (child safety: the caption names a school) removes the borderline item.
    reviewer = auth(make_key("reviewer", roles=["child_safety"], name="rae"))
    case = client.post("/v1/review/claims", headers=reviewer).json()["case"]
    assert case is not None and case["item_id"] == bullying
    assert "harassment" in case["signals"]
    assert case["snapshot"]["scores"]["deepfake"]["scores"]["risk"] < 0.5  # Joe approved Bob
    decided = client.post(
        f"/v1/review/cases/{case['case_id']}/decision",
        json={"action": "remove", "reason_code": "harassment", "note": "bullying a minor"},
        headers=reviewer,
    )
    assert decided.status_code == 200, decided.text
    _wait("the reviewer's removal to reach the item", lambda: _state(bullying) == "removed")

    # Someone downloaded Ana's clip while it was up.
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(client.get(f"/v1/generations/{sailing}/media", headers=platform).content)

    # Ana revokes her cameo: her clip is taken down and no longer served.
    revoked = client.delete(f"/v1/cameos/{ana}", params={"owner_id": "ana"}, headers=platform)
    assert revoked.status_code == 200, revoked.text
    _wait("the revocation to take Ana's clip down", lambda: _state(sailing) == "removed")
    gone = client.get(f"/v1/generations/{sailing}/media", headers=platform)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "consent_withdrawn"

    # An auditor verifies the downloaded copy, then the copy re-encoded without its manifest.
    auditor = auth(make_key("auditor", name="audrey"))
    stripped = transcode(copy, tmp_path / "stripped.mp4", height=360, crf=26)
    for path, c2pa in ((copy, "Trusted"), (stripped, None)):
        answer = client.post(
            "/v1/provenance/verify",
            content=path.read_bytes(),
            headers={**auditor, "content-type": "application/octet-stream"},
        )
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["record"]["generation_id"] == sailing, report["verdict"]
        assert report["record"]["cameo_ids"] == [ana]
        if c2pa:
            assert report["c2pa"]["state"] == c2pa
        else:
            assert report["c2pa"]["state"] != "Trusted" and report["record_source"] != "c2pa"
