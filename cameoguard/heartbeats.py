"""Workers' heartbeats: every worker process writes one row (its instance: host and pid) every
few seconds with its counters, so `/readyz` can list the workers with their last-seen age and
lag, and a generation request can warn when no generator worker is running."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from cameoguard.db import Base, as_utc, session_scope, utcnow

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
