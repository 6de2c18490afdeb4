"""The broker is stopped and restarted with an empty log (the embedded broker keeps topics in
memory): events it held but nobody had consumed yet are not lost. The relay notices the offsets
going backwards through its heartbeat, re-publishes the recent outbox, and the worker, whose
committed offsets went with the broker, scores every item exactly once; its lag, read from the
broker, goes back to zero."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cameoguard.contracts import CONTENT_PUBLISHED
from cameoguard.db import session_scope
from cameoguard.events import emit
from consumers.lag import group_lag, total_lag
from consumers.relay import OutboxRelay, make_producer
from consumers.runner import Worker, WorkerConfig
from consumers.tables import FeedScore
from tests.feed import scorer

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    def __init__(self, state: Path) -> None:
        self.port, self.state = _free_port(), state

    def _script(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "local_broker.py"), *args,
             "--state-dir", str(self.state)],
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    def start(self) -> None:
        self._script("start", "--port", str(self.port))

    def stop(self) -> None:
        self._script("stop")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    own = Broker(tmp_path / "broker")
    own.start()
    yield own
    own.stop()


def _item(item_id: str) -> dict:
    return {
        "schema_version": 1,
        "item_id": item_id,
        "media_location": f"media/{item_id}.mp4",
        "caption": "a calm day at the lake",
        "author_id": "user_1",
        "author_age_group": "adult",
        "published_at": datetime.now(UTC).isoformat(),
    }


def _scored(item_ids: list[str]) -> tuple[int, int]:
    """(items with a score, score rows) among `item_ids`."""
    with session_scope() as session:
        rows = session.scalar(select(func.count()).where(FeedScore.item_id.in_(item_ids))) or 0
        items = session.scalar(
            select(func.count(func.distinct(FeedScore.item_id))).where(
                FeedScore.item_id.in_(item_ids)
            )
        )
    return int(items or 0), int(rows)


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_broker_restart_loses_nothing_and_applies_nothing_twice(
    database: str, broker: Broker
) -> None:

    run = uuid.uuid4().hex[:8]
    held = [f"r{run}_held{i}" for i in range(6)]  # in the broker when it goes, never consumed
    later = [f"r{run}_later{i}" for i in range(6)]

    def publish(item_ids: list[str]) -> None:
        with session_scope(write=True) as session:
            for item_id in item_ids:
                emit(session, CONTENT_PUBLISHED, item_id, _item(item_id))

    stop = threading.Event()
    relay = OutboxRelay(
        make_producer(broker.bootstrap),
        ack_timeout_s=5.0,
        heartbeat_s=1.0,
        renew_producer=lambda: make_producer(broker.bootstrap),
    )
    relay_thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    relay_thread.start()
    worker = Worker(
        WorkerConfig(group=f"harassment-restart-{run}", topics=[CONTENT_PUBLISHED],
                     bootstrap=broker.bootstrap),
        scorer("harassment"),
    )  # fmt: skip
    worker_thread = threading.Thread(target=worker.run, daemon=True)

    def lag() -> int:
        """As the broker reports it: high watermark minus the group's committed offsets."""
        return total_lag(group_lag(broker.bootstrap, worker.config.group, [CONTENT_PUBLISHED]))

    try:
        publish(held)
        assert _wait(lambda: relay.published >= len(held), 60)
        time.sleep(1.5)  # a heartbeat or two on the old log
        broker.stop()
        broker.start()  # empty: the held events are gone from the broker
        assert _wait(lambda: relay.replays >= 1, 60), "the relay did not notice the lost log"
        # The group's offsets went with the broker: it is behind by every replayed event.
        assert _wait(lambda: lag() >= len(held), 60), lag()
        worker_thread.start()
        publish(later)
        assert _wait(lambda: _scored(held + later)[0] == len(held + later), 120)
        assert _wait(lambda: lag() == 0, 60), "the consumer lag did not recover"
        time.sleep(2)  # anything double-applied would show up now
    finally:
        stop.set()
        worker.stop.set()
        relay_thread.join(timeout=30)
        if worker_thread.is_alive():
            worker_thread.join(timeout=30)
        relay.producer.close()
    assert _scored(held + later) == (len(held + later), len(held + later))  # once each
    assert worker.dead_lettered == 0
