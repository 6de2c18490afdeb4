"""Workers against the real broker: a published item is scored once, offsets are committed after
the write, a poison message and a handler that keeps failing land in the dead-letter topic."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cameoguard.contracts import CONTENT_PUBLISHED, CONTENT_SCORES, dead_letter_topic
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from consumers.relay import make_producer
from consumers.runner import Worker, WorkerConfig
from consumers.tables import FeedScore
from tests.consumers.conftest import read_topic
from tests.feed import scorer

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _item(item_id: str, caption: str) -> dict:
    return {
        "schema_version": 1,
        "item_id": item_id,
        "media_location": f"media/{item_id}.mp4",
        "caption": caption,
        "author_id": "user_1",
        "author_age_group": "adult",
        "published_at": datetime.now(UTC).isoformat(),
    }


def _publish(bootstrap: str, item_ids: list[str]) -> None:
    """Publishes one item per id (caption "x") to content.published, acknowledged."""
    producer = make_producer(bootstrap)
    for item_id in item_ids:
        producer.send(CONTENT_PUBLISHED, key=item_id, value=_item(item_id, "x"))
    producer.flush()
    producer.close()


def _run_until(worker: Worker, done, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done():
            time.sleep(0.2)
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    assert done(), "worker did not finish in time"


def _scores(item_ids: list[str]) -> int:
    with session_scope() as session:
        query = select(func.count()).where(FeedScore.item_id.in_(item_ids))
        return int(session.scalar(query) or 0)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_harassment_worker_scores_each_item_once(database: str, bootstrap: str) -> None:
    run = uuid.uuid4().hex[:8]
    items = {
        f"it_{run}_kind": "what a lovely sunset over the lake",
        f"it_{run}_mean": "you are a worthless idiot and everyone hates you, go away loser",
    }
    producer = make_producer(bootstrap)
    for item_id, caption in items.items():
        producer.send(CONTENT_PUBLISHED, key=item_id, value=_item(item_id, caption))
    producer.send(CONTENT_PUBLISHED, key=f"it_{run}_bad", value={"item_id": "missing fields"})
    producer.flush()
    config = WorkerConfig(
        group=f"harassment-{run}", topics=[CONTENT_PUBLISHED], bootstrap=bootstrap
    )
    worker = Worker(config, scorer("harassment"))
    _run_until(worker, lambda: _scores(list(items)) == 2 and worker.dead_lettered >= 1)
    with session_scope() as session:
        rows = {r.item_id: r for r in session.scalars(select(FeedScore)).all()}
        assert (
            rows[f"it_{run}_mean"].scores["harassment"]
            > rows[f"it_{run}_kind"].scores["harassment"]
        )
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == CONTENT_SCORES)
        ).all()
        assert sorted(e.key for e in events if e.key in items) == sorted(items)

    # A second worker in the same group resumes after the committed offsets: nothing is redone.
    seen: list[str] = []
    scoring = scorer("harassment")

    def recording(topic, message, headers):  # type: ignore[no-untyped-def]
        seen.append(message.item_id)
        scoring(topic, message, headers)

    again = Worker(config, recording)
    producer.send(CONTENT_PUBLISHED, key=f"it_{run}_late", value=_item(f"it_{run}_late", "hello"))
    producer.flush()
    _run_until(again, lambda: _scores([f"it_{run}_late"]) == 1)
    assert not set(items) & set(seen)  # committed before: not handled again
    assert _scores(list(items)) == 2
    producer.close()

    dead = [json.loads(m.value) for m in read_topic(dead_letter_topic(config.group), bootstrap)]
    assert any("invalid message" in d["error"] and d["key"] == f"it_{run}_bad" for d in dead)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
    database: str, bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    calls: list[str] = []

    def flaky(topic, message, headers):  # type: ignore[no-untyped-def]
        calls.append(message.item_id)
        if message.item_id.endswith("poison"):
            raise RuntimeError("storage unavailable")

    _publish(bootstrap, [f"{run}_poison", f"{run}_fine"])
    config = WorkerConfig(
        group=f"flaky-{run}", topics=[CONTENT_PUBLISHED], bootstrap=bootstrap, backoff_s=0.05
    )
    worker = Worker(config, flaky)
    _run_until(worker, lambda: f"{run}_fine" in calls and calls.count(f"{run}_poison") == 3)
    assert calls.count(f"{run}_poison") == 3  # the first try and two retries, then dead-lettered
    dead = [json.loads(m.value) for m in read_topic(dead_letter_topic(config.group), bootstrap)]
    poison = [d for d in dead if d["key"] == f"{run}_poison"]
    assert len(poison) == 1 and "storage unavailable" in poison[0]["error"]


class _FetchThatStops(Worker):
    """A worker whose first consumer stops fetching once it has its partitions (its poll keeps
    the group membership but returns nothing), as a fetch or assignment that no longer moves."""

    def __init__(self, config: WorkerConfig, handler) -> None:  # type: ignore[no-untyped-def]
        super().__init__(config, handler)
        self.connections = 0

    def _connect(self) -> None:
        super()._connect()
        self.connections += 1
        consumer = self._consumer
        assert consumer is not None
        if self.connections > 1:
            return
        poll = consumer.poll

        def stuck(timeout_ms: int = 0, **kwargs):  # type: ignore[no-untyped-def]
            for partition, records in poll(timeout_ms=timeout_ms, **kwargs).items():
                consumer.seek(partition, records[0].offset)  # fetched, never handed over
            if consumer.assignment():
                consumer.pause(*consumer.assignment())
            return {}

        consumer.poll = stuck  # type: ignore[method-assign]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_worker_behind_the_log_that_stops_moving_joins_again_and_catches_up(
    database: str, bootstrap: str
) -> None:
    run = uuid.uuid4().hex[:8]
    handled: list[str] = []
    _publish(bootstrap, [f"{run}_{i}" for i in range(3)])
    config = WorkerConfig(
        group=f"stall-{run}", topics=[CONTENT_PUBLISHED], bootstrap=bootstrap, stall_s=3.0
    )
    worker = _FetchThatStops(config, lambda _topic, message, _h: handled.append(message.item_id))
    _run_until(worker, lambda: {f"{run}_{i}" for i in range(3)} <= set(handled))
    assert worker.stalls == 1 and worker.connections == 2
    assert sorted(h for h in handled if h.startswith(run)) == [f"{run}_{i}" for i in range(3)]
