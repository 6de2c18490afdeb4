"""Guardians and parental controls, viewing sessions, the interaction guard and feed
eligibility, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from cameoguard.audit.log import recent
from cameoguard.db import reset_engine, session_scope
from consumers.tables import FeedDecision, FeedItem, FeedScore
from tests.wellbeing.conftest import adult, assure

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _link(client: TestClient, headers: dict[str, str], teen: str, guardian: str) -> str:
    invited = client.post(
        f"/v1/accounts/{teen}/guardians", json={"guardian_id": guardian}, headers=headers
    )
    assert invited.status_code == 201, invited.text
    link = invited.json()
    assert link["status"] == "invited"
    accepted = client.post(
        f"/v1/accounts/{teen}/guardians/{link['link_id']}/answer",
        json={"accept": True},
        headers=headers,
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    return link["link_id"]


def _controls(client: TestClient, headers: dict[str, str], teen: str, **body: Any) -> Any:
    return client.put(f"/v1/accounts/{teen}/parental-controls", json=body, headers=headers)


def test_a_guardian_links_with_the_teens_consent_and_sets_controls(
    client: TestClient, headers: dict[str, str]
) -> None:
    # The guardian must be assured adult first; the teen's unknown age counts as teen.
    refused = client.post("/v1/accounts/t1/guardians", json={"guardian_id": "p1"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "guardian_not_adult"
    adult(client, headers, "p1")
    # Before the teen accepts, the guardian sets nothing.
    invited = client.post("/v1/accounts/t1/guardians", json={"guardian_id": "p1"}, headers=headers)
    early = _controls(client, headers, "t1", guardian_id="p1", direct_messages=False)
    assert early.status_code == 403 and early.json()["error"]["code"] == "not_a_guardian"
    client.post(
        f"/v1/accounts/t1/guardians/{invited.json()['link_id']}/answer",
        json={"accept": True},
        headers=headers,
    )
    changed = _controls(
        client, headers, "t1", guardian_id="p1", continuous_scroll=False, direct_messages=False,
        quiet_hours={"start": "21:00", "end": "07:00"},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    # The teen reads what was set, by whom, and the limits that follow.
    seen = client.get("/v1/accounts/t1/parental-controls", headers=headers).json()
    assert seen["set_by"] == "p1" and seen["controls"]["continuous_scroll"] is False
    assert seen["history"][-1]["by"] == "p1"
    assert set(seen["history"][-1]["changed"]) == {
        "continuous_scroll", "direct_messages", "quiet_hours",
    }  # fmt: skip
    assert seen["session_limits"]["quiet_hours"] == {"start": "21:00", "end": "07:00"}
    assert seen["guardians"][0]["status"] == "accepted"
    with session_scope() as session:
        actions = [e.action for e in recent(session, 50)]
    assert {"wellbeing.guardian_invited", "wellbeing.guardian_accepted",
            "wellbeing.controls_set"} <= set(actions)  # fmt: skip


def _view(client: TestClient, headers: dict[str, str], account: str, at: datetime,
          **body: Any) -> dict[str, Any]:  # fmt: skip
    response = client.post(
        "/v1/wellbeing/sessions",
        json={"account_id": account, "at": at.isoformat(), **body},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_viewing_limits_per_age_and_guardian_controls(
    client: TestClient, headers: dict[str, str]
) -> None:
    # A teen (unknown age): a nudge at 30 min, a stop at the 60 min continuous limit.
    answers = [_view(client, headers, "t2", NOON + timedelta(minutes=m), items=5, seconds=300)
               for m in range(0, 65, 5)]  # fmt: skip
    actions = [a["action"] for a in answers]
    assert actions[:5] == ["continue"] * 5
    assert actions[5] == "nudge"  # 30 min
    assert actions[-1] == "stop" and "continuous" in answers[-1]["reason"]
    # A 10 min break starts a new session.
    after = _view(client, headers, "t2", NOON + timedelta(minutes=80), items=1, seconds=30)
    assert after["action"] == "continue" and after["continuous_minutes"] == 0.5
    # Quiet hours at night for teens (local time: UTC+1 here).
    night = _view(client, headers, "t2", datetime(2026, 12, 4, 22, 30, tzinfo=UTC), items=1,
                  seconds=10, utc_offset_minutes=60)  # fmt: skip
    assert night["action"] == "stop" and "quiet hours" in night["reason"]
    # Adults: no limits, nudges only when they opt in.
    adult(client, headers, "a1")
    grown = [_view(client, headers, "a1", NOON + timedelta(minutes=m), seconds=600)
             for m in range(0, 130, 10)]  # fmt: skip
    assert {a["action"] for a in grown} == {"continue"}
    opted = _view(client, headers, "a1", NOON + timedelta(minutes=125), seconds=300,
                  nudge_opt_in=True)  # fmt: skip
    assert opted["action"] == "nudge"
    # Counters live in the database: a restart (new engine, new app) keeps counting.
    reset_engine()
    kept = _view(client, headers, "t2", datetime(2026, 12, 4, 22, 31, tzinfo=UTC), items=1,
                 seconds=30, utc_offset_minutes=60)  # fmt: skip
    assert kept["continuous_minutes"] == 0.67 and kept["continuous_items"] == 2


def test_a_guardian_turns_continuous_scroll_off(
    client: TestClient, headers: dict[str, str]
) -> None:
    adult(client, headers, "p2")
    _link(client, headers, "t3", "p2")
    _controls(client, headers, "t3", guardian_id="p2", continuous_scroll=False)
    first = _view(client, headers, "t3", NOON, items=10, seconds=60)
    assert first["action"] == "continue"
    second = _view(client, headers, "t3", NOON + timedelta(minutes=1), items=10, seconds=60)
    assert second["action"] == "stop" and "continuous scroll is off" in second["reason"]
    assert second["limits"]["source"].endswith("with parental controls")


def _interact(client: TestClient, headers: dict[str, str], actor: str, target: str, kind: str,
              mutual: bool = False) -> dict[str, Any]:  # fmt: skip
    response = client.post(
        "/v1/checks/interaction",
        json={"actor_id": actor, "target_id": target, "kind": kind, "mutual_connection": mutual},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_interaction_guard(client: TestClient, headers: dict[str, str]) -> None:
    adult(client, headers, "grown")
    assure(client, headers, account_id="kid", declared_birth_date="2011-02-03")
    dm = _interact(client, headers, "grown", "kid", "dm")
    assert dm["decision"] == "block" and dm["code"] == "adult_to_teen_no_connection"
    assert dm["policy"] == "wellbeing-default@1"
    assert _interact(client, headers, "grown", "kid", "dm", mutual=True)["decision"] == "allow"
    # Unknown age is a teen: the same protection.
    assert _interact(client, headers, "grown", "stranger", "dm")["decision"] == "block"
    assert _interact(client, headers, "kid", "other_kid", "dm")["decision"] == "allow"
    remix = _interact(client, headers, "grown", "kid", "remix")
    assert remix["decision"] == "hold" and remix["code"] == "teen_remix_held"
    cameo = _interact(client, headers, "grown", "kid", "cameo_use")
    assert cameo["decision"] == "block" and cameo["code"] == "teen_cameo_mutuals_only"
    assert _interact(client, headers, "grown", "kid", "cameo_use", mutual=True)["decision"] == (
        "allow"
    )
    assert _interact(client, headers, "grown", "kid", "comment")["decision"] == "allow"
    # A guardian's choices are stricter still.
    _link(client, headers, "kid", "grown")
    _controls(client, headers, "kid", guardian_id="grown", direct_messages=False,
              cameo_use="nobody")  # fmt: skip
    blocked = _interact(client, headers, "other_kid", "kid", "dm")
    assert blocked["decision"] == "block" and blocked["code"] == "dms_off_by_guardian"
    nobody = _interact(client, headers, "grown", "kid", "cameo_use", mutual=True)
    assert nobody["code"] == "teen_cameo_nobody"


def _item(item_id: str, state: str, audience: str = "all", author: str = "maker") -> FeedItem:
    return FeedItem(id=item_id, tenant="", author_id=author, author_age_group="adult",
                    audience_age_group=audience, caption="", media_location="x.mp4",
                    state=state)  # fmt: skip


def test_feed_eligibility_by_rating_state_and_blocked_authors(
    client: TestClient, headers: dict[str, str]
) -> None:
    with session_scope(write=True) as session:
        session.add_all([
            _item("calm", "published"),
            _item("edgy", "published"),
            _item("restricted", "age_restricted"),
            _item("held", "in_review"),
            _item("gone", "removed"),
            _item("adults", "published", audience="adult"),
            _item("blocked", "published", author="troll"),
        ])  # fmt: skip
        session.add(FeedScore(item_id="edgy", classifier="harassment", version="1",
                              scores={"risk": 0.4}))  # fmt: skip
        session.add(FeedDecision(item_id="restricted", decision_version=1, input_digest="d",
                                 action="age_restrict", reasons=[
                                     "minors risk 0.35 >= age_restrict 0.30 (feed-default@1)"],
                                 risks={"minors": 0.35}, policy="feed-default@1"))  # fmt: skip
    ids = ["calm", "edgy", "restricted", "held", "gone", "adults", "blocked", "missing"]

    def ask(viewer: str) -> dict[str, dict[str, Any]]:
        response = client.post(
            "/v1/feed/eligibility",
            json={"viewer_id": viewer, "item_ids": ids, "blocked_author_ids": ["troll"]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return {i["item_id"]: i for i in response.json()["items"]}

    teen = ask("young")  # never assured: treated as teen
    assert {i for i, a in teen.items() if a["show"]} == {"calm", "edgy"}
    assert teen["edgy"]["rating"] == "teen" and teen["calm"]["rating"] == "all"
    assert teen["restricted"]["rating"] == "mature"
    assert "rated mature" in teen["restricted"]["reasons"][0]
    assert "held" in teen["held"]["reasons"][0]
    assert teen["blocked"]["reasons"] == ["the viewer blocked its author"]
    adult(client, headers, "grown_up")
    grown = ask("grown_up")
    assert {i for i, a in grown.items() if a["show"]} == {"calm", "edgy", "restricted", "adults"}
    assert not grown["held"]["show"] and not grown["gone"]["show"]
    with session_scope() as session:
        from wellbeing.tables import ItemRating

        stored = {r.item_id: r.rating for r in session.query(ItemRating)}
    assert stored["restricted"] == "mature" and stored["held"] == "held"


def test_a_guardians_daily_generation_limit(client: TestClient, headers: dict[str, str]) -> None:
    adult(client, headers, "p4")
    _link(client, headers, "t4", "p4")
    _controls(client, headers, "t4", guardian_id="p4", daily_generation_limit=2)

    def ask(account: str, at: datetime) -> dict[str, Any]:
        response = client.post(
            "/v1/checks/generation-allowance",
            json={"account_id": account, "at": at.isoformat()},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert [ask("t4", NOON)["decision"] for _ in range(3)] == ["allow", "allow", "block"]
    assert "daily limit is 2" in ask("t4", NOON)["reason"]
    assert ask("t4", NOON + timedelta(days=1))["decision"] == "allow"  # a new day
    assert ask("p4", NOON)["daily_limit"] is None  # adults: no limit
