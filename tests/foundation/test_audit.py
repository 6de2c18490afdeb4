from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from assembly.cli import app
from cameoguard.audit.log import record, verify_chain
from cameoguard.db import get_engine, session_scope


def append(n: int, actor: str = "test") -> None:
    for i in range(n):
        with session_scope() as session:
            record(
                session,
                actor=actor,
                action="decision.test",
                subject=f"item:{i}",
                reason="because",
                details={"score": i / 10, "unicode": "café ☕"},
            )


def raw(sql: str) -> None:
    """Runs SQL as someone with direct database access, bypassing the service."""
    with get_engine().begin() as conn:
        conn.execute(text(sql))


def drop_append_only_guard() -> None:
    if get_engine().dialect.name == "postgresql":
        raw("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    else:
        raw("DROP TRIGGER audit_log_no_update")
        raw("DROP TRIGGER audit_log_no_delete")


def verify_cli() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--json"])
    return result.exit_code, result.stdout


def test_intact_chain_verifies(database: str) -> None:
    append(5)
    code, out = verify_cli()
    assert code == 0
    assert json.loads(out) == {"ok": True, "entries": 5, "problems": []}


def test_database_refuses_update_and_delete(database: str) -> None:
    append(2)
    with pytest.raises(DBAPIError, match="append-only"):
        raw("UPDATE audit_log SET reason = 'x' WHERE seq = 1")
    with pytest.raises(DBAPIError, match="append-only"):
        raw("DELETE FROM audit_log WHERE seq = 2")


def test_row_edited_directly_in_the_database_is_detected(database: str) -> None:
    append(5)
    drop_append_only_guard()
    raw("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3")
    code, out = verify_cli()
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert {"seq": 3, "problem": "row content does not match its hash (edited)"} in report[
        "problems"
    ]


def test_edited_details_are_detected(database: str) -> None:
    append(3)
    drop_append_only_guard()
    raw("UPDATE audit_log SET details = '{\"score\": 0.99}' WHERE seq = 2")
    with session_scope() as session:
        assert [p.seq for p in verify_chain(session).problems] == [2]


def test_deleted_middle_row_is_detected(database: str) -> None:
    append(5)
    drop_append_only_guard()
    raw("DELETE FROM audit_log WHERE seq = 2")
    with session_scope() as session:
        problems = verify_chain(session).problems
    assert any("missing" in p.problem for p in problems)


def test_deleted_tail_is_detected(database: str) -> None:
    append(4)
    drop_append_only_guard()
    raw("DELETE FROM audit_log WHERE seq = 4")
    with session_scope() as session:
        problems = verify_chain(session).problems
    assert any("tail deleted" in p.problem for p in problems)


def test_rewritten_chain_without_the_secret_is_detected(database: str) -> None:
    """An edit with plain SHA-256 hashes recomputed still fails: the chain is keyed."""
    import hashlib

    append(2)
    drop_append_only_guard()
    fake = hashlib.sha256(b"forged").hexdigest()
    raw(f"UPDATE audit_log SET reason = 'forged', hash = '{fake}' WHERE seq = 2")
    raw(f"UPDATE audit_head SET last_hash = '{fake}'")
    with session_scope() as session:
        assert [p.seq for p in verify_chain(session).problems] == [2]


def test_rolled_back_transaction_leaves_no_entry(database: str) -> None:
    append(1)
    with pytest.raises(RuntimeError), session_scope() as session:
        record(session, actor="t", action="a", subject="s", reason="r")
        raise RuntimeError("the decision failed after the audit entry was staged")
    with session_scope() as session:
        report = verify_chain(session)
    assert report.ok and report.entries == 1


def test_concurrent_appends_keep_one_chain(database: str) -> None:
    threads = [threading.Thread(target=append, args=(10, f"worker{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope() as session:
        report = verify_chain(session)
    assert report.ok, report.problems
    assert report.entries == 40


def test_console_script_detects_the_edit(database: str) -> None:
    """The installed `cameoguard` command itself, as an operator would run it."""
    append(3)
    drop_append_only_guard()
    raw("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")
    exe = os.path.join(os.path.dirname(sys.executable), "cameoguard")
    result = subprocess.run([exe, "audit", "verify"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "BROKEN" in result.stderr and "seq 1" in result.stderr


def test_audit_reads_are_paged_and_audited(client, admin_key: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import auth

    append(7)
    first = client.get("/v1/audit/entries?limit=4", headers=auth(admin_key))
    assert first.status_code == 200
    seqs = [e["seq"] for e in first.json()]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 4
    cursor = first.headers["x-next-before-seq"]
    older = client.get(f"/v1/audit/entries?limit=50&before_seq={cursor}", headers=auth(admin_key))
    assert [e["seq"] for e in older.json()] == list(range(int(cursor) - 1, 0, -1))
    assert "x-next-before-seq" not in older.headers
    newest = client.get("/v1/audit/entries?limit=3", headers=auth(admin_key)).json()
    reads = [e for e in newest if e["action"] == "audit.read"]
    assert reads and reads[0]["actor"].startswith("key:")


def test_verification_resumes_from_a_checkpoint_it_can_trust(client, admin_key: str) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import auth

    append(20)
    full = client.get("/v1/audit/verify", headers=auth(admin_key)).json()
    assert full["ok"] and full["entries"] >= 20
    append(3)
    since = client.get("/v1/audit/verify", headers=auth(admin_key)).json()
    assert since["ok"] and since["entries"] <= 5  # three new ones, the read of the last check
    everything = client.get("/v1/audit/verify?full=true", headers=auth(admin_key)).json()
    assert everything["ok"] and everything["entries"] > 23
    raw("UPDATE audit_checkpoints SET seq = seq + 1000")  # someone with database access
    forged = client.get("/v1/audit/verify", headers=auth(admin_key)).json()
    assert not forged["ok"]
    assert "checkpoint forged" in forged["problems"][0]["problem"]
