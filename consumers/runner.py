"""The consumer loop every worker runs: one consumer group per worker kind, several instances
sharing the partitions.

For each message: validate it against its topic's schema, call the worker's handler (which
writes its result, and any events it causes, in one database transaction), and only then commit
the offset. A failing handler is retried with backoff; a message that still fails, or that fails
its schema, goes to the group's dead-letter topic with the error, and the worker moves on.
A broker that cannot be reached or times out never ends the worker: it closes its clients,
waits (with backoff) and connects again; uncommitted messages are delivered again and handled
idempotently. A worker that is behind the end of its log and handles nothing for `stall_s`
leaves the group and joins again, so a fetch or an assignment that stopped moving heals itself.
SIGTERM finishes the message in hand, commits, and leaves the group; a process
that cannot finish within its grace period (a broker that does not answer) exits anyway, and
its uncommitted messages go to another instance."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError

from cameoguard.contracts import Message, Reaction, dead_letter_topic, validate
from consumers.relay import make_producer

log = logging.getLogger("cameoguard.worker")

MESSAGES = Counter("cameoguard_worker_messages_total", "Messages handled", ["group", "outcome"])
LATENCY = Histogram(
    "cameoguard_worker_handle_seconds",
    "Time to handle one message",
    ["group"],
    buckets=(0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
LAG = Gauge("cameoguard_worker_lag", "Messages behind the end of the log", ["group"])

Handler = Callable[[str, Message, dict[str, str]], None]


class PermanentError(Exception):
    """The message can never be handled (retrying will not help): dead-letter it at once."""


@dataclass
class WorkerConfig:
    group: str
    topics: list[str]
    bootstrap: str
    session_timeout_ms: int = 6000
    max_attempts: int = 3
    backoff_s: float = 0.5
    poll_ms: int = 500
    topic_prefix: str = ""  # physical topic = prefix + logical name (environments, tenants)
    # Behind the end of the log without handling a message this long: leave the group and join
    # again (a fetch or an assignment that no longer moves would otherwise hold it for ever).
    stall_s: float = 60.0


BOOTSTRAP_TIMEOUT_MS = 2_000


class Worker:
    def __init__(self, config: WorkerConfig, handler: Handler) -> None:
        self.config = config
        self.handler = handler
        self.stop = threading.Event()
        self.handled = 0
        self.dead_lettered = 0
        self.reconnects = 0
        self.stalls = 0
        self.lag: int | None = None
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None

    def _connect(self) -> None:
        self._consumer = KafkaConsumer(
            *(self.config.topic_prefix + topic for topic in self.config.topics),
            bootstrap_servers=self.config.bootstrap.split(","),
            group_id=self.config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=max(500, self.config.session_timeout_ms // 3),
            max_poll_records=20,
            max_poll_interval_ms=300_000,
            # The constructor waits for the broker: bounded, so a stop is seen within seconds.
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )
        self._producer = make_producer(self.config.bootstrap)

    def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        assert self._producer is not None
        payload = {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": record.key.decode(errors="replace") if record.key else None,
            "value": record.value.decode(errors="replace") if record.value else None,
            "error": error[:2000],
            "group": self.config.group,
        }
        future = self._producer.send(
            self.config.topic_prefix + dead_letter_topic(self.config.group),
            key=payload["key"] or "",
            value=payload,
        )
        future.get(timeout=15)  # the offset is committed only once the dead letter is safe
        self.dead_lettered += 1
        MESSAGES.labels(self.config.group, "dead_lettered").inc()
        log.error("dead-lettered", extra={"group": self.config.group, "error": error[:300]})

    def _handle(self, record: ConsumerRecord) -> None:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
        topic = record.topic.removeprefix(self.config.topic_prefix)
        try:
            message = validate(topic, json.loads(record.value))
        except (ValidationError, ValueError) as exc:
            self._dead_letter(record, f"invalid message: {exc}")
            return
        started = time.perf_counter()
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                self.handler(topic, message, headers)
                break
            except PermanentError as exc:
                self._dead_letter(record, f"PermanentError: {exc}")
                return
            except Exception as exc:
                MESSAGES.labels(self.config.group, "retried").inc()
                if attempt == self.config.max_attempts or self.stop.is_set():
                    self._dead_letter(record, f"{type(exc).__name__}: {exc}")
                    return
                log.warning("handler failed, retrying", extra={"attempt": attempt})
                self.stop.wait(self.config.backoff_s * 2 ** (attempt - 1))
        self.handled += 1
        log.debug(
            "handled",
            extra={"group": self.config.group, "topic": topic, "offset": record.offset,
                   "ms": round((time.perf_counter() - started) * 1000, 1)},
        )  # fmt: skip
        MESSAGES.labels(self.config.group, "ok").inc()
        LATENCY.labels(self.config.group).observe(time.perf_counter() - started)

    def _commit(self, record: ConsumerRecord) -> None:
        assert self._consumer is not None
        partition = TopicPartition(record.topic, record.partition)
        self._consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})

    def _update_lag(self) -> int | None:
        """Messages behind the end of the log on the assigned partitions; None when none are."""
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        if not assigned:
            return None
        ends = self._consumer.end_offsets(list(assigned))
        lag = sum(max(0, ends[p] - (self._consumer.position(p) or 0)) for p in assigned)
        LAG.labels(self.config.group).set(lag)
        self.lag = lag
        return lag

    def run(self, max_backoff_s: float = 10.0) -> None:
        """Until `stop` is set. Each record is handled, then its offset committed."""
        backoff = self.config.backoff_s
        while not self.stop.is_set():
            try:
                self._connect()
                backoff = self.config.backoff_s
                self._consume()
            except KafkaError as exc:  # unreachable or timing out: reconnect after a pause
                self.reconnects += 1
                log.warning(
                    "broker trouble; reconnecting",
                    extra={"group": self.config.group, "error": f"{type(exc).__name__}: {exc}"},
                )
                self.stop.wait(backoff)
                backoff = min(max_backoff_s, backoff * 2)
            finally:
                self._close()

    def _consume(self) -> None:
        """Until `stop`, or until the worker is behind the log and handles nothing for
        `stall_s` (then run() connects again; what was not committed is delivered again)."""
        assert self._consumer is not None
        moved = time.monotonic()
        while not self.stop.is_set():
            batches = self._consumer.poll(timeout_ms=self.config.poll_ms)
            for records in batches.values():
                for record in records:
                    # The message in hand is finished even when SIGTERM arrives meanwhile.
                    self._handle(record)
                    self._commit(record)
                    moved = time.monotonic()
                    if self.stop.is_set():
                        return
            if not self._update_lag():
                moved = time.monotonic()  # caught up, or nothing assigned to this instance
            elif time.monotonic() - moved > self.config.stall_s:
                self.stalls += 1
                MESSAGES.labels(self.config.group, "stalled").inc()
                log.warning(
                    "behind the log without progress; joining the group again",
                    extra={"group": self.config.group, "lag": self.lag,
                           "stalled_s": round(time.monotonic() - moved, 1)},
                )  # fmt: skip
                return

    def _close(self) -> None:
        """Closes the clients without waiting on a broker that may be gone."""
        consumer, producer = self._consumer, self._producer
        self._consumer, self._producer = None, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close(autocommit=False)
        if producer is not None:
            with contextlib.suppress(Exception):
                producer.close(timeout=1)


def reactions_handler(reactions: list[Reaction]) -> Handler:
    """A runner handler that runs, for each message, every reaction to its topic, in order.
    Reactions are idempotent: after a failure all of them run again."""
    by_topic: dict[str, list[Reaction]] = {}
    for reaction in reactions:
        by_topic.setdefault(reaction.topic, []).append(reaction)

    def handle(topic: str, message: Message, headers: dict[str, str]) -> None:
        if topic not in by_topic:
            raise PermanentError(f"no reaction to {topic}")
        for reaction in by_topic[topic]:
            reaction.handle(message)

    return handle


def reaction_topics(reactions: list[Reaction]) -> list[str]:
    return sorted({reaction.topic for reaction in reactions})


def describe(worker: Worker) -> dict[str, Any]:
    return {
        "group": worker.config.group,
        "handled": worker.handled,
        "dead_lettered": worker.dead_lettered,
        "reconnects": worker.reconnects,
        "stalls": worker.stalls,
    }


def run_until_stopped(
    work: Callable[[threading.Event], None], stop: threading.Event, grace_s: float = 10.0
) -> bool:
    """Runs `work(stop)` in a thread until SIGTERM or SIGINT sets `stop`, then gives it
    `grace_s` to finish. Returns False when it had to be abandoned (the process then exits
    anyway: nothing unacknowledged was marked done, so nothing is lost)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=work, args=(stop,), name="worker", daemon=True)
    thread.start()
    while thread.is_alive() and not stop.is_set():
        thread.join(timeout=0.5)
    thread.join(timeout=grace_s)
    return not thread.is_alive()


def exit_now(code: int = 0) -> NoReturn:
    """Ends a stopped worker process at once. Its work is in the broker and the database
    (offsets committed, outbox rows marked) and its output is flushed here; the interpreter's
    own teardown (freeing the models, a thread stuck in a connect) took seconds."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
