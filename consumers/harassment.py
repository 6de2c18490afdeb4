"""The harassment-risk worker: the caption through the text policy (harassment, threats, hate),
with the matched rules and scores as evidence. Writes its scores and the `content.scores` event
in one transaction; a replay finds the row and does nothing."""

from __future__ import annotations

from sqlalchemy import select

from cameoguard.db import session_scope
from cameoguard.events import emit
from consumers.runner import PermanentError
from consumers.schemas import CONTENT_SCORES, ContentPublished, ContentScores, Message
from consumers.tables import FeedScore
from safety.policy.engine import CheckContext, PolicyEngine
from safety.policy.normalize import InvalidText

CLASSIFIER = "harassment"
CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening")


def score_caption(engine: PolicyEngine, item: ContentPublished) -> ContentScores:
    age_group = "teen" if item.author_age_group == "teen" else "adult"
    try:
        decision = engine.check(
            item.caption or " ", CheckContext(age_group=age_group, purpose="caption")
        )
    except InvalidText as exc:
        raise PermanentError(f"caption refused by the normaliser: {exc}") from exc
    scores = {
        c: round(decision.categories[c].score, 4) for c in CATEGORIES if c in decision.categories
    }
    scores["risk"] = max(scores.values(), default=0.0)  # what the aggregator thresholds
    evidence = [
        {"kind": "rule", "id": r["id"], "category": r.get("category")} for r in decision.rules
    ] + [{"kind": "policy", "action": decision.action, "flagged": decision.flagged}]
    return ContentScores(
        item_id=item.item_id,
        classifier=CLASSIFIER,
        version=f"{decision.pack}|{decision.model}",
        scores=scores,
        evidence=evidence,
    )


def make_handler(engine: PolicyEngine):  # type: ignore[no-untyped-def]
    def handle(topic: str, message: Message, headers: dict[str, str]) -> None:
        if not isinstance(message, ContentPublished):
            raise PermanentError(f"harassment worker got a {type(message).__name__}")
        result = score_caption(engine, message)
        with session_scope(write=True) as session:
            exists = session.scalar(
                select(FeedScore.id).where(
                    FeedScore.item_id == result.item_id,
                    FeedScore.classifier == CLASSIFIER,
                    FeedScore.version == result.version,
                )
            )
            if exists is not None:
                return  # already scored by this version: a replay
            session.add(
                FeedScore(
                    item_id=result.item_id,
                    classifier=CLASSIFIER,
                    version=result.version,
                    scores=result.scores,
                    evidence=result.evidence,
                )
            )
            emit(session, CONTENT_SCORES, result.item_id, result.model_dump(mode="json"))

    return handle
