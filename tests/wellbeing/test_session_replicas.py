"""Viewing counters under concurrent reports, as from several API replicas: every report is
counted once (a row lock per account; the first reports race to create the row)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from cameoguard.db import session_scope
from wellbeing.policy import wellbeing_policy
from wellbeing.sessions import Viewing, report_viewing
from wellbeing.tables import ViewingSession

REPORTS = 8


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_concurrent_reports_all_count(database: str) -> None:
    policy = wellbeing_policy()
    at = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    start = threading.Barrier(REPORTS)
    errors: list[BaseException] = []

    def report() -> None:
        try:
            start.wait()
            with session_scope(write=True) as session:
                report_viewing(session, tenant="", account_id="teen", policy=policy,
                               viewing=Viewing(items=1, seconds=10.0, at=at),
                               actor="test")  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(REPORTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with session_scope() as session:
        [row] = session.query(ViewingSession).filter_by(account_id="teen").all()
        assert row.continuous_items == REPORTS
        assert row.continuous_seconds == pytest.approx(10.0 * REPORTS)
