"""Crisis support on the real prompt policy: self-harm wording gets the pack's localised
resources (en, fr), a teen's guardians get a notification event without content, imminent
wording opens a severity-0 case in the crisis queue (and an event); other text gets nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.contracts import CRISIS_CASES, GUARDIAN_NOTIFICATIONS, validate
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from safety.review.tables import ReviewCase
from tests.wellbeing.conftest import adult


def _check(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/checks/crisis", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _events(topic: str) -> list[dict[str, Any]]:
    with session_scope() as session:
        rows = session.scalars(select(OutboxEvent).where(OutboxEvent.topic == topic))
        return [validate(topic, r.payload).model_dump(mode="json") for r in rows]


def test_self_harm_gets_resources_and_notifies_a_teens_guardian(
    client: TestClient, headers: dict[str, str]
) -> None:
    adult(client, headers, "mum")
    invited = client.post("/v1/accounts/kid/guardians", json={"guardian_id": "mum"},
                          headers=headers).json()  # fmt: skip
    client.post(f"/v1/accounts/kid/guardians/{invited['link_id']}/answer",
                json={"accept": True}, headers=headers)  # fmt: skip

    calm = _check(client, headers, account_id="kid", surface="caption",
                  text="my dog learning to skateboard")  # fmt: skip
    assert calm["self_harm"] is False and calm["support"] is None
    assert calm["guardians_notified"] == 0

    hurt = _check(client, headers, account_id="kid", surface="comment",
                  text="I want to kill myself, nobody would miss me")  # fmt: skip
    assert hurt["self_harm"] is True and hurt["imminent"] is False
    assert hurt["support"]["locale"] == "en" and hurt["support"]["resources"]
    assert hurt["guardians_notified"] == 1 and hurt["case_id"] is None
    [note] = _events(GUARDIAN_NOTIFICATIONS)
    assert note["guardian_id"] == "mum" and note["kind"] == "self_harm_risk"
    assert "kill" not in note["what_to_do"]  # the kind of event and what to do, no content

    fr = _check(client, headers, account_id="kid", surface="caption", locale="fr",
                text="je veux me suicider ce soir, j'ai un plan")  # fmt: skip
    assert fr["self_harm"] and fr["imminent"] and fr["support"]["locale"] == "fr"
    with session_scope() as session:
        case = session.get(ReviewCase, fr["case_id"])
        assert case is not None
        assert (case.kind, case.queue, case.severity) == ("crisis", "crisis", 0)
        assert case.snapshot["surface"] == "caption"
    [opened] = _events(CRISIS_CASES)
    assert opened["case_id"] == fr["case_id"] and opened["severity"] == 0
    notes = _events(GUARDIAN_NOTIFICATIONS)
    assert notes[-1]["kind"] == "imminent_risk" and notes[-1]["locale"] == "fr"


def test_an_adult_gets_resources_without_any_guardian(
    client: TestClient, headers: dict[str, str]
) -> None:
    adult(client, headers, "grown")
    answer = _check(client, headers, account_id="grown", surface="prompt",
                    text="a video of me saying goodbye before I end my life tonight")  # fmt: skip
    assert answer["self_harm"] and answer["support"]["resources"]
    assert answer["guardians_notified"] == 0
    assert answer["imminent"] and answer["case_id"]


def test_a_reviewer_gets_the_crisis_case_before_any_other(
    client: TestClient, headers: dict[str, str]
) -> None:
    from consumers.tables import FeedItem
    from tests.conftest import auth, make_key

    # A child-safety report (severity 1, minors: the most urgent content case) comes first...
    with session_scope(write=True) as session:
        session.add(FeedItem(id="clip", tenant="", author_id="x", author_age_group="adult",
                             audience_age_group="all", caption="", media_location="x.mp4",
                             state="published"))  # fmt: skip
    report = client.post("/v1/reports", json={"item_id": "clip", "reporter_id": "r1",
                         "reason": "child_safety"}, headers=headers)  # fmt: skip
    assert report.status_code in (200, 201), report.text
    # ...then someone writes of ending their life tonight.
    answer = _check(client, headers, account_id="sam", surface="comment",
                    text="this is my last post, I want to kill myself tonight")  # fmt: skip
    assert answer["case_id"]
    reviewer = auth(make_key("reviewer", roles=["child_safety", "senior"], name="rae"))
    claimed = client.post("/v1/review/claims", headers=reviewer)
    assert claimed.status_code == 200, claimed.text
    case = claimed.json()["case"]
    assert case["case_id"] == answer["case_id"] and case["queue"] == "crisis"
    shown = client.get(f"/v1/review/cases/{answer['case_id']}", headers=reviewer)
    assert shown.status_code == 200, shown.text
    assert shown.json()["snapshot"]["surface"] == "comment"
