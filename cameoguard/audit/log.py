"""Appending to and verifying the hash-chained audit log.

Every entry's hash is an HMAC-SHA256, under a key derived from the master secret, over the
previous entry's hash and the entry's own canonical JSON. Editing, deleting, inserting or
reordering rows breaks the chain; recomputing the chain needs the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cameoguard.audit.tables import AuditCheckpoint, AuditEntry, AuditHead
from cameoguard.crypto import derive_key

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def timestamp() -> str:
    """An entry's `at`: ISO-8601 UTC with microseconds and a 'Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    message = prev_hash.encode() + b"\n" + canonical_json(fields).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "reason": entry.reason,
        "details": entry.details,
    }


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends an entry in the caller's transaction, so it commits or rolls back with the change."""
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: run `cameoguard db upgrade`")
    seq, prev_hash = head
    entry = AuditEntry(
        seq=seq,
        at=timestamp(),
        actor=actor,
        action=action,
        subject=subject,
        reason=reason,
        details=canonical_json(details or {}),
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(derive_key("audit-chain"), prev_hash, _fields(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    return entry


@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: list[ChainProblem]
    last_seq: int = 0
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


def _checkpoint_mac(key: bytes, seq: int, entry_hash_: str, verified_at: str) -> str:
    return hmac.new(
        key, f"checkpoint|{seq}|{entry_hash_}|{verified_at}".encode(), "sha256"
    ).hexdigest()


def _start(session: Session, key: bytes, full: bool) -> tuple[int, str, list[ChainProblem]]:
    """Where a verification starts: the genesis, or the last checkpoint if it is genuine and its
    entry still carries the hash it had then."""
    if full:
        return 1, GENESIS, []
    point = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))
    if point is None:
        return 1, GENESIS, []
    expected = _checkpoint_mac(key, point.seq, point.hash, point.verified_at)
    if not hmac.compare_digest(point.mac, expected):
        return 1, GENESIS, [ChainProblem(point.seq, "checkpoint forged: verified from the start")]
    entry = session.get(AuditEntry, point.seq)
    if entry is None or entry.hash != point.hash:
        return 1, GENESIS, [ChainProblem(point.seq, "the checkpointed entry changed since")]
    return point.seq + 1, point.hash, []


def verify_chain(session: Session, full: bool = True) -> ChainReport:
    """Walks the chain and reports every break: edited, missing or extra rows. `full=False`
    starts after the last checkpoint (falling back to a full walk when the checkpoint does not
    hold); `entries` counts the entries walked."""
    key = derive_key("audit-chain")
    expected_seq, prev_hash, problems = _start(session, key, full)
    count = 0
    rows: Iterator[AuditEntry] = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.seq >= expected_seq)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    )
    for entry in rows:
        count += 1
        if entry.seq != expected_seq:
            problems.append(
                ChainProblem(entry.seq, f"rows {expected_seq}..{entry.seq - 1} are missing")
            )
        if entry.prev_hash != prev_hash:
            problems.append(ChainProblem(entry.seq, "prev_hash does not match the previous row"))
        if not hmac.compare_digest(entry.hash, entry_hash(key, entry.prev_hash, _fields(entry))):
            problems.append(ChainProblem(entry.seq, "row content does not match its hash (edited)"))
        expected_seq, prev_hash = entry.seq + 1, entry.hash
    head = session.get(AuditHead, 1)
    if head is None:
        problems.append(ChainProblem(None, "audit_head row missing"))
    elif head.seq != expected_seq - 1 or head.last_hash != prev_hash:
        problems.append(
            ChainProblem(
                None,
                f"chain ends at {expected_seq - 1} but the head says {head.seq} (tail deleted)",
            )
        )
    return ChainReport(
        entries=count, problems=problems, last_seq=expected_seq - 1, last_hash=prev_hash
    )


def save_checkpoint(session: Session, report: ChainReport) -> None:
    """Records how far an intact chain was verified (nothing for a broken one)."""
    if not report.ok or report.last_seq < 1:
        return
    if session.get(AuditCheckpoint, report.last_seq) is not None:
        return
    at = timestamp()
    mac = _checkpoint_mac(derive_key("audit-chain"), report.last_seq, report.last_hash, at)
    session.add(
        AuditCheckpoint(seq=report.last_seq, hash=report.last_hash, verified_at=at, mac=mac)
    )


def recent(
    session: Session,
    limit: int = 50,
    subject: str | None = None,
    before_seq: int | None = None,
) -> list[AuditEntry]:
    """The newest entries first; `before_seq` pages back through older ones."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return list(session.scalars(query))
