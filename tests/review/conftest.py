"""Helpers for the review tests: a published item with classifier scores, decided by the real
aggregator, so cases reach the queue the way they do in production."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cameoguard.db import session_scope
from consumers.aggregator import aggregate
from consumers.feed_policy import load_feed_policy
from consumers.signals.registry import SIGNALS
from consumers.tables import FeedScore
from tests.conftest import auth


def publish(client: TestClient, key: str, clip: bytes, item_id: str, **fields: object) -> dict:
    stored = client.post("/v1/media", content=clip, headers=auth(key))
    assert stored.status_code == 201, stored.text
    body = {
        "item_id": item_id,
        "author_id": fields.pop("author_id", "creator_1"),
        "media_location": stored.json()["media_location"],
        "caption": fields.pop("caption", "a day at the beach"),
        **fields,
    }
    answer = client.post("/v1/feed/items", json=body, headers=auth(key))
    assert answer.status_code == 202, answer.text
    return answer.json()


def score(item_id: str, deepfake: float = 0.1, minors: float = 0.1, harassment: float = 0.1):
    """Every registered signal's scores for an item (those not named here: 0), then the
    aggregator's decision."""
    risks = {name: 0.0 for name in SIGNALS}
    risks |= {"deepfake": deepfake, "minors": minors, "harassment": harassment}
    with session_scope(write=True) as session:
        for name, risk in risks.items():
            evidence = [{"rule": f"{name}-test", "risk": risk}]
            session.add(
                FeedScore(
                    item_id=item_id,
                    classifier=name,
                    version="test-1",
                    scores={"risk": risk},
                    evidence=evidence,
                )
            )
    return aggregate(load_feed_policy(), item_id)


def flagged_item(client: TestClient, key: str, clip: bytes, item_id: str, **risks: float) -> str:
    """A published item the aggregator sent to review; returns the item id."""
    publish(client, key, clip, item_id)
    decision = score(item_id, **risks)
    assert decision is not None and decision.action == "review", decision
    return item_id


__all__ = ["Path", "flagged_item", "publish", "score"]
