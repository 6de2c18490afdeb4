"""The aggregator: joins the signals' scores per item and decides with the feed policy
(`policies/feed.yaml`): publish, age-restrict, remove, or review with a priority.

Triggered by `content.scores`; reads the item's latest score per signal from the database (the
workers wrote them there), decides once every required signal has scored, and writes the
decision and its `content.decisions` event in one transaction. Idempotent: the decision is
keyed by a digest of its inputs, so replaying the topic changes nothing.

The feed's reactions (`reactions`): decide an item on `content.scores`, and take down (revoked)
or send back to review (permissions changed) every item that used a cameo on
`consent.revoked`."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, select

from cameoguard.contracts import (
    CONSENT_REVOKED,
    CONTENT_DECISIONS,
    CONTENT_SCORES,
    ConsentRevoked,
    ContentDecision,
    ContentScores,
    Message,
    Reaction,
)
from cameoguard.db import session_scope
from cameoguard.events import emit
from consumers.feed_policy import FeedPolicy, decide, signals_of
from consumers.items import apply_action, review_snapshot, tenant_of
from consumers.tables import FeedDecision, FeedItem, FeedScore
from safety.review.cases import CaseRequest, open_case
from safety.review.routing import review_policy


def _latest_scores(session, item_id: str) -> dict[str, FeedScore]:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(FeedScore).where(FeedScore.item_id == item_id).order_by(FeedScore.id)
    ).all()
    return {row.classifier: row for row in rows}  # later rows win


def _act(
    session,  # type: ignore[no-untyped-def]
    item_id: str,
    action: str,
    source: str,
    reasons: list[str],
    priority: int | None,
    signals: list[str],
) -> None:
    """Applies a decision to the item's state and, for `review`, opens (or merges into) the
    item's review case with everything the reviewer needs."""
    apply_action(session, item_id, action, source, reasons)
    if action != "review":
        return
    item = session.get(FeedItem, item_id)
    if item is None:
        return  # an item published elsewhere: the platform acts on content.decisions
    session.flush()
    open_case(
        session,
        CaseRequest(
            kind="content",
            item_id=item_id,
            signals=signals,
            severity=priority or 3,
            reasons=reasons,
            snapshot=review_snapshot(session, item),
            reach=item.views,
        ),
        review_policy(),
    )


def aggregate(policy: FeedPolicy, item_id: str) -> FeedDecision | None:
    """Decides for one item if it can; returns the new decision, or None (waiting or replay)."""
    with session_scope(write=True) as session:
        latest = _latest_scores(session, item_id)
        if any(name not in latest for name in policy.required):
            return None  # still waiting for a signal
        risks = {name: float(row.scores.get("risk", 0.0)) for name, row in latest.items()}
        inputs = {
            "policy": policy.ref,
            "scores": {n: [r.version, r.scores] for n, r in sorted(latest.items())},
        }
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        known = session.scalar(
            select(FeedDecision.id).where(
                FeedDecision.item_id == item_id, FeedDecision.input_digest == digest
            )
        )
        if known is not None:
            return None  # the same inputs were decided before: a replay
        version = 1 + int(
            session.scalar(select(func.count()).where(FeedDecision.item_id == item_id)) or 0
        )
        verdict = decide(policy, risks)
        row = FeedDecision(
            item_id=item_id,
            decision_version=version,
            input_digest=digest,
            action=verdict.action,
            priority=verdict.priority,
            reasons=verdict.reasons,
            risks=risks,
            policy=policy.ref,
        )
        session.add(row)
        event = ContentDecision(
            item_id=item_id,
            decision_version=version,
            action=verdict.action,  # type: ignore[arg-type]
            priority=verdict.priority,
            reasons=verdict.reasons,
            tenant=tenant_of(session, item_id),
        )
        emit(session, CONTENT_DECISIONS, item_id, event.model_dump(mode="json"))
        _act(
            session,
            item_id,
            verdict.action,
            "aggregator",
            verdict.reasons,
            verdict.priority,
            signals_of(policy, risks),
        )
        session.flush()
        return row


def items_using_cameo(session, cameo_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Items any signal saw the cameo in (declared, in our record, or matched), and items that
    declare it (or inherit it from the item they remix) before any signal scored them. A scan:
    fine for the embedded default, an index for large feeds."""
    rows = session.execute(select(FeedScore.item_id, FeedScore.cameos_seen)).all()
    found = {item_id for item_id, seen in rows if cameo_id in (seen or [])}
    declared = session.execute(select(FeedItem.id, FeedItem.cameo_ids)).all()
    found |= {item_id for item_id, cameos in declared if cameo_id in (cameos or [])}
    return sorted(found)


def record_decision(
    session,  # type: ignore[no-untyped-def]
    policy_ref: str,
    item_id: str,
    action: str,
    reasons: list[str],
    inputs: dict[str, object],
    *,
    source: str,
    priority: int | None = None,
    signals: list[str] | None = None,
) -> FeedDecision | None:
    """A decision that did not come from the scores (a revocation, an owner's takedown): its row
    keyed by a digest of `inputs` (a replay finds it and changes nothing), its
    `content.decisions` event, and the item's new state, in the caller's transaction."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    known = session.scalar(
        select(FeedDecision.id).where(
            FeedDecision.item_id == item_id, FeedDecision.input_digest == digest
        )
    )
    if known is not None:
        return None
    version = 1 + int(
        session.scalar(select(func.count()).where(FeedDecision.item_id == item_id)) or 0
    )
    row = FeedDecision(
        item_id=item_id,
        decision_version=version,
        input_digest=digest,
        action=action,
        priority=priority,
        reasons=reasons,
        risks={},
        policy=policy_ref,
    )
    session.add(row)
    event_out = ContentDecision(
        item_id=item_id,
        decision_version=version,
        action=action,  # type: ignore[arg-type]
        priority=priority,
        reasons=reasons,
        source="takedown" if source == "takedown" else "aggregator",
        tenant=tenant_of(session, item_id),
    )
    emit(session, CONTENT_DECISIONS, item_id, event_out.model_dump(mode="json"))
    _act(session, item_id, action, source, reasons, priority, signals or ["deepfake"])
    return row


def apply_revocation(policy: FeedPolicy, event: ConsentRevoked) -> list[FeedDecision]:
    """Takes down (revoked) or sends to review (permissions changed, suspended) every item that
    used the cameo. Keyed by the event (cameo id and version), so a replay changes nothing."""
    action = "remove" if event.reason == "revoked" else "review"
    reason = (
        f"consent for cameo {event.cameo_id} {event.reason.replace('_', ' ')} "
        f"(cameo version {event.cameo_version})"
    )
    made = []
    with session_scope(write=True) as session:
        for item_id in items_using_cameo(session, event.cameo_id):
            inputs = {"revocation": [event.cameo_id, event.cameo_version, event.reason]}
            row = record_decision(
                session,
                policy.ref,
                item_id,
                action,
                [reason],
                inputs,
                source="revocation",
                priority=1 if action == "review" else None,
            )
            if row is not None:
                made.append(row)
        session.flush()
    return made


def reactions(policy: FeedPolicy) -> list[Reaction]:
    """The feed's reactions to events."""

    def decide_item(message: Message) -> None:
        assert isinstance(message, ContentScores)
        aggregate(policy, message.item_id)

    def take_down_items(message: Message) -> None:
        assert isinstance(message, ConsentRevoked)
        apply_revocation(policy, message)

    return [
        Reaction("feed.decide_item", CONTENT_SCORES, decide_item),
        Reaction("feed.take_down_items_of_revoked_cameo", CONSENT_REVOKED, take_down_items),
    ]
