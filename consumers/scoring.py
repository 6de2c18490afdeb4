"""What the scoring workers share: store one classifier's scores for an item and emit the
`content.scores` event, in one transaction; a replay (same item, classifier, version) does
nothing."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from cameoguard.db import session_scope
from cameoguard.events import emit
from consumers.runner import PermanentError
from consumers.schemas import CONTENT_SCORES, ContentPublished, ContentScores, Message
from consumers.tables import FeedScore


def store_scores(result: ContentScores) -> None:
    with session_scope(write=True) as session:
        exists = session.scalar(
            select(FeedScore.id).where(
                FeedScore.item_id == result.item_id,
                FeedScore.classifier == result.classifier,
                FeedScore.version == result.version,
            )
        )
        if exists is not None:
            return
        session.add(
            FeedScore(
                item_id=result.item_id,
                classifier=result.classifier,
                version=result.version,
                scores=result.scores,
                evidence=result.evidence,
            )
        )
        emit(session, CONTENT_SCORES, result.item_id, result.model_dump(mode="json"))


def scoring_handler(score: Callable[[ContentPublished], ContentScores]):  # type: ignore[no-untyped-def]
    """A runner handler that scores `content.published` items with `score` and stores them."""

    def handle(topic: str, message: Message, headers: dict[str, str]) -> None:
        if not isinstance(message, ContentPublished):
            raise PermanentError(f"a scoring worker got a {type(message).__name__}")
        store_scores(score(message))

    return handle
