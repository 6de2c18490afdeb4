"""Minors: faces whose apparent age is under 18 + margin (`minor_age_margin`), the caption's
words (`minor_terms` in policies/feed.yaml) and its sexual/minors score, the sexual or violent
context of the caption, and the author's age group. A minor alone is an age-restriction signal;
a minor in a sexual or violent context is a removal-level risk."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from consumers.runner import PermanentError
from consumers.signals.base import Evidence, FeedSignal, SignalResult, Thresholds
from safety.models.age import ADULT_AGE
from safety.policy.engine import CheckContext
from safety.policy.normalize import InvalidText

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from consumers.analysed import AnalysedMedia

RISK_MINOR_SEEN = 0.35  # age-restrict level: a minor appears
RISK_TEEN_AUTHOR = 0.4
RISK_MINOR_IN_CONTEXT = 0.75
RISK_YOUNG_FACE_SEXUAL = 0.95


class MinorsSignal(FeedSignal):
    name = "minors"
    version = "minors-v1"
    needs = frozenset({"caption", "frames", "faces"})
    thresholds = Thresholds(age_restrict=0.3, review=0.6, priority=1)

    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        margin = self.tools.settings.minor_age_margin
        young = [
            s
            for s in media.analysis.sightings
            if s.age is not None and s.age.years < ADULT_AGE + margin
        ]
        evidence = [
            Evidence(kind="face", time=round(s.time, 2), box=list(s.face.box),
                     apparent_age=s.age.years if s.age else None)
            for s in young[:10]
        ]  # fmt: skip
        words = sorted(
            {
                m.group(0).lower()
                for term in self.tools.feed_policy.minor_terms
                for m in re.finditer(term, item.caption, re.I)
            }
        )
        if words:
            evidence.append(Evidence(kind="caption_terms", terms=words))
        try:
            decision = self.tools.engine.check(item.caption or " ", CheckContext(purpose="caption"))
        except InvalidText as exc:
            raise PermanentError(f"caption refused by the normaliser: {exc}") from exc
        score = {name: result.score for name, result in decision.categories.items()}
        sexual = max(score.get("sexual", 0.0), score.get("sexual/minors", 0.0))
        violent = max(score.get("violence", 0.0), score.get("violence/graphic", 0.0))
        risk = score.get("sexual/minors", 0.0)
        if young or words:
            risk = max(risk, RISK_MINOR_SEEN)
            if item.author_age_group == "teen":
                risk = max(risk, RISK_TEEN_AUTHOR)
            if sexual >= 0.3 or violent >= 0.5:
                in_context = (
                    RISK_YOUNG_FACE_SEXUAL if young and sexual >= 0.3 else RISK_MINOR_IN_CONTEXT
                )
                risk = max(risk, in_context)
                evidence.append(
                    Evidence(kind="context", sexual=round(sexual, 3), violent=round(violent, 3))
                )
        ages = [s.age.years for s in young if s.age]
        scores = {
            "youngest_apparent_age": float(min(ages, default=-1)),
            "faces_under_threshold": float(len(young)),
            "caption_terms": float(len(words)),
            "sexual_context": round(sexual, 4),
            "violent_context": round(violent, 4),
        }
        return SignalResult(risk=round(risk, 4), scores=scores, evidence=evidence)

    def full_version(self) -> str:
        engine, policy = self.tools.engine, self.tools.feed_policy
        return f"{self.version}|{self.tools.models.face.name}|age-v1|{engine.pack.ref}|{policy.ref}"
