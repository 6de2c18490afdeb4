"""Workers' heartbeats: every worker process writes one row (its instance: host and pid) every
few seconds with its counters, so `/readyz` can list the workers with their last-seen age and
lag, and a generation request can warn when no generator worker is running."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatch
from typing import Any

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, as_utc, session_scope, utcnow

log = logging.getLogger("cameoguard.workers")

# A worker not seen for this long is reported as stale (and its row pruned after a day).
STALE_AFTER_S = 60.0
PRUNE_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    instance: Mapped[str] = mapped_column(String(120), primary_key=True)
    worker: Mapped[str] = mapped_column(String(80), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    lag: Mapped[int | None] = mapped_column(Integer, nullable=True)


def instance_name(worker: str) -> str:
    return f"{worker}@{socket.gethostname()}:{os.getpid()}"[:120]


def beat(
    worker: str,
    instance: str,
    started_at: datetime,
    *,
    processed: int,
    failed: int,
    lag: int | None = None,
) -> None:
    """Records that `instance` of `worker` is alive now, with its counters."""
    now = utcnow()
    with session_scope(write=True) as session:
        row = session.get(WorkerHeartbeat, instance)
        if row is None:
            row = WorkerHeartbeat(instance=instance, worker=worker, started_at=started_at)
            session.add(row)
        row.last_seen_at, row.processed, row.failed, row.lag = now, processed, failed, lag
        session.execute(
            delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen_at < now - PRUNE_AFTER)
        )


@dataclass(frozen=True)
class WorkerSeen:
    worker: str
    instance: str
    last_seen_s: float
    alive: bool
    processed: int
    failed: int
    lag: int | None


def workers_seen() -> list[WorkerSeen]:
    """Every worker instance seen in the last day, most recent first."""
    now = utcnow()
    with session_scope() as session:
        rows = session.scalars(
            select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen_at.desc())
        ).all()
        seen = []
        for row in rows:
            age = (now - as_utc(row.last_seen_at)).total_seconds()
            seen.append(
                WorkerSeen(
                    row.worker,
                    row.instance,
                    round(age, 1),
                    age <= STALE_AFTER_S,
                    row.processed,
                    row.failed,
                    row.lag,
                )
            )
        return seen


def last_seen_age(worker: str) -> float | None:
    """Seconds since any instance of `worker` beat; None when none ever did (or in a day)."""
    with session_scope() as session:
        latest = session.scalar(
            select(WorkerHeartbeat.last_seen_at)
            .where(WorkerHeartbeat.worker == worker)
            .order_by(WorkerHeartbeat.last_seen_at.desc())
            .limit(1)
        )
    return None if latest is None else (utcnow() - as_utc(latest)).total_seconds()


# The kinds of worker a deployment runs; /readyz names those with no live instance.
EXPECTED_WORKERS = ("relay", "reactions", "generator", "score:*")


def workers_part() -> dict[str, Any]:
    """/readyz's `workers` part: every instance seen in the last day with its last-seen age,
    counters and lag; `missing` names the kinds of worker with no instance seen within
    STALE_AFTER_S (ok only when none is missing)."""
    seen = workers_seen()
    alive = {w.worker for w in seen if w.alive}
    missing = [kind for kind in EXPECTED_WORKERS if not any(fnmatch(name, kind) for name in alive)]
    return {
        "ok": not missing,
        "missing": missing,
        "instances": [asdict(w) for w in seen],
    }


StatsFn = Callable[[], tuple[int, int, int | None]]


class Pulse:
    """A worker's pulse, on a daemon thread: a heartbeat row every `every_s`, an INFO summary
    (processed, failed, lag) every `summary_s`, and its Prometheus metrics on `metrics_port`
    when one is set. `stats()` gives (processed, failed, lag or None)."""

    def __init__(
        self,
        worker: str,
        stats: StatsFn,
        *,
        every_s: float = 10.0,
        summary_s: float = 60.0,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.worker, self.stats = worker, stats
        self.instance = instance_name(worker)
        self.every_s, self.summary_s = every_s, summary_s
        self.metrics_port, self.metrics_host = metrics_port, metrics_host
        self.started_at = utcnow()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"pulse-{worker}", daemon=True)

    def start(self) -> Pulse:
        if self.metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(self.metrics_port, addr=self.metrics_host)
            log.info(
                "worker metrics served",
                extra={"worker": self.worker, "port": self.metrics_port},
            )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._beat()  # the final counters

    def _beat(self) -> tuple[int, int, int | None]:
        processed, failed, lag = self.stats()
        try:
            beat(
                self.worker, self.instance, self.started_at,
                processed=processed, failed=failed, lag=lag,
            )  # fmt: skip
        except SQLAlchemyError as exc:  # the database is down: the worker goes on
            log.warning("heartbeat not written", extra={"error": str(exc)[:200]})
        return processed, failed, lag

    def _run(self) -> None:
        last_summary = time.monotonic()
        while True:
            processed, failed, lag = self._beat()
            if time.monotonic() - last_summary >= self.summary_s:
                last_summary = time.monotonic()
                log.info(
                    f"{self.worker}: processed {processed}, failed {failed}, lag {lag}",
                    extra={"worker": self.worker, "processed": processed, "failed": failed,
                           "lag": lag},
                )  # fmt: skip
            if self._stop.wait(self.every_s):
                return


def start_pulse(worker: str, stats: StatsFn) -> Pulse:
    """The worker's pulse as the settings say (heartbeat and summary periods, metrics port)."""
    from cameoguard.settings import get_settings

    settings = get_settings()
    return Pulse(
        worker,
        stats,
        every_s=settings.worker_heartbeat_s,
        summary_s=settings.worker_summary_s,
        metrics_port=settings.worker_metrics_port,
        metrics_host=settings.metrics_host,
    ).start()
