"""Group commit of stand-alone audit entries (the record of every prompt check)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from cameoguard.audit.appender import AuditAppender, PendingEntry, write_batch
from cameoguard.audit.log import record, verify_chain
from cameoguard.audit.tables import AuditEntry, AuditHead
from cameoguard.db import session_scope


def entry(n: int) -> PendingEntry:
    return PendingEntry(
        actor="key:test", action="policy.check", subject=f"check:{n}", reason="r", details={"n": n}
    )


def test_a_batch_continues_the_chain_in_order(database: str) -> None:
    with session_scope() as session:
        record(session, actor="t", action="before", subject="s", reason="r")
    assert write_batch([entry(n) for n in range(5)]) == [2, 3, 4, 5, 6]
    with session_scope() as session:
        record(session, actor="t", action="after", subject="s", reason="r")
        report = verify_chain(session)
        subjects = session.scalars(select(AuditEntry.subject).order_by(AuditEntry.seq)).all()
    assert report.ok, report.problems
    assert subjects == ["s", *(f"check:{n}" for n in range(5)), "s"]


def test_concurrent_callers_each_get_their_own_committed_entry(database: str) -> None:
    appender = AuditAppender()
    with ThreadPoolExecutor(max_workers=16) as pool:
        seqs = list(pool.map(lambda n: appender.append(entry(n)), range(200)))
    # Other writers interleave with the appender's batches without breaking the chain.
    with session_scope() as session:
        record(session, actor="t", action="other", subject="s", reason="r")
        report = verify_chain(session)
        rows = dict(session.execute(select(AuditEntry.seq, AuditEntry.subject)).all())
    assert report.ok, report.problems
    assert sorted(seqs) == list(range(1, 201))
    for n, seq in enumerate(seqs):  # each caller got the sequence number of its own entry
        assert rows[seq] == f"check:{n}"


def test_a_failed_write_fails_every_caller_of_the_batch(database: str) -> None:
    with session_scope() as session:
        session.execute(delete(AuditHead))
    appender = AuditAppender()
    futures = [appender.submit(entry(n)) for n in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="audit_head row missing"):
            future.result(timeout=30)
    with session_scope() as session:
        assert session.scalars(select(AuditEntry)).all() == []


def test_the_writer_survives_a_failed_batch(database: str) -> None:
    appender = AuditAppender()
    with session_scope() as session:
        head = session.get(AuditHead, 1)
        assert head is not None
        seq, last_hash = head.seq, head.last_hash
        session.execute(delete(AuditHead))
    with pytest.raises(RuntimeError):
        appender.append(entry(0))
    with session_scope() as session:
        session.add(AuditHead(id=1, seq=seq, last_hash=last_hash))
    assert appender.append(entry(1)) == 1


def test_a_driver_error_surfaces_as_sqlalchemys_and_writes_nothing(database: str) -> None:
    # The appender runs on the driver connection; its callers map SQLAlchemy's errors to 503s.
    with session_scope() as session:
        session.execute(text("ALTER TABLE audit_log RENAME TO audit_log_moved"))
    try:
        with pytest.raises(ProgrammingError if "postgresql" in database else OperationalError):
            write_batch([entry(0)])
    finally:
        with session_scope() as session:
            session.execute(text("ALTER TABLE audit_log_moved RENAME TO audit_log"))
    with session_scope() as session:  # the head's reservation was rolled back with the insert
        head = session.get(AuditHead, 1)
        assert head is not None and head.seq == 0
        assert verify_chain(session).ok
    assert write_batch([entry(1)]) == [1]
