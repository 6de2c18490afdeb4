"""Running the feed on one item the way the workers do, without the broker: the other signals'
calm scores, the hash-bank signal's real ones, then every reaction to the new scores (the
aggregator's decision, the rights area's lineage and escalation)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from assembly.reactions import all_reactions
from cameoguard.contracts import CONTENT_PUBLISHED, CONTENT_SCORES, validate
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from consumers.runner import reactions_handler
from consumers.signals.registry import SIGNALS
from consumers.tables import FeedItem, FeedScore
from tests.feed import scorer


def publish_file(
    client: TestClient, headers: dict, path: Path, item_id: str, author: str = "uploader", **kw
) -> dict:
    stored = client.post("/v1/media", content=path.read_bytes(), headers=headers)
    assert stored.status_code == 201, stored.text
    body = {"item_id": item_id, "author_id": author, "caption": "a clip",
            "media_location": stored.json()["media_location"], **kw}  # fmt: skip
    answer = client.post("/v1/feed/items", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    return answer.json()


def scores_of(item_id: str, topic: str = CONTENT_SCORES) -> list[dict]:
    with session_scope() as session:
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == topic, OutboxEvent.key == item_id)
            .order_by(OutboxEvent.id)
        )
        return [e.payload for e in rows]


def run_feed(item_id: str) -> None:
    """Scores the item (once: a second call is a replay of the same scores) and reacts."""
    with session_scope(write=True) as session:
        for name in SIGNALS:
            row = FeedScore(item_id=item_id, classifier=name, version="t", scores={"risk": 0.0})
            known = select(FeedScore.id).where(
                FeedScore.item_id == item_id, FeedScore.classifier == name
            )
            if name != "hashbank" and session.scalar(known) is None:
                session.add(row)
    published = scores_of(item_id, CONTENT_PUBLISHED)[0]
    scorer("hashbank")(CONTENT_PUBLISHED, validate(CONTENT_PUBLISHED, published), {})
    react = reactions_handler(all_reactions())
    for payload in scores_of(item_id):
        react(CONTENT_SCORES, validate(CONTENT_SCORES, payload), {})


def item_row(item_id: str) -> FeedItem:
    with session_scope() as session:
        item = session.get(FeedItem, item_id)
        assert item is not None
        session.expunge(item)
        return item
