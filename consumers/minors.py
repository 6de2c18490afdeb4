"""The minors-risk worker. Signals: faces whose apparent age is under 18 + margin (frames sampled
at `feed_frames_per_second`, 0.5 by default), the caption's words (`minor_terms` in
policies/feed.yaml) and its sexual/minors score, the sexual or violent context of the caption,
and the author's age group. A minor alone is an
age-restriction signal; a minor in a sexual or violent context is a removal-level risk."""

from __future__ import annotations

import re
from typing import Any

from cameoguard.settings import get_settings
from consumers.feed_policy import FeedPolicy
from consumers.media_access import resolve_media
from consumers.runner import PermanentError
from consumers.schemas import ContentPublished, ContentScores
from safety.consent.analysis import analyse
from safety.consent.models import LikenessModels
from safety.media import MediaError, load_media
from safety.models.age import ADULT_AGE
from safety.policy.engine import CheckContext, PolicyEngine
from safety.policy.normalize import InvalidText

CLASSIFIER = "minors"
MAX_FRAMES = 30


def score_item(
    item: ContentPublished,
    engine: PolicyEngine,
    models: LikenessModels,
    policy: FeedPolicy,
    margin: int,
) -> ContentScores:
    evidence: list[dict[str, Any]] = []
    try:
        media = load_media(
            resolve_media(item.media_location),
            max_seconds=600,
            frames_per_second=get_settings().feed_frames_per_second,
            max_frames=MAX_FRAMES,
            want_audio=False,
        )
    except MediaError as exc:
        raise PermanentError(f"unreadable media: {exc}") from exc
    analysis = analyse(media, models)
    young = [
        s for s in analysis.sightings if s.age is not None and s.age.years < ADULT_AGE + margin
    ]
    for s in young[:10]:
        evidence.append({"kind": "face", "time": round(s.time, 2), "box": list(s.face.box),
                         "apparent_age": s.age.years if s.age else None})  # fmt: skip
    words = sorted(
        {
            m.group(0).lower()
            for term in policy.minor_terms
            for m in re.finditer(term, item.caption, re.I)
        }
    )
    if words:
        evidence.append({"kind": "caption_terms", "terms": words})
    try:
        decision = engine.check(item.caption or " ", CheckContext(purpose="caption"))
    except InvalidText as exc:
        raise PermanentError(f"caption refused by the normaliser: {exc}") from exc
    score = {name: result.score for name, result in decision.categories.items()}
    sexual = max(score.get("sexual", 0.0), score.get("sexual/minors", 0.0))
    violent = max(score.get("violence", 0.0), score.get("violence/graphic", 0.0))
    minor_seen = bool(young) or bool(words)
    risk = score.get("sexual/minors", 0.0)
    if minor_seen:
        risk = max(risk, 0.35)  # age-restrict level: a minor appears
        if item.author_age_group == "teen":
            risk = max(risk, 0.4)
        if sexual >= 0.3 or violent >= 0.5:
            risk = max(risk, 0.95 if young and sexual >= 0.3 else 0.75)
            evidence.append(
                {"kind": "context", "sexual": round(sexual, 3), "violent": round(violent, 3)}
            )
    scores = {
        "risk": round(risk, 4),
        "youngest_apparent_age": float(min((s.age.years for s in young if s.age), default=-1)),
        "faces_under_threshold": float(len(young)),
        "caption_terms": float(len(words)),
        "sexual_context": round(sexual, 4),
        "violent_context": round(violent, 4),
    }
    return ContentScores(
        item_id=item.item_id,
        classifier=CLASSIFIER,
        version=f"minors-v1|{models.face.name}|age-v1|{decision.pack}|{policy.ref}",
        scores=scores,
        evidence=evidence,
    )
