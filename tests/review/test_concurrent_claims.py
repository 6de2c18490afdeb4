"""Concurrent claims: eight reviewers in eight threads work one queue at once, each claiming and
deciding until it is empty. Every case is decided exactly once and never held by two reviewers.
On PostgreSQL the claims really race (no in-process lock serialises them)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from cameoguard.auth.keys import Principal
from cameoguard.db import session_scope
from safety.review.cases import CaseError, CaseRequest, open_case
from safety.review.decisions import DecisionRequest, decide
from safety.review.queue import claim_next
from safety.review.routing import review_policy
from safety.review.tables import ReviewDecision

CASES, REVIEWERS = 40, 8


@pytest.mark.slow
def test_concurrent_reviewers_never_share_a_case(database: str) -> None:
    policy = review_policy()
    with session_scope(write=True) as session:
        for n in range(CASES):
            open_case(
                session,
                CaseRequest(
                    kind="content",
                    item_id=f"it_{n}",
                    signals=["harassment"],
                    severity=1 + n % 3,
                    reasons=["test"],
                    snapshot={},
                ),
                policy,
            )
    start = threading.Barrier(REVIEWERS)
    claims: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        me = Principal(key_id=f"rev{n:05d}", name=f"r{n}", scopes=frozenset({"reviewer"}))
        start.wait()
        try:
            while True:
                with session_scope(write=True) as session:
                    case = claim_next(session, me, policy)
                    case_id = None if case is None else case.id
                if case_id is None:
                    return
                with lock:
                    claims.append((case_id, me.key_id))
                with session_scope(write=True) as session:
                    decide(session, case_id, me, DecisionRequest("approve", "no_violation"), policy)
        except (CaseError, Exception) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(REVIEWERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    per_case = Counter(case_id for case_id, _ in claims)
    assert len(per_case) == CASES and set(per_case.values()) == {1}
    with session_scope() as session:
        decided = session.scalars(select(ReviewDecision.case_id)).all()
    assert sorted(decided) == sorted(per_case)
    assert len({reviewer for _, reviewer in claims}) > 1  # the work was really shared
