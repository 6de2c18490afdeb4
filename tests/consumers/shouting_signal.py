"""A feed signal written for the test that adding one takes one file and one registry line:
captions in capitals (a stand-in for any new classifier)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from consumers.signals.base import Evidence, FeedSignal, SignalResult, Thresholds

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from consumers.analysed import AnalysedMedia


class ShoutingSignal(FeedSignal):
    name = "shouting"
    version = "shouting-v1"
    needs = frozenset({"caption"})
    thresholds = Thresholds(review=0.6, priority=3)

    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        letters = [c for c in item.caption if c.isalpha()]
        share = sum(c.isupper() for c in letters) / len(letters) if letters else 0.0
        return SignalResult(
            risk=round(share, 4),
            scores={"capitals": round(share, 4)},
            evidence=[Evidence(kind="caption_style", letters=len(letters))],
        )
