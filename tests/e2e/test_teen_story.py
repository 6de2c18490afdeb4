"""The teen story on the real parts: PostgreSQL, the Kafka broker with every scoring worker and
the reactions worker, the real face, age and text models, real MP4s.

Tia signs up with an unknown age (treated as teen). Her selfie check says teen (the
challenge-25 rule over its frames; see tests/wellbeing/conftest.py for why the selfie is an
adult's blurred photo). Gus, assured adult, is invited as her guardian; she accepts; he turns
continuous scroll off, and her viewing session stops after one page. Two clips go through the
feed on Kafka: the one meant for adults is rated mature when the feed decides (the wellbeing
reaction) and hidden from her, the other shown. An adult she shares no connection with cannot
DM her. A self-harm caption of hers gets support resources, and Gus a notification event that
the relay delivers to the broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cameoguard.contracts import GUARDIAN_NOTIFICATIONS
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from tests.e2e.test_story import _state, _wait, feed
from tests.wellbeing.conftest import adult, assure, selfies, upload

__all__ = ["feed", "selfies"]
pytestmark = [pytest.mark.slow, pytest.mark.kafka]


def _rating(item_id: str) -> str | None:
    from wellbeing.tables import ItemRating

    with session_scope() as session:
        row = session.get(ItemRating, item_id)
        return row.rating if row else None


def _relayed(topic: str) -> list[OutboxEvent]:
    with session_scope() as session:
        query = select(OutboxEvent).where(
            OutboxEvent.topic == topic, OutboxEvent.published_at.is_not(None)
        )
        return list(session.scalars(query))


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_the_teen_story(
    client: TestClient,
    platform: dict[str, str],
    feed: None,
    selfies: dict[str, Path],
    clip_bytes: bytes,
    tmp_path: Path,
) -> None:
    # Tia signs up: nobody knows her age, so she is treated as a teen.
    missing = client.get("/v1/age/assurance/tia", headers=platform)
    assert missing.status_code == 404
    signup = assure(client, platform, account_id="tia")
    assert signup["age_group"] == "unknown" and signup["treated_as"] == "teen"

    # Her selfie check says teen.
    checked = assure(
        client, platform, account_id="tia",
        selfie_media_location=upload(client, platform, selfies["teen"]),
    )  # fmt: skip
    assert checked["age_group"] == "teen" and checked["method"] == "selfie", checked

    # Gus (assured adult) links as her guardian once she accepts, and turns continuous scroll off.
    adult(client, platform, "gus")
    link = client.post("/v1/accounts/tia/guardians", json={"guardian_id": "gus"},
                       headers=platform).json()  # fmt: skip
    accepted = client.post(f"/v1/accounts/tia/guardians/{link['link_id']}/answer",
                           json={"accept": True}, headers=platform)  # fmt: skip
    assert accepted.json()["status"] == "accepted"
    controls = client.put(
        "/v1/accounts/tia/parental-controls",
        json={"guardian_id": "gus", "continuous_scroll": False},
        headers=platform,
    )
    assert controls.status_code == 200, controls.text
    seen = client.get("/v1/accounts/tia/parental-controls", headers=platform).json()
    assert seen["set_by"] == "gus" and seen["controls"]["continuous_scroll"] is False
    page = seen["session_limits"]["page_items"]
    afternoon = "2026-12-04T15:00:00Z"  # outside the teen quiet hours (22:00-06:00)
    viewed = client.post(
        "/v1/wellbeing/sessions",
        json={"account_id": "tia", "items": page, "seconds": 120, "at": afternoon},
        headers=platform,
    ).json()
    assert viewed["action"] == "stop" and "continuous scroll is off" in viewed["reason"]

    # Two clips through the feed on Kafka; the adults-only one is rated mature and hidden.
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(clip_bytes)
    location = upload(client, platform, clip)
    for item_id, audience in (("beach", "all"), ("late_show", "adult")):
        published = client.post(
            "/v1/feed/items",
            json={"item_id": item_id, "author_id": "max", "media_location": location,
                  "caption": "a walk on the beach", "author_age_group": "adult",
                  "audience_age_group": audience},
            headers=platform,
        )  # fmt: skip
        assert published.status_code == 202, published.text
    for item_id in ("beach", "late_show"):
        _wait(f"the feed's decision on {item_id}", lambda i=item_id: _state(i) == "published")
        _wait(f"the rating of {item_id}", lambda i=item_id: _rating(i) is not None)
    assert _rating("late_show") == "mature" and _rating("beach") == "all"
    shown = client.post(
        "/v1/feed/eligibility",
        json={"viewer_id": "tia", "item_ids": ["beach", "late_show"]},
        headers=platform,
    ).json()
    answers = {i["item_id"]: i for i in shown["items"]}
    assert answers["beach"]["show"] and not answers["late_show"]["show"]
    assert "rated mature" in answers["late_show"]["reasons"][0]

    # Max, an adult she has no mutual connection with, cannot DM her.
    adult(client, platform, "max")
    dm = client.post(
        "/v1/checks/interaction",
        json={"actor_id": "max", "target_id": "tia", "kind": "dm"},
        headers=platform,
    ).json()
    assert dm["decision"] == "block" and dm["code"] == "adult_to_teen_no_connection"

    # A self-harm caption: resources to show, and Gus is notified (no content) via the broker.
    crisis = client.post(
        "/v1/checks/crisis",
        json={"account_id": "tia", "surface": "caption", "text": "i want to kill myself"},
        headers=platform,
    ).json()
    assert crisis["self_harm"] and crisis["support"]["resources"], crisis
    assert crisis["guardians_notified"] == 1
    _wait("the guardian's notification to reach the broker",
          lambda: len(_relayed(GUARDIAN_NOTIFICATIONS)) == 1)  # fmt: skip
    [note] = _relayed(GUARDIAN_NOTIFICATIONS)
    assert note.payload["guardian_id"] == "gus" and note.payload["teen_id"] == "tia"
    assert "kill" not in note.payload["what_to_do"]
