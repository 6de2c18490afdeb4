"""The outbox relay: publishes `outbox_events` rows to Kafka in id order and marks each row
published only after the broker acknowledged it (acks=all, idempotent producer). If the broker
is down, rows stay pending and the relay retries with backoff; nothing is lost, and a crash
between the acknowledgement and the database commit re-sends the row, so consumers de-duplicate
by the `event-id` header (delivery is at least once). Run one relay per database.

Rows whose payload fails its topic's schema are a bug upstream: they go to the dead-letter topic
`dead-letter.relay` with the error, are marked published, and the relay moves on.

A broker that lost its log (the embedded broker keeps topics in memory, so a restart empties
them; a real cluster can lose data in a disaster) is noticed by offsets going backwards: the
relay remembers the highest offset acknowledged per partition, and when idle it sends a small
heartbeat to `relay.heartbeat` every few seconds to look. Then every row published within the
replay window is sent again, in id order; consumers are idempotent, so nothing is applied twice
and nothing that was in the lost log is lost."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.serializer import Serializer
from pydantic import ValidationError
from sqlalchemy import func, select, update

from cameoguard.contracts import dead_letter_topic, validate
from cameoguard.db import session_scope, utcnow
from cameoguard.events import OutboxEvent

log = logging.getLogger("cameoguard.relay")
GROUP = "relay"
HEARTBEAT_TOPIC = "relay.heartbeat"


def make_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        retries=5,
        linger_ms=5,
        request_timeout_ms=10_000,
        max_block_ms=10_000,
        key_serializer=_KeySerializer(),
        value_serializer=_JsonSerializer(),
    )


class _KeySerializer(Serializer):
    def serialize(self, topic: str, headers: list[tuple[str, bytes]], data: Any) -> bytes:
        return str(data).encode()


class _JsonSerializer(Serializer):
    def serialize(self, topic: str, headers: list[tuple[str, bytes]], data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), default=str).encode()


class OutboxRelay:
    def __init__(
        self,
        producer: KafkaProducer | None,
        batch: int = 200,
        ack_timeout_s: float = 15.0,
        topic_prefix: str = "",
        replay_window_s: float = 3600.0,
        heartbeat_s: float = 5.0,
        renew_producer: Callable[[], KafkaProducer] | None = None,
    ):
        self._producer = producer
        self.renew_producer = renew_producer
        self._failures = 0
        self._round_failed = False
        self.topic_prefix = topic_prefix
        self.replay_window_s = replay_window_s
        self.heartbeat_s = heartbeat_s
        self.replays = 0
        self._high: dict[tuple[str, int], int] = {}
        self._last_heartbeat = 0.0
        self.batch = batch
        self.ack_timeout_s = ack_timeout_s
        self.published = 0
        self.dead_lettered = 0

    @property
    def producer(self) -> KafkaProducer:
        """The producer; made on first use when the relay started without one (a broker that is
        not up yet), so a relay started before its broker waits for it instead of exiting."""
        if self._producer is None:
            if self.renew_producer is None:
                raise RuntimeError("the relay has no producer and no way to make one")
            self._producer = self.renew_producer()
        return self._producer

    @producer.setter
    def producer(self, value: KafkaProducer | None) -> None:
        self._producer = value

    def close(self, timeout_s: float = 1.0) -> None:
        """Closes the producer without waiting long on a broker that may be gone."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=timeout_s)

    def _send(self, event: OutboxEvent) -> Any:
        headers = [("event-id", str(event.id).encode()), ("source", b"outbox")]
        try:
            validate(event.topic, event.payload)
        except (ValidationError, ValueError) as exc:
            self.dead_lettered += 1
            log.error("outbox row fails its schema", extra={"id": event.id, "topic": event.topic})
            payload = {"topic": event.topic, "payload": event.payload, "error": str(exc)[:2000]}
            return self.producer.send(
                self.topic_prefix + dead_letter_topic(GROUP),
                key=event.key,
                value=payload,
                headers=headers,
            )
        return self.producer.send(
            self.topic_prefix + event.topic, key=event.key, value=event.payload, headers=headers
        )

    def run_once(self) -> int:
        """Publishes one batch of pending rows; returns how many were acknowledged. Stops at the
        first failure so that rows are published in order. No transaction is held while waiting
        for the broker (a down broker must not block the service's writers)."""
        with session_scope() as session:
            events = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(self.batch)
            ).all()
            session.expunge_all()
        if not events:
            return 0
        futures = [(event, self._send(event)) for event in events]
        self.producer.flush(timeout=self.ack_timeout_s)
        acked: list[int] = []
        failed: tuple[int, str] | None = None
        lost = False
        for event, future in futures:
            try:
                metadata = future.get(timeout=self.ack_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                failed = (event.id, f"{type(exc).__name__}: {exc}"[:500])
                log.warning("broker did not acknowledge", extra={"id": event.id})
                break
            acked.append(event.id)
            lost = self._went_backwards(metadata) or lost
        with session_scope(write=True) as session:
            if acked:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(acked))
                    .values(published_at=utcnow())
                )
            if failed is not None:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == failed[0])
                    .values(attempts=OutboxEvent.attempts + 1, last_error=failed[1])
                )
        self.published += len(acked)
        self._round_failed = failed is not None
        if lost:
            self.replay()
        return len(acked)

    def _went_backwards(self, metadata: Any) -> bool:
        """Records an acknowledged offset; True when it is below one acknowledged before."""
        key = (metadata.topic, metadata.partition)
        before = self._high.get(key, -1)
        self._high[key] = max(before, metadata.offset)
        if metadata.offset < before:
            log.warning(
                "acknowledged offset went backwards",
                extra={"topic": key[0], "partition": key[1], "offset": metadata.offset,
                       "before": before},
            )  # fmt: skip
        return metadata.offset < before

    def heartbeat(self) -> bool:
        """Sends one heartbeat; True when the broker's log went backwards (and was replayed)."""
        future = self.producer.send(
            self.topic_prefix + HEARTBEAT_TOPIC, key=GROUP, value={"at": utcnow().isoformat()}
        )
        self.producer.flush(timeout=self.ack_timeout_s)
        metadata = future.get(timeout=self.ack_timeout_s)
        self._last_heartbeat = time.monotonic()
        self._failures = 0
        if self._went_backwards(metadata):
            self.replay()
            return True
        return False

    def replay(self) -> int:
        """Marks every row published within the replay window as pending again."""
        since = utcnow() - timedelta(seconds=self.replay_window_s)
        with session_scope(write=True) as session:
            result = session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.published_at.is_not(None), OutboxEvent.published_at >= since)
                .values(published_at=None)
            )
        self._high.clear()
        self.replays += 1
        count = int(result.rowcount or 0)
        log.warning("the broker lost its log: re-publishing", extra={"events": count})
        return count

    def _failed(self) -> None:
        """Counts a failed round; after a few in a row starts a fresh producer. A broker that
        restarted does not know the idempotent producer's id any more and refuses its sends
        until a new producer registers."""
        self._failures += 1
        if self._failures >= 2 and self.renew_producer is not None:
            log.warning("renewing the producer after repeated failures")
            with contextlib.suppress(Exception):  # the old producer is unusable anyway
                if self._producer is not None:
                    self._producer.close(timeout=1)
            self._producer = None  # made again on the next round (the broker may still be down)
            self._failures = 0

    def run(self, stop: threading.Event, idle_s: float = 0.2, max_backoff_s: float = 10.0) -> None:
        backoff = idle_s
        while not stop.is_set():
            healthy = True
            try:
                sent = self.run_once()
                backoff = idle_s
                if self._round_failed:
                    self._failed()
                elif sent > 0:
                    self._failures = 0
            except Exception as exc:  # the broker or the database is down: wait and retry
                log.warning("relay round failed", extra={"error": f"{type(exc).__name__}: {exc}"})
                sent, healthy = 0, False
                backoff = min(max_backoff_s, backoff * 2)
                self._failed()
            if sent == 0:
                due = time.monotonic() - self._last_heartbeat >= self.heartbeat_s
                if healthy and due:
                    try:
                        self.heartbeat()
                    except Exception as exc:  # the broker is down: the next round retries
                        log.warning("heartbeat failed", extra={"error": f"{exc}"[:300]})
                        self._last_heartbeat = time.monotonic()
                        self._failed()
                stop.wait(backoff)
        with contextlib.suppress(Exception):  # what is not acknowledged stays pending anyway
            if self._producer is not None:
                self._producer.flush(timeout=2)


def pending_count() -> int:
    with session_scope() as session:
        query = select(func.count()).where(OutboxEvent.published_at.is_(None))
        return int(session.scalar(query) or 0)


def wait_until_drained(relay: OutboxRelay, timeout_s: float = 30.0) -> bool:
    """Runs rounds until nothing is pending (tests, the CLI's --once)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        relay.run_once()
        if pending_count() == 0:
            return True
        time.sleep(0.2)
    return False
