"""What the scoring workers do with a `content.published` item: analyse its media once, let
every signal of the process score it, and store each signal's scores with its `content.scores`
event in one transaction; a replay (same item, signal, version) does nothing."""

from __future__ import annotations

from sqlalchemy import select

from cameoguard.contracts import CONTENT_SCORES, ContentPublished, ContentScores, Message
from cameoguard.db import session_scope
from cameoguard.events import emit
from consumers.analysed import AnalysedMedia
from consumers.runner import Handler, PermanentError
from consumers.signals.base import FeedSignal, SignalResult, SignalTools
from consumers.tables import FeedScore


def as_scores(item_id: str, signal: FeedSignal, result: SignalResult) -> ContentScores:
    return ContentScores(
        item_id=item_id,
        classifier=signal.name,
        version=signal.full_version(),
        scores={"risk": result.risk, **result.scores},
        evidence=[e.model_dump(mode="json") for e in result.evidence],
        cameos_seen=result.cameos_seen,
    )


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
                cameos_seen=result.cameos_seen,
            )
        )
        emit(session, CONTENT_SCORES, result.item_id, result.model_dump(mode="json"))


def score_item(
    item: ContentPublished, signals: list[FeedSignal], tools: SignalTools
) -> list[ContentScores]:
    """Every signal's scores for one item, from one analysis of its media."""
    needs = frozenset().union(*(signal.needs for signal in signals))
    media = AnalysedMedia(item, tools, needs)
    return [as_scores(item.item_id, s, s.score(item, media)) for s in signals]


def scoring_handler(signals: list[FeedSignal], tools: SignalTools) -> Handler:
    """A runner handler that scores `content.published` items with `signals` and stores them."""

    def handle(topic: str, message: Message, headers: dict[str, str]) -> None:
        if not isinstance(message, ContentPublished):
            raise PermanentError(f"a scoring worker got a {type(message).__name__}")
        for result in score_item(message, signals, tools):
            store_scores(result)

    return handle
