"""Group commit for audit entries that stand alone (no other change in their transaction), such
as the record of every prompt check.

Callers hand an entry to one writer thread and wait for its commit, so an answer is still never
sent before its audit entry is durable. The writer takes every entry waiting at that moment and
appends them in one transaction: one update of the chain head and one multi-row insert instead of
one transaction per entry. Under load that turns many short write transactions contending for
the head row (PostgreSQL) or the database lock (SQLite) into few larger ones. When the write
fails, every caller of the batch gets the error: nothing is answered unaudited.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, update

from cameoguard.audit.log import canonical_json, entry_hash, timestamp
from cameoguard.audit.tables import AuditEntry, AuditHead
from cameoguard.crypto import derive_key
from cameoguard.db import session_scope

log = logging.getLogger("cameoguard.audit")

MAX_BATCH = 256


@dataclass(frozen=True)
class PendingEntry:
    actor: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]


class AuditAppender:
    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._queue: queue.Queue[tuple[PendingEntry, Future[int]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="audit-appender", daemon=True)
        self._thread.start()

    def submit(self, entry: PendingEntry) -> Future[int]:
        """Queues the entry; the future gives its sequence number once committed."""
        future: Future[int] = Future()
        self._queue.put((entry, future))
        return future

    def append(self, entry: PendingEntry, timeout: float = 30.0) -> int:
        return self.submit(entry).result(timeout=timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                seqs = write_batch([entry for entry, _ in batch])
            except Exception as exc:  # every caller gets the error: fail closed
                log.warning("audit batch failed", extra={"entries": len(batch), "error": str(exc)})
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), seq in zip(batch, seqs, strict=True):
                future.set_result(seq)


def write_batch(entries: list[PendingEntry]) -> list[int]:
    """Appends the entries in order in one transaction; returns their sequence numbers."""
    key = derive_key("audit-chain")
    head_table = AuditHead.__table__
    with session_scope(write=True) as session:
        connection = session.connection()  # Core statements: no ORM bookkeeping per entry
        head = connection.execute(
            update(head_table)
            .where(head_table.c.id == 1)
            .values(seq=head_table.c.seq + len(entries))
            .returning(head_table.c.seq, head_table.c.last_hash)
        ).one_or_none()
        if head is None:
            raise RuntimeError("audit_head row missing: run `cameoguard db upgrade`")
        last_seq, prev_hash = head
        first = last_seq - len(entries) + 1
        at = timestamp()
        rows = []
        for offset, entry in enumerate(entries):
            fields = {
                "seq": first + offset,
                "at": at,
                "actor": entry.actor,
                "action": entry.action,
                "subject": entry.subject,
                "reason": entry.reason,
                "details": canonical_json(entry.details),
            }
            digest = entry_hash(key, prev_hash, fields)
            rows.append({**fields, "prev_hash": prev_hash, "hash": digest})
            prev_hash = digest
        connection.execute(insert(AuditEntry.__table__), rows)
        connection.execute(
            update(head_table).where(head_table.c.id == 1).values(last_hash=prev_hash)
        )
    return [row["seq"] for row in rows]


_appender: AuditAppender | None = None
_lock = threading.Lock()


def appender() -> AuditAppender:
    """The process-wide appender, started on first use."""
    global _appender
    with _lock:
        if _appender is None:
            _appender = AuditAppender()
        return _appender
