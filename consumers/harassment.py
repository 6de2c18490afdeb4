"""The harassment-risk worker: the caption through the text policy (harassment, threats, hate),
with the matched rules and scores as evidence. Writes its scores and the `content.scores` event
in one transaction; a replay finds the row and does nothing."""

from __future__ import annotations

from consumers.runner import PermanentError
from consumers.schemas import ContentPublished, ContentScores
from consumers.scoring import scoring_handler
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
    return scoring_handler(lambda item: score_caption(engine, item))
