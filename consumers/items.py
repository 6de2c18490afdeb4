"""Published items: publishing (the item and its `content.published` event in one
transaction), applying decisions to an item's state, and what a reviewer sees of an item."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.contracts import (
    CONTENT_PUBLISHED,
    ContentPublished,
    FeedItemRequest,
    ProvenanceSummary,
)
from cameoguard.db import utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.events import emit
from cameoguard.timestamps import Timestamp
from consumers.tables import FeedDecision, FeedItem, FeedScore

STATE_OF_ACTION = {
    "publish": "published",
    "age_restrict": "age_restricted",
    "review": "in_review",
    "remove": "removed",
}


# Sources whose decisions later automatic ones do not override.
STICKY = frozenset({"review", "takedown", "hashbank"})


class ItemError(Refusal):
    """A request the feed refuses."""


def publish(session: Session, new: FeedItemRequest, actor: str) -> FeedItem:
    """Adds the item in state `scoring` and its `content.published` event, in the caller's
    transaction. Publishing the same item id again is refused (`item_exists`)."""
    if session.get(FeedItem, new.item_id) is not None:
        raise ItemError(
            RefusalKind.conflict, "item_exists", f"item {new.item_id} was already published"
        )
    cameo_ids, parent = list(new.cameo_ids), None
    if new.remix_of is not None:
        parent = session.get(FeedItem, new.remix_of)
        if parent is None or parent.tenant != new.tenant:
            raise ItemError(
                RefusalKind.invalid, "unknown_parent", f"no item {new.remix_of} to remix"
            )
        # A remix uses what its parent used: the cameos' consent and restrictions follow.
        cameo_ids += [c for c in parent.cameo_ids or [] if c not in cameo_ids]
    now = utcnow()
    message = ContentPublished(
        item_id=new.item_id,
        media_location=new.media_location,
        caption=new.caption,
        author_id=new.author_id,
        author_age_group=new.author_age_group,  # type: ignore[arg-type]
        audience_age_group=new.audience_age_group,  # type: ignore[arg-type]
        cameo_ids=cameo_ids,
        provenance=ProvenanceSummary.model_validate(new.provenance),
        published_at=now,
        tenant=new.tenant,
        remix_of=new.remix_of,
    )
    item = FeedItem(
        id=new.item_id,
        tenant=new.tenant,
        author_id=new.author_id,
        author_age_group=new.author_age_group,
        audience_age_group=new.audience_age_group,
        caption=new.caption,
        media_location=new.media_location,
        cameo_ids=cameo_ids,
        parent_item_id=new.remix_of,
        provenance=message.provenance.model_dump(),
        views=0,
        state="scoring",
        state_source="publish",
        state_reasons=[],
        state_changed_at=now,
        created_at=now,
    )
    session.add(item)
    emit(session, CONTENT_PUBLISHED, new.item_id, message.model_dump(mode="json"))
    record(
        session,
        actor=actor,
        action="feed.publish",
        subject=f"item:{new.item_id}",
        reason="published to the feed",
        details={"author_id": new.author_id, "cameo_ids": cameo_ids, "remix_of": new.remix_of},
    )
    if parent is not None and parent.state_source == "takedown" and parent.state == "removed":
        # Taken down by the owner of what it remixes: so is every descendant, later ones too.
        apply_action(session, item.id, "remove", "takedown", list(parent.state_reasons))
    return item


class FeedItemActions:
    """The feed's items as the review area acts on them (the assembly hands this to it): a
    reviewer's decision changes the item in the reviewer's own transaction."""

    def apply(
        self, session: Session, item_id: str, action: str, source: str, reasons: list[str]
    ) -> bool:
        return apply_action(session, item_id, action, source, reasons)

    def tenant_of(self, session: Session, item_id: str) -> str:
        return tenant_of(session, item_id)


def tenant_of(session: Session, item_id: str) -> str:
    """The tenant of an item ("" for an item published elsewhere or in the default tenant)."""
    item = session.get(FeedItem, item_id)
    return item.tenant if item is not None else ""


def apply_action(
    session: Session, item_id: str, action: str, source: str, reasons: list[str]
) -> bool:
    """Sets the item's state from a decision. A reviewer's decision stands against later
    automatic ones, except a consent revocation (consent always wins). Returns whether the
    state changed; unknown items (published elsewhere) are skipped."""
    item = session.get(FeedItem, item_id)
    if item is None:
        return False
    if item.state_source in STICKY and source == "aggregator":
        return False
    if item.state_source == "takedown" and source != "takedown":
        return False  # an owner's takedown stands until a rights decision lifts it
    state = STATE_OF_ACTION[action]
    if item.state == state and item.state_reasons == reasons:
        return False
    item.state, item.state_source, item.state_reasons = state, source, reasons
    item.state_changed_at = utcnow()
    return True


def latest_scores(session: Session, item_id: str) -> dict[str, dict[str, Any]]:
    rows = session.scalars(
        select(FeedScore).where(FeedScore.item_id == item_id).order_by(FeedScore.id)
    ).all()
    return {
        row.classifier: {
            "version": row.version,
            "scores": row.scores,
            "evidence": row.evidence,
            "cameos_seen": row.cameos_seen or [],
        }
        for row in rows
    }


def review_snapshot(session: Session, item: FeedItem) -> dict[str, Any]:
    """What a reviewer needs beside the video: the item, every classifier's scores and
    evidence, the feed's latest decision and its policy version, the provenance summary."""
    decision = session.scalar(
        select(FeedDecision)
        .where(FeedDecision.item_id == item.id)
        .order_by(FeedDecision.decision_version.desc())
    )
    return {
        "item_id": item.id,
        "caption": item.caption,
        "media_location": item.media_location,
        "author_id": item.author_id,
        "author_age_group": item.author_age_group,
        "audience_age_group": item.audience_age_group,
        "cameo_ids": item.cameo_ids,
        "provenance": item.provenance,
        "scores": latest_scores(session, item.id),
        "feed_decision": None
        if decision is None
        else {
            "version": decision.decision_version,
            "action": decision.action,
            "reasons": decision.reasons,
            "risks": decision.risks,
            "policy": decision.policy,
        },
    }


class ItemView(BaseModel):
    """A feed item and its state, with who set it and why."""

    item_id: str
    author_id: str
    caption: str
    media_location: str
    cameo_ids: list[str]
    parent_item_id: str | None = None
    provenance: dict[str, Any]
    views: int
    state: Literal["scoring", "published", "age_restricted", "in_review", "removed"]
    state_source: str
    state_reasons: list[str]
    state_changed_at: Timestamp
    published_at: Timestamp


def item_view(item: FeedItem) -> ItemView:
    return ItemView(
        item_id=item.id,
        author_id=item.author_id,
        caption=item.caption,
        media_location=item.media_location,
        cameo_ids=item.cameo_ids,
        parent_item_id=item.parent_item_id,
        provenance=item.provenance,
        views=item.views,
        state=item.state,  # type: ignore[arg-type]
        state_source=item.state_source,
        state_reasons=item.state_reasons,
        state_changed_at=item.state_changed_at,
        published_at=item.created_at,
    )
