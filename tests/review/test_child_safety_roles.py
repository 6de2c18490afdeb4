"""The child-safety role follows a case's signals, not only its queue: a minors signal that
arrives while a general reviewer holds the case, a release, an escalation, an appeal, or a
racing claim never lets a reviewer without the `child_safety` role read, download or decide it.
Also the feed item itself: reviewers without the role do not read items with a minors signal."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.auth.principal import Principal
from cameoguard.db import session_scope
from consumers.items import FeedItemActions
from safety.review.cases import CaseError, CaseRequest, add_report, open_case
from safety.review.decisions import DecisionRequest, decide
from safety.review.queue import claim_next
from safety.review.routing import review_policy
from safety.review.tables import ReviewCase, ReviewDecision
from tests.conftest import auth, make_key
from tests.review.conftest import flagged_item, publish, score


def _claim(client: TestClient, key: str) -> dict | None:
    answer = client.post("/v1/review/claims", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()["case"]


def _report(client: TestClient, key: str, item: str, reporter: str, reason: str) -> dict:
    answer = client.post(
        "/v1/reports",
        json={"item_id": item, "reporter_id": reporter, "reason": reason},
        headers=auth(key),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _locked_out(client: TestClient, key: str, case_id: str) -> None:
    """The reviewer can neither read, download nor decide the case: it does not exist for them."""
    read = client.get(f"/v1/review/cases/{case_id}", headers=auth(key))
    assert read.status_code == 404, read.text
    media = client.get(f"/v1/review/cases/{case_id}/media", headers=auth(key))
    assert media.status_code == 404, media.text
    decision = client.post(
        f"/v1/review/cases/{case_id}/decision",
        json={"action": "approve", "reason_code": "no_violation"},
        headers=auth(key),
    )
    assert decision.status_code == 404, decision.text
    held = client.get("/v1/review/claims/current", headers=auth(key))
    assert held.json()["case"] is None


def test_a_minors_report_takes_a_held_case_away_from_a_general_reviewer(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_merge", harassment=0.6)
    general = make_key("reviewer", name="general")
    child_safety = make_key("reviewer", roles=["child_safety"], name="cs")
    case = _claim(client, general)
    assert case is not None and case["queue"] == "general"
    assert client.get(f"/v1/review/cases/{case['case_id']}/media", headers=auth(general)).is_success

    merged = _report(client, platform_key, "it_merge", "u1", "child_safety")
    assert merged["case_id"] == case["case_id"]

    _locked_out(client, general, case["case_id"])
    taken = _claim(client, child_safety)
    assert taken is not None and taken["case_id"] == case["case_id"]
    assert taken["queue"] == "child_safety" and taken["minors"]
    assert "child_safety" in taken["roles_needed"]
    with session_scope() as session:
        ended = session.scalars(select(ReviewCase)).one()
        assert ended.claimed_by is not None
    admin = make_key("admin")
    audit = client.get("/v1/audit/entries?limit=100", headers=auth(admin)).json()
    assert "review.lease_ended" in [e["action"] for e in audit]


def test_an_escalated_minors_case_needs_senior_and_child_safety(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_esc_kid", minors=0.7)
    child_safety = make_key("reviewer", roles=["child_safety"], name="cs")
    senior = make_key("reviewer", roles=["senior"], name="senior")
    both = make_key("reviewer", roles=["child_safety", "senior"], name="both")
    case = _claim(client, child_safety)
    answer = client.post(
        f"/v1/review/cases/{case['case_id']}/decision",
        json={"action": "escalate", "reason_code": "needs_senior"},
        headers=auth(child_safety),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["queue"] == "escalations"
    assert sorted(answer.json()["roles_needed"]) == ["child_safety", "senior"]
    assert _claim(client, senior) is None
    _locked_out(client, senior, case["case_id"])
    assert _claim(client, child_safety) is None  # escalated: not for a junior any more
    taken = _claim(client, both)
    assert taken is not None and taken["case_id"] == case["case_id"]


def test_a_released_case_is_routed_again(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    """A case whose signals changed while held (a minors signal merged into it) and that its
    holder then releases goes to the child-safety queue, never to the next general reviewer."""
    flagged_item(client, platform_key, clip_bytes, "it_rel", harassment=0.6)
    cs_holder = make_key("reviewer", roles=["child_safety"], name="cs")
    general = make_key("reviewer", name="general")
    case = _claim(client, cs_holder)  # a child-safety reviewer may take general cases too
    assert case["queue"] == "general"
    _report(client, platform_key, "it_rel", "u1", "child_safety")
    released = client.post(f"/v1/review/cases/{case['case_id']}/release", headers=auth(cs_holder))
    assert released.status_code == 200, released.text
    assert released.json()["queue"] == "child_safety"
    assert _claim(client, general) is None


def test_appeals_of_minors_removals_stay_with_child_safety(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_app_kid", minors=0.7)
    first = make_key("reviewer", roles=["child_safety"], name="cs1")
    second = make_key("reviewer", roles=["child_safety"], name="cs2")
    general = make_key("reviewer", name="general")
    case = _claim(client, first)
    removed = client.post(
        f"/v1/review/cases/{case['case_id']}/decision",
        json={"action": "remove", "reason_code": "sexual_minors"},
        headers=auth(first),
    )
    assert removed.status_code == 200
    with session_scope(write=True) as session:  # what the aggregator does with the decision
        from consumers.items import apply_action

        apply_action(session, "it_app_kid", "remove", "review", ["reviewer decision"])
    appeal = client.post(
        "/v1/appeals",
        json={"item_id": "it_app_kid", "author_id": "creator_1", "statement": "it was fine"},
        headers=auth(platform_key),
    )
    assert appeal.status_code == 201, appeal.text
    assert _claim(client, general) is None
    _locked_out(client, general, appeal.json()["appeal_id"])
    taken = _claim(client, second)
    assert taken is not None and taken["kind"] == "appeal"


def test_feed_items_with_a_minors_signal_are_hidden_from_other_reviewers(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    publish(client, platform_key, clip_bytes, "it_feed_kid")
    score("it_feed_kid", minors=0.4)  # age-restricted: no case, but a minors signal
    publish(client, platform_key, clip_bytes, "it_feed_plain")
    score("it_feed_plain")
    general = make_key("reviewer", name="general")
    child_safety = make_key("reviewer", roles=["child_safety"], name="cs")
    auditor = make_key("auditor")
    hidden = client.get("/v1/feed/items/it_feed_kid", headers=auth(general))
    assert hidden.status_code == 404
    for key in (child_safety, auditor, platform_key):
        assert client.get("/v1/feed/items/it_feed_kid", headers=auth(key)).status_code == 200
    assert client.get("/v1/feed/items/it_feed_plain", headers=auth(general)).status_code == 200
    _report(client, platform_key, "it_feed_plain", "u9", "child_safety")
    assert client.get("/v1/feed/items/it_feed_plain", headers=auth(general)).status_code == 404


@pytest.mark.slow
def test_racing_reports_and_general_reviewers_never_leak_a_minors_case(database: str) -> None:
    """Twenty harassment cases; four general reviewers claim and decide as fast as they can
    while child-safety reports merge into every case. Whatever the interleaving, no general
    reviewer decides a case that carries the minors signal, and every case left undecided needs
    the role and sits in its queue. On PostgreSQL the claims, merges and decisions really race."""
    policy = review_policy()
    items = [f"it_race_{n}" for n in range(20)]
    with session_scope(write=True) as session:
        for item in items:
            open_case(
                session,
                CaseRequest("content", item, ["harassment"], 2, ["test"], {"item_id": item}),
                policy,
            )
    start = threading.Barrier(5)
    errors: list[BaseException] = []

    def reporter() -> None:
        start.wait()
        try:
            for item in items:
                with session_scope(write=True) as session:
                    add_report(
                        session,
                        policy,
                        item_id=item,
                        reporter_id="racer",
                        reason="child_safety",
                        note="",
                        snapshot={},
                        reach=0,
                    )
        except Exception as exc:
            errors.append(exc)

    def general_reviewer(n: int) -> None:
        me = Principal(key_id=f"gen{n:05d}", name=f"g{n}", scopes=frozenset({"reviewer"}))
        approve = DecisionRequest("approve", "no_violation")
        start.wait()
        try:
            for _ in range(40):
                with session_scope(write=True) as session:
                    case = claim_next(session, me, policy)
                    case_id = None if case is None else case.id
                if case_id is None:
                    return
                try:
                    with session_scope(write=True) as session:
                        decide(session, case_id, me, approve, policy, FeedItemActions())
                except CaseError:
                    continue  # the case was taken away from this reviewer: expected
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reporter)]
    threads += [threading.Thread(target=general_reviewer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with session_scope() as session:
        for decision in session.scalars(select(ReviewDecision)):
            case = session.get(ReviewCase, decision.case_id)
            assert case is not None and "minors" not in case.signals, (decision.case_id, case)
        undecided = session.scalars(select(ReviewCase).where(ReviewCase.status != "decided"))
        for case in undecided:
            assert "minors" in case.signals and "child_safety" in case.roles_needed.split(",")
            assert case.queue == "child_safety"
            assert case.claimed_by is None or not case.claimed_by.startswith("gen")
