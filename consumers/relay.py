"""The outbox relay: publishes `outbox_events` rows to Kafka in id order and marks each row
published only after the broker acknowledged it (acks=all, idempotent producer). If the broker
is down, rows stay pending and the relay retries with backoff; nothing is lost, and a crash
between the acknowledgement and the database commit re-sends the row, so consumers de-duplicate
by the `event-id` header (delivery is at least once). Run one relay per database.

Rows whose payload fails its topic's schema are a bug upstream: they go to the dead-letter topic
`dead-letter.relay` with the error, are marked published, and the relay moves on."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.serializer import Serializer
from pydantic import ValidationError
from sqlalchemy import func, select, update

from cameoguard.db import session_scope, utcnow
from cameoguard.events import OutboxEvent
from consumers.schemas import dead_letter_topic, validate

log = logging.getLogger("cameoguard.relay")
GROUP = "relay"


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
        producer: KafkaProducer,
        batch: int = 200,
        ack_timeout_s: float = 15.0,
        topic_prefix: str = "",
    ):
        self.producer = producer
        self.topic_prefix = topic_prefix
        self.batch = batch
        self.ack_timeout_s = ack_timeout_s
        self.published = 0
        self.dead_lettered = 0

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
        for event, future in futures:
            try:
                future.get(timeout=self.ack_timeout_s)
            except (KafkaError, TimeoutError) as exc:
                failed = (event.id, f"{type(exc).__name__}: {exc}"[:500])
                log.warning("broker did not acknowledge", extra={"id": event.id})
                break
            acked.append(event.id)
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
        return len(acked)

    def run(self, stop: threading.Event, idle_s: float = 0.2, max_backoff_s: float = 10.0) -> None:
        backoff = idle_s
        while not stop.is_set():
            try:
                sent = self.run_once()
                backoff = idle_s
            except Exception as exc:  # the broker or the database is down: wait and retry
                log.warning("relay round failed", extra={"error": f"{type(exc).__name__}: {exc}"})
                sent = 0
                backoff = min(max_backoff_s, backoff * 2)
            if sent == 0:
                stop.wait(backoff)
        self.producer.flush(timeout=self.ack_timeout_s)


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
