"""Concurrent claims: eight reviewers in eight threads work one queue at once, each claiming and
deciding until it is empty. Every case is decided exactly once and never held by two reviewers.
Each reviewer first holds one case while all the others hold theirs, so the work is shared
whatever order the threads are scheduled in. On PostgreSQL the claims really race (no in-process
lock serialises them)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select

from cameoguard.auth.principal import Principal
from cameoguard.db import session_scope
from consumers.items import FeedItemActions
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
    all_holding = threading.Barrier(REVIEWERS, timeout=60)
    first_claims: dict[str, str] = {}
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
                    first = me.key_id not in first_claims
                    if first:
                        first_claims[me.key_id] = case_id
                if first:
                    all_holding.wait()  # every reviewer holds a case at the same moment
                with session_scope(write=True) as session:
                    decide(
                        session,
                        case_id,
                        me,
                        DecisionRequest("approve", "no_violation"),
                        policy,
                        FeedItemActions(),
                    )
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
    # the eight cases held at the same moment were eight different cases
    assert len(first_claims) == REVIEWERS
    assert len(set(first_claims.values())) == REVIEWERS
