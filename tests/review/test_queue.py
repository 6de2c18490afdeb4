"""The review queue through the API on SQLite and PostgreSQL: cases from the aggregator and from
user reports, routing by role, exclusive claims and leases, decisions and their actions,
escalation, appeals to a different reviewer, cameo-owner notices, metrics and bad input."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cameoguard.audit.tables import AuditEntry
from cameoguard.contracts import CONTENT_DECISIONS
from cameoguard.db import session_scope, utcnow
from cameoguard.events import OutboxEvent
from consumers.tables import FeedItem
from safety.consent.cameos import usages
from safety.consent.tables import Cameo
from safety.review.tables import ReviewCase, ReviewDecision
from tests.conftest import auth, make_key
from tests.review.conftest import flagged_item, publish, score


def _claim(client: TestClient, key: str) -> dict | None:
    answer = client.post("/v1/review/claims", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return answer.json()["case"]


def _decide(client: TestClient, key: str, case_id: str, action: str, code: str, note: str = ""):
    return client.post(
        f"/v1/review/cases/{case_id}/decision",
        json={"action": action, "reason_code": code, "note": note},
        headers=auth(key),
    )


def _item_state(client: TestClient, key: str, item_id: str) -> str:
    return client.get(f"/v1/feed/items/{item_id}", headers=auth(key)).json()["state"]


def test_publish_stores_media_and_streams_the_item(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    item = publish(client, platform_key, clip_bytes, "it_pub", cameo_ids=["cam_x"])
    assert item["state"] == "scoring"
    with session_scope() as session:
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.key == "it_pub")).all()
    assert [e.topic for e in events] == ["content.published"]
    assert events[0].payload["cameo_ids"] == ["cam_x"]
    again = client.post(
        "/v1/feed/items",
        json={"item_id": "it_pub", "author_id": "u", "media_location": item["media_location"]},
        headers=auth(platform_key),
    )
    assert again.status_code == 409
    not_video = client.post("/v1/media", content=b"hello" * 100, headers=auth(platform_key))
    assert not_video.status_code == 422
    escape = client.post(
        "/v1/feed/items",
        json={"item_id": "it_x", "author_id": "u", "media_location": "../../etc/passwd"},
        headers=auth(platform_key),
    )
    assert escape.status_code == 422 and escape.json()["error"]["code"] == "bad_media_location"
    decision = score("it_pub")
    assert decision is not None and decision.action == "publish"
    assert _item_state(client, platform_key, "it_pub") == "published"


def test_a_flagged_item_reaches_a_reviewer_who_removes_it(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_mean", harassment=0.7)
    assert _item_state(client, platform_key, "it_mean") == "in_review"
    reviewer = make_key("reviewer", name="rev-a")
    queues = client.get("/v1/review/queues", headers=auth(reviewer)).json()
    general = next(q for q in queues["queues"] if q["name"] == "general")
    assert general["open"] == 1 and general["mine"]

    case = _claim(client, reviewer)
    assert case is not None and case["item_id"] == "it_mean" and case["queue"] == "general"
    assert case["severity"] == 2 and case["signals"] == ["harassment"]
    assert case["snapshot"]["scores"]["harassment"]["scores"]["risk"] == 0.7
    assert case["snapshot"]["feed_decision"]["policy"] == "feed-default@1"
    assert any("harassment risk 0.70 >= review 0.50" in r for r in case["reasons"])
    media = client.get(f"/v1/review/cases/{case['case_id']}/media", headers=auth(reviewer))
    assert media.status_code == 200 and media.content == clip_bytes

    # A platform key cannot decide; an unknown reason code changes nothing.
    assert _decide(client, platform_key, case["case_id"], "remove", "harassment").status_code == 403
    bad = _decide(client, reviewer, case["case_id"], "remove", "because")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_reason_code"
    done = _decide(client, reviewer, case["case_id"], "remove", "harassment", "targets a user")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "decided"
    assert _claim(client, reviewer) is None  # the case left the queue

    with session_scope() as session:
        event = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == CONTENT_DECISIONS)
            .order_by(OutboxEvent.id.desc())
        ).first()
    assert event is not None
    assert event.payload["source"] == "review" and event.payload["action"] == "remove"
    assert event.payload["case_id"] == case["case_id"]
    # The reviewer's transaction changed the item itself (no worker in between).
    assert _item_state(client, platform_key, "it_mean") == "removed"
    history = client.get("/v1/review/history", headers=auth(reviewer)).json()["decisions"]
    assert [(d["action"], d["reason_code"]) for d in history] == [("remove", "harassment")]
    audit = client.get(
        "/v1/audit/entries",
        params={"subject": f"case:{case['case_id']}"},
        headers=auth(make_key("admin")),
    )
    actions = [e["action"] for e in audit.json()]
    assert actions.count("review.decide") == 1 and "review.claim" in actions


def test_minors_cases_only_reach_child_safety_reviewers(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_kid", minors=0.7)
    plain = make_key("reviewer", name="plain")
    child_safety = make_key("reviewer", roles=["child_safety"], name="cs")
    assert _claim(client, plain) is None
    case = _claim(client, child_safety)
    assert case is not None and case["queue"] == "child_safety" and case["minors"]
    # Nor can the plain reviewer read it.
    assert client.get(f"/v1/review/cases/{case['case_id']}", headers=auth(plain)).status_code == 404


def test_two_reviewers_never_hold_one_case_and_leases_expire(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_one", harassment=0.6)
    first, second = make_key("reviewer", name="r1"), make_key("reviewer", name="r2")
    case = _claim(client, first)
    assert case is not None
    assert _claim(client, first)["case_id"] == case["case_id"]  # claiming again resumes it
    assert _claim(client, second) is None
    not_mine = _decide(client, second, case["case_id"], "approve", "no_violation")
    assert not_mine.status_code == 409 and not_mine.json()["error"]["code"] == "not_holder"

    with session_scope(write=True) as session:  # the first reviewer walked away
        session.execute(
            update(ReviewCase)
            .where(ReviewCase.id == case["case_id"])
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    late = _decide(client, first, case["case_id"], "approve", "no_violation")
    assert late.status_code == 409 and late.json()["error"]["code"] == "lease_expired"
    taken = _claim(client, second)
    assert taken is not None and taken["case_id"] == case["case_id"]
    stale = _decide(client, first, case["case_id"], "approve", "no_violation")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "not_holder"
    with session_scope() as session:
        assert session.scalar(select(ReviewDecision.id)) is None  # nothing was decided
    released = client.post(f"/v1/review/cases/{case['case_id']}/release", headers=auth(second))
    assert released.status_code == 200 and released.json()["status"] == "open"


def test_a_released_case_goes_behind_the_others_for_that_reviewer(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_skip_a", harassment=0.7)
    flagged_item(client, platform_key, clip_bytes, "it_skip_b", harassment=0.6)
    reviewer, other = make_key("reviewer", name="skipper"), make_key("reviewer", name="other")
    first = _claim(client, reviewer)
    assert first is not None
    skipped = client.post(f"/v1/review/cases/{first['case_id']}/release", headers=auth(reviewer))
    assert skipped.status_code == 200
    following = _claim(client, reviewer)
    assert following is not None and following["case_id"] != first["case_id"]
    # For another reviewer the skipped case keeps its place at the front.
    assert _claim(client, other)["case_id"] == first["case_id"]
    with session_scope() as session:
        case = session.get(ReviewCase, first["case_id"])
        assert case is not None and len(case.skipped_by) == 1
        reasons = session.scalars(
            select(AuditEntry.reason).where(AuditEntry.action == "review.release")
        ).all()
    assert any(reason.startswith("skipped") for reason in reasons)


def test_reports_feed_one_case_per_item(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    publish(client, platform_key, clip_bytes, "it_rep")
    score("it_rep")  # published: nothing in the queue yet

    def report(reporter: str, reason: str, item: str = "it_rep"):
        return client.post(
            "/v1/reports",
            json={"item_id": item, "reporter_id": reporter, "reason": reason},
            headers=auth(platform_key),
        )

    first = report("u1", "harassment")
    assert first.status_code == 201 and not first.json()["duplicate"]
    again = report("u1", "harassment")
    assert again.json()["duplicate"] and again.json()["case_id"] == first.json()["case_id"]
    other = report("u2", "child_safety")
    assert other.json()["case_id"] == first.json()["case_id"]
    assert other.json()["reports_on_case"] == 2
    assert report("u3", "harassment", item="it_nope").status_code == 404
    assert report("u3", "i_dont_like_it").status_code == 422
    with session_scope() as session:
        cases = session.scalars(select(ReviewCase)).all()
    assert len(cases) == 1
    assert cases[0].queue == "child_safety" and cases[0].severity == 1  # worst reason wins
    assert _item_state(client, platform_key, "it_rep") == "published"  # reports do not hide


def test_escalation_goes_to_senior_reviewers(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_esc", harassment=0.6)
    junior, senior = make_key("reviewer", name="jr"), make_key("reviewer", roles=["senior"])
    case = _claim(client, junior)
    escalated = _decide(client, junior, case["case_id"], "escalate", "unclear_policy", "satire?")
    assert escalated.status_code == 200 and escalated.json()["queue"] == "escalations"
    assert _claim(client, junior) is None
    again = _claim(client, senior)
    assert again["case_id"] == case["case_id"] and again["decisions"][0]["action"] == "escalate"
    assert _decide(client, senior, case["case_id"], "approve", "news_or_satire").status_code == 200


def test_an_appeal_goes_to_a_different_reviewer(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_app", harassment=0.6)
    remover, other = make_key("reviewer", name="remover"), make_key("reviewer", name="other")
    case = _claim(client, remover)
    _decide(client, remover, case["case_id"], "remove", "harassment")

    body = {"item_id": "it_app", "author_id": "creator_1", "statement": "it was a joke"}
    wrong_author = client.post(
        "/v1/appeals", json={**body, "author_id": "someone"}, headers=auth(platform_key)
    )
    assert wrong_author.status_code == 403
    appeal = client.post("/v1/appeals", json=body, headers=auth(platform_key))
    assert appeal.status_code == 201, appeal.text
    assert appeal.json()["status"] == "open"
    assert client.post("/v1/appeals", json=body, headers=auth(platform_key)).status_code == 409

    assert _claim(client, remover) is None  # the reviewer who removed never gets the appeal
    taken = _claim(client, other)
    assert taken["kind"] == "appeal" and taken["snapshot"]["appeal_statement"] == "it was a joke"
    assert _decide(client, other, taken["case_id"], "approve", "appeal_granted").status_code == 200
    outcome = client.get(f"/v1/appeals/{appeal.json()['appeal_id']}", headers=auth(platform_key))
    assert outcome.json()["outcome"] == "granted"
    assert _item_state(client, platform_key, "it_app") == "published"  # reinstated
    # Not removed any more: nothing to appeal.
    assert client.post("/v1/appeals", json=body, headers=auth(platform_key)).status_code == 409


def test_cameo_misuse_decisions_notify_the_owner(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    with session_scope(write=True) as session:
        session.add(Cameo(id="cam_owner", owner_id="alice", permission="only_me", face_model="t"))
    publish(client, platform_key, clip_bytes, "it_fake", cameo_ids=["cam_owner"])
    score("it_fake", deepfake=0.7)
    reviewer = make_key("reviewer")
    case = _claim(client, reviewer)
    assert case["queue"] == "cameo"
    _decide(client, reviewer, case["case_id"], "remove", "cameo_misuse")
    notices = usages("cam_owner", "alice", tenant="").model_dump(mode="json")["misuse_notices"]
    assert [(n["item_id"], n["reason_code"]) for n in notices] == [("it_fake", "cameo_misuse")]


def test_the_queue_orders_by_severity_minors_and_reach(
    client: TestClient, platform_key: str, clip_bytes: bytes
) -> None:
    flagged_item(client, platform_key, clip_bytes, "it_low", harassment=0.6)  # severity 2
    flagged_item(client, platform_key, clip_bytes, "it_viral", harassment=0.6)
    client.post("/v1/feed/items/it_viral/reach", json={"views": 90000}, headers=auth(platform_key))
    flagged_item(client, platform_key, clip_bytes, "it_fake", deepfake=0.6)  # severity 1
    lead = make_key("reviewer", roles=["child_safety"])
    order = []
    while (case := _claim(client, lead)) is not None:
        order.append(case["item_id"])
        _decide(client, lead, case["case_id"], "approve", "no_violation")
    assert order == ["it_fake", "it_viral", "it_low"]
    metrics = client.get("/metrics").text
    assert 'cameoguard_review_queue_depth{queue="general",status="open"} 0.0' in metrics
    assert "cameoguard_review_decisions_last_hour 3.0" in metrics


def test_review_routes_refuse_bad_input(client: TestClient, platform_key: str) -> None:
    reviewer = make_key("reviewer")
    assert _decide(client, reviewer, "case_nope", "remove", "spam").status_code == 404
    bad_action = _decide(client, reviewer, "case_nope", "delete", "spam")
    assert bad_action.status_code == 422 and bad_action.json()["error"]["code"] == "unknown_action"
    assert client.post("/v1/review/claims", headers=auth(platform_key)).status_code == 403
    assert client.get("/v1/review/cases/case_nope", headers=auth(reviewer)).status_code == 404
    assert client.get("/v1/feed/items/..%2F..", headers=auth(platform_key)).status_code == 404
    with session_scope() as session:
        assert session.scalar(select(FeedItem.id)) is None
