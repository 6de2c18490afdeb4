"""Faults against the real broker: a worker process killed with SIGKILL mid-stream loses nothing
and applies each result once; the broker paused with SIGSTOP for 20 s and resumed: the relay and
a worker recover with nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cameoguard.contracts import CONTENT_PUBLISHED, CONTENT_SCORES
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent, emit
from consumers.relay import OutboxRelay, make_producer
from consumers.runner import Worker, WorkerConfig
from consumers.tables import FeedScore
from tests.feed import scorer

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _item(item_id: str) -> dict:
    return {
        "schema_version": 1,
        "item_id": item_id,
        "media_location": f"{item_id}.mp4",
        "caption": f"day {item_id[-3:]} of my trip, the mountains look great",
        "author_id": "user_1",
        "published_at": datetime.now(UTC).isoformat(),
    }


def _counts(item_ids: list[str]) -> tuple[int, int, int]:
    """(items scored, score rows, content.scores events) for these items."""
    with session_scope() as session:
        scored = session.scalar(
            select(func.count(func.distinct(FeedScore.item_id))).where(
                FeedScore.item_id.in_(item_ids)
            )
        )
        rows = session.scalar(select(func.count()).where(FeedScore.item_id.in_(item_ids)))
        events = session.scalar(
            select(func.count()).where(
                OutboxEvent.topic == CONTENT_SCORES, OutboxEvent.key.in_(item_ids)
            )
        )
        return int(scored or 0), int(rows or 0), int(events or 0)


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _worker_process(bootstrap: str, group: str, log: Path) -> subprocess.Popen:
    code = "from assembly.cli import main; main()"
    command = [
        sys.executable,
        "-c",
        code,
        "worker",
        "score",
        "harassment",
        "--bootstrap",
        bootstrap,
    ]
    return subprocess.Popen(
        [*command, "--group", group], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_worker_killed_mid_stream_loses_nothing_and_applies_once(
    database: str, bootstrap: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    items = [f"k{run}_{i:03d}" for i in range(400)]  # enough that the kill lands mid-stream
    producer = make_producer(bootstrap)
    for item_id in items:
        producer.send(CONTENT_PUBLISHED, key=item_id, value=_item(item_id))
    producer.flush()
    producer.close()
    group = f"harassment-kill-{run}"
    first = _worker_process(bootstrap, group, tmp_path / "first.log")
    try:
        assert _wait(lambda: _counts(items)[0] >= 5, 90), (tmp_path / "first.log").read_text()
    finally:
        first.send_signal(signal.SIGKILL)  # mid-stream: no commit, no goodbye
        first.wait(timeout=30)
    assert _counts(items)[0] < len(items)  # it really died before the end
    second = _worker_process(bootstrap, group, tmp_path / "second.log")
    try:
        assert _wait(lambda: _counts(items)[0] == len(items), 120), (
            tmp_path / "second.log"
        ).read_text()
    finally:
        second.send_signal(signal.SIGTERM)  # graceful: finishes the message in hand
        assert second.wait(timeout=60) == 0
    assert _counts(items) == (len(items), len(items), len(items))  # each applied exactly once


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_broker_paused_for_20_s_relay_and_worker_recover(database: str, bootstrap: str) -> None:

    state = os.environ.get("CAMEOGUARD_TEST_BROKER_STATE")
    if not state or not (Path(state) / "broker.pid").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run this: CAMEOGUARD_TEST_BROKER_STATE names no broker pid")
        pytest.skip("needs the test broker's pid: use scripts/test.sh")
    broker_pid = int((Path(state) / "broker.pid").read_text())
    run = uuid.uuid4().hex[:8]
    before = [f"p{run}_a{i}" for i in range(5)]
    during = [f"p{run}_b{i}" for i in range(5)]

    def publish(item_ids: list[str]) -> None:
        with session_scope(write=True) as session:
            for item_id in item_ids:
                emit(session, CONTENT_PUBLISHED, item_id, _item(item_id))

    relay_stop = threading.Event()
    relay = OutboxRelay(make_producer(bootstrap), ack_timeout_s=5.0)
    relay_thread = threading.Thread(target=relay.run, args=(relay_stop,), daemon=True)
    config = WorkerConfig(group=f"harassment-pause-{run}", topics=[CONTENT_PUBLISHED],
                          bootstrap=bootstrap)  # fmt: skip
    worker = Worker(config, scorer("harassment"))
    worker_thread = threading.Thread(target=worker.run, daemon=True)
    relay_thread.start()
    worker_thread.start()
    try:
        publish(before)
        assert _wait(lambda: _counts(before)[0] == len(before), 90)
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            publish(during)  # the service keeps working: events wait in the outbox
            time.sleep(20)
            assert _counts(during)[0] == 0
        finally:
            os.kill(broker_pid, signal.SIGCONT)
        assert _wait(lambda: _counts(during)[0] == len(during), 120)
    finally:
        relay_stop.set()
        worker.stop.set()
        relay_thread.join(timeout=30)
        worker_thread.join(timeout=30)
    assert _counts(before + during)[1] == len(before + during)

    def pending() -> int:
        with session_scope() as session:
            query = select(func.count()).where(
                OutboxEvent.published_at.is_(None), OutboxEvent.topic == CONTENT_PUBLISHED
            )
            return int(session.scalar(query) or 0)

    relay_stop.clear()  # the relay marks what the broker acknowledged once it is back
    relay_thread = threading.Thread(target=relay.run, args=(relay_stop,), daemon=True)
    relay_thread.start()
    try:
        assert _wait(lambda: pending() == 0, 60)
    finally:
        relay_stop.set()
        relay_thread.join(timeout=30)
