"""Continuous likeness scanning on the real parts: PostgreSQL, the Kafka broker, the relay, every
feed signal's scoring worker and the reactions worker with its background re-scanner, as
`cameoguard up` runs them.

A stranger's video of Ana is published before she enrolls: the feed finds nobody in it. Ana
enrolls; another stranger uploads a video of her: the feed's likeness check opens a match, and
the re-scanner, seeing her enrollment, finds the older video too. She confirms the new one (it
is taken down) and dismisses the old one; the platform reads the cases on Kafka."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assembly.reactions import all_reactions
from cameoguard.contracts import CONTENT_PUBLISHED, LIKENESS_MATCHES
from cameoguard.db import session_scope
from consumers.relay import OutboxRelay, make_producer
from consumers.runner import Worker, WorkerConfig, reaction_topics, reactions_handler
from consumers.signals.registry import SIGNALS
from consumers.tables import FeedItem
from rights.rescan import Rescanner
from safety.consent.models import LikenessModels
from tests.consumers.conftest import bootstrap, read_topic
from tests.feed import scorer
from tests.rights.helpers import enroll_cameo
from tests.rights.test_likeness_matches import decide, matches, upload

pytestmark = [pytest.mark.slow, pytest.mark.kafka]
__all__ = ["bootstrap"]


@pytest.fixture
def workers(
    database: str, bootstrap: str, models: LikenessModels, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The relay, one scoring worker per signal, the reactions worker and its re-scanner (at
    600 items a minute, looking for enrollments every half second), on topics of their own."""
    monkeypatch.setenv("CAMEOGUARD_LIKENESS_RESCAN_ITEMS_PER_MINUTE", "600")
    from cameoguard.settings import reset_settings_cache

    reset_settings_cache()
    prefix = f"scan{uuid.uuid4().hex[:8]}."
    stop = threading.Event()
    relay = OutboxRelay(make_producer(bootstrap), topic_prefix=prefix)

    def worker(group: str, topics: list[str], handler) -> Worker:  # type: ignore[no-untyped-def]
        config = WorkerConfig(
            group=f"{prefix}{group}", topics=topics, bootstrap=bootstrap, topic_prefix=prefix
        )
        return Worker(config, handler)

    running = [worker(name, [CONTENT_PUBLISHED], scorer(name, models=models)) for name in SIGNALS]
    reactions = all_reactions()
    running.append(worker("reactions", reaction_topics(reactions), reactions_handler(reactions)))
    threads = [threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=w.run, daemon=True) for w in running]
    for thread in threads:
        thread.start()
    rescanner = Rescanner(poll_s=0.5).start()
    yield prefix
    rescanner.close()
    stop.set()
    for w in running:
        w.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    relay.producer.close()


def _wait(what: str, condition: Callable[[], bool], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _state(item_id: str) -> str | None:
    with session_scope() as session:
        item = session.get(FeedItem, item_id)
        return item.state if item else None


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_feed_and_rescanner_find_her_and_she_decides(
    client: TestClient,
    platform: dict[str, str],
    workers: str,
    bootstrap: str,
    tmp_path: Path,
) -> None:
    upload(client, platform, tmp_path, "before", "eve", "obama2.jpg")
    _wait("the feed's decision on the early video", lambda: _state("before") != "scoring")
    assert _state("before") == "published"  # nobody enrolled was in it

    ana = enroll_cameo(client, platform, tmp_path, "ana", "obama.jpg")["id"]

    def found() -> dict[str, str]:
        return {m["item_id"]: m["found_by"] for m in matches(client, platform, ana, "ana")}

    # The re-scan after her enrollment finds the older video. The new upload waits for it:
    # a re-scan still running would find the new item too, before the feed does.
    _wait("the re-scan's match on the older video", lambda: "before" in found())
    upload(client, platform, tmp_path, "after", "stranger", "obama3.jpg")
    _wait("a match from the feed and one from the re-scan", lambda: len(found()) == 2)
    assert found() == {"after": "feed", "before": "rescan"}
    _wait("the feed's decision on the new upload", lambda: _state("after") != "scoring")
    assert _state("after") == "in_review"  # her face without consent, real footage: review

    by_item = {m["item_id"]: m for m in matches(client, platform, ana, "ana")}
    confirmed = decide(client, platform, ana, by_item["after"]["match_id"], "confirm", "ana")
    assert confirmed.status_code == 200, confirmed.text
    assert _state("after") == "removed"
    dismissed = decide(client, platform, ana, by_item["before"]["match_id"], "dismiss", "ana")
    assert dismissed.status_code == 200, dismissed.text
    assert _state("before") == "published"

    def on_kafka() -> list[tuple[str, str]]:
        records = read_topic(workers + LIKENESS_MATCHES, bootstrap, wait_ms=1500)
        values = [json.loads(r.value) for r in records]
        return sorted((v["item_id"], v["state"]) for v in values)

    expected = [("after", "confirmed"), ("after", "open"), ("before", "dismissed"),
                ("before", "open")]  # fmt: skip
    _wait("the match cases on Kafka", lambda: on_kafka() == expected, timeout_s=60)
