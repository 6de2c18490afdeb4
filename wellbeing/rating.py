"""Age ratings of feed items and feed eligibility. A rating (all, teen, mature) is derived from
the feed's own records by `policies/rating.yaml`: the item's state, the latest feed decision's
reasons, each signal's stored risk and the author's intended audience. It is recorded with its
reasons whenever the feed decides (the `content.decisions` reaction) and checked again, cheaply,
when a viewer's eligibility is asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.contracts import CONTENT_DECISIONS, ContentDecision, Message, Reaction
from cameoguard.db import session_scope, utcnow
from consumers.tables import FeedDecision, FeedItem, FeedScore
from wellbeing.age import age_group, treated_as
from wellbeing.guardians import controls_of
from wellbeing.policy import RATING_ORDER, RatingPolicy, rating_policy
from wellbeing.tables import ItemRating

Standing = Literal["rated", "held", "removed"]


@dataclass(frozen=True)
class Rated:
    standing: Standing
    rating: str  # all | teen | mature ("mature" for what is held or removed)
    reasons: list[str]
    basis: str


def _stricter(current: str, other: str) -> str:
    return other if RATING_ORDER[other] > RATING_ORDER[current] else current


def rate(session: Session, item: FeedItem, policy: RatingPolicy) -> Rated:
    what = policy.states.get(item.state, "held")  # an unknown state is held (fail closed)
    decision = session.scalar(
        select(FeedDecision)
        .where(FeedDecision.item_id == item.id)
        .order_by(FeedDecision.decision_version.desc())
        .limit(1)
    )
    basis = f"state={item.state};decision={decision.decision_version if decision else 0}"
    if what == "removed":
        return Rated("removed", "mature", [f"the item is {item.state}"], basis)
    if what == "held":
        return Rated("held", "mature", [f"the item is {item.state}: held until decided"], basis)
    rating, reasons = "all", []
    if what == "mature":
        rating = "mature"
        reasons.append(f"the feed set the item {item.state}")
    if item.audience_age_group == "adult":
        rating = _stricter(rating, policy.adult_audience)
        reasons.append("its author meant it for adults")
    if decision is not None:
        for text in decision.reasons:
            if any(word in text for word in policy.mature_reasons):
                rating = "mature"
                reasons.append(f"feed decision: {text}")
    scores = session.scalars(select(FeedScore).where(FeedScore.item_id == item.id))
    for score in scores:
        limits = policy.signals.get(score.classifier)
        risk = float(score.scores.get("risk", 0.0))
        if limits is None:
            continue
        for level in ("mature", "teen"):
            limit = getattr(limits, level)
            if risk >= limit:
                rating = _stricter(rating, level)
                reasons.append(f"{score.classifier} risk {risk:.2f} >= {level} {limit:.2f}")
                break
    if not reasons:
        reasons.append("no signal or decision calls for a rating above all")
    return Rated("rated", rating, [*reasons, f"({policy.ref})"], basis)


def store_rating(session: Session, item: FeedItem, rated: Rated, policy: RatingPolicy) -> bool:
    """Records the rating when it changed; True when it did (audited)."""
    row = session.get(ItemRating, item.id)
    value = rated.rating if rated.standing == "rated" else rated.standing
    if row is not None and (row.rating, row.basis) == (value, rated.basis):
        return False
    if row is None:
        row = ItemRating(item_id=item.id, tenant=item.tenant, rating="", reasons=[], basis="",
                         policy=policy.ref, rated_at=utcnow())  # fmt: skip
        try:
            with session.begin_nested():  # the reactions worker may rate it at the same moment
                session.add(row)
        except IntegrityError:
            found = session.get(ItemRating, item.id, with_for_update=True, populate_existing=True)
            assert found is not None
            row = found
    changed = row.rating != value
    row.rating, row.reasons, row.basis = value, rated.reasons, rated.basis
    row.policy, row.rated_at = policy.ref, utcnow()
    if changed:
        record(
            session,
            actor="system:wellbeing",
            action="wellbeing.item_rated",
            subject=f"item:{item.id}",
            reason=f"{value}: {'; '.join(rated.reasons)[:400]}",
            details={"basis": rated.basis, "tenant": item.tenant},
        )
    return changed


def _on_decision(message: Message) -> None:
    assert isinstance(message, ContentDecision)
    policy = rating_policy()
    with session_scope(write=True) as session:
        item = session.get(FeedItem, message.item_id)
        if item is not None:
            store_rating(session, item, rate(session, item, policy), policy)


def reactions() -> list[Reaction]:
    return [Reaction("wellbeing.rate_item", CONTENT_DECISIONS, _on_decision)]


@dataclass(frozen=True)
class Eligibility:
    item_id: str
    show: bool
    rating: str | None
    reasons: list[str]


def eligibility(
    session: Session,
    *,
    tenant: str | None,
    viewer_id: str,
    item_ids: list[str],
    blocked_author_ids: list[str],
    actor: str,
) -> tuple[str, bool, list[Eligibility]]:
    """Which items the viewer may be shown and why not the others; the viewer's age group and
    whether their feed may be personalised."""
    policy = rating_policy()
    data_tenant = tenant or ""
    group = age_group(session, data_tenant, viewer_id)
    viewer = treated_as(group)
    controls = controls_of(session, data_tenant, viewer_id) if viewer == "teen" else None
    personalised = not (controls is not None and controls.personalised_feed is False)
    blocked = set(blocked_author_ids)
    answers: list[Eligibility] = []
    hidden = 0
    for item_id in item_ids:
        item = session.get(FeedItem, item_id)
        if item is None or (tenant is not None and item.tenant != tenant):
            answers.append(Eligibility(item_id, False, None, ["unknown item"]))
            continue
        rated = rate(session, item, policy)
        store_rating(session, item, rated, policy)
        why: list[str] = []
        if rated.standing == "removed":
            why.append("removed")
        elif rated.standing == "held":
            why.append("under review or not yet decided: held")
        elif viewer == "teen" and rated.rating == "mature":
            why.append(f"rated mature; the viewer is {group} (treated as teen)")
        if item.author_id in blocked:
            why.append("the viewer blocked its author")
        show = not why
        hidden += not show
        rating = rated.rating if rated.standing == "rated" else None
        answers.append(Eligibility(item_id, show, rating, why or rated.reasons))
    if hidden:
        record(
            session,
            actor=actor,
            action="wellbeing.feed_filtered",
            subject=f"account:{viewer_id}",
            reason=f"{hidden} of {len(item_ids)} items not eligible for a {group} viewer",
            details={
                "tenant": data_tenant,
                "hidden": [a.item_id for a in answers if not a.show][:50],
            },
        )
    return group, personalised, answers
