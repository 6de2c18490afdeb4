"""Harassment: the caption through the text policy (harassment, threats, hate), with the matched
rules and scores as evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumers.runner import PermanentError
from consumers.signals.base import Evidence, FeedSignal, SignalResult, Thresholds
from safety.policy.engine import CheckContext
from safety.policy.normalize import InvalidText

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from consumers.analysed import AnalysedMedia

CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening")


class HarassmentSignal(FeedSignal):
    name = "harassment"
    version = "harassment-v1"
    needs = frozenset({"caption"})
    thresholds = Thresholds(review=0.5, remove=0.9, priority=2)

    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        age_group = "teen" if item.author_age_group == "teen" else "adult"
        try:
            decision = self.tools.engine.check(
                item.caption or " ", CheckContext(age_group=age_group, purpose="caption")
            )
        except InvalidText as exc:
            raise PermanentError(f"caption refused by the normaliser: {exc}") from exc
        scores = {
            c: round(decision.categories[c].score, 4)
            for c in CATEGORIES
            if c in decision.categories
        }
        evidence = [
            Evidence(kind="rule", id=r["id"], category=r.get("category")) for r in decision.rules
        ]
        evidence.append(Evidence(kind="policy", action=decision.action, flagged=decision.flagged))
        return SignalResult(
            risk=max(scores.values(), default=0.0), scores=scores, evidence=evidence
        )

    def full_version(self) -> str:
        engine = self.tools.engine
        return f"{engine.pack.ref}|{engine.classifier.version}"
