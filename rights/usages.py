"""Every use of a cameo, as its owner sees it: each generation that used it (drafts included),
each published item that declares it, inherits it from the item it remixes, or in which the
feed matched its face or voice, and every item derived from those. The owner takes any use down
at once: the item and all its descendants leave the feed (a `takedown` decision no automatic one
overrides), their media is no longer served, the generation is marked, and the takedown is
audited and announced (`likeness.takedown`)."""

from __future__ import annotations

import contextlib
import secrets
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard import media_store
from cameoguard.audit.log import record as audit
from cameoguard.contracts import LIKENESS_TAKEDOWN, LikenessTakedown
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.events import emit
from cameoguard.timestamps import Timestamp
from consumers.aggregator import record_decision
from consumers.feed_policy import feed_policy
from consumers.tables import FeedItem, FeedScore
from provenance.tables import ProvenanceRecord
from rights.lineage import descendants
from rights.tables import LikenessMatch, UsageTakedown
from safety.consent.cameos import Usages, owned
from safety.consent.cameos import usages as consent_usages
from safety.consent.tables import ConsentGrant

UsageState = Literal[
    "draft", "published", "scoring", "age_restricted", "in_review", "removed", "taken_down"
]


class Usage(BaseModel):
    usage: str = Field(description="item:<id> or generation:<id>, for the takedown route")
    kind: Literal["generation", "item"]
    made_by: str
    state: UsageState
    how: str = Field(description="declared, generated, matched, or remix of item:<id>")
    parent_item_id: str | None = None
    at: Timestamp


class CameoUsages(Usages):
    """The consent area's view (generations, misuse notices) and every use with its state."""

    uses: list[Usage]


class TakedownDone(BaseModel):
    takedown_id: str
    usage: str
    items: list[str] = Field(description="Every item removed: the use and its descendants")
    generations: list[str]
    already: bool = Field(description="The use had been taken down before: nothing changed")


class RightsError(Refusal):
    """A request the rights area refuses."""


def _generation_items(session: Session, generation_ids: set[str]) -> list[FeedItem]:
    if not generation_ids:
        return []
    return [
        item
        for item in session.scalars(select(FeedItem).order_by(FeedItem.created_at))
        if (item.provenance or {}).get("generation_id") in generation_ids
    ]


def _taken_down(session: Session, cameo_id: str) -> tuple[set[str], set[str]]:
    rows = session.scalars(select(UsageTakedown).where(UsageTakedown.cameo_id == cameo_id))
    items: set[str] = set()
    generations: set[str] = set()
    for row in rows:
        items.update(row.items)
        generations.update(row.generations)
    return items, generations


def cameo_uses(session: Session, cameo_id: str, tenant: str | None) -> list[Usage]:
    grants = session.scalars(
        select(ConsentGrant)
        .where(ConsentGrant.cameo_id == cameo_id, ConsentGrant.generation_id.is_not(None))
        .order_by(ConsentGrant.created_at)
    ).all()
    down_items, down_generations = _taken_down(session, cameo_id)
    generation_ids = {g.generation_id for g in grants if g.generation_id}
    generated_items = _generation_items(session, generation_ids)
    published = {(i.provenance or {}).get("generation_id") for i in generated_items}
    uses: list[Usage] = []
    for grant in grants:
        gid = grant.generation_id or ""
        if any(u.usage == f"generation:{gid}" for u in uses):
            continue
        state: UsageState = (
            "taken_down"
            if gid in down_generations
            else "published"
            if gid in published
            else "draft"
        )
        uses.append(
            Usage(
                usage=f"generation:{gid}",
                kind="generation",
                made_by=grant.requester_id,
                state=state,
                how="generated",
                at=grant.created_at,
            )
        )
    items: dict[str, tuple[FeedItem, str]] = {}
    records = set(
        session.scalars(
            select(ProvenanceRecord.generation_id).where(
                ProvenanceRecord.generation_id.in_(generation_ids or {""})
            )
        )
    )
    for item in session.scalars(select(FeedItem).order_by(FeedItem.created_at)):
        if tenant is not None and item.tenant != tenant:
            continue
        if cameo_id in (item.cameo_ids or []):
            how = f"remix of item:{item.parent_item_id}" if item.parent_item_id else "declared"
            items[item.id] = (item, how)
        elif (item.provenance or {}).get("generation_id") in records:
            items[item.id] = (item, "generated")
    # Matches of her likeness (the feed's check, a re-scan), less those she said are not her.
    match_states = dict(
        session.execute(
            select(LikenessMatch.item_id, LikenessMatch.state)
            .where(LikenessMatch.cameo_id == cameo_id)
            .order_by(LikenessMatch.created_at)
        ).all()
    )
    matched: list[tuple[str, list[str] | None]] = [
        (item_id, seen)
        for item_id, seen in session.execute(
            select(FeedScore.item_id, FeedScore.cameos_seen).order_by(FeedScore.id)
        )
    ]
    matched += [(i, [cameo_id]) for i, state in match_states.items() if state != "dismissed"]
    for item_id, seen in matched:
        if match_states.get(item_id) == "dismissed":
            continue
        if cameo_id in (seen or []) and item_id not in items:
            item = session.get(FeedItem, item_id)
            if item is not None and (tenant is None or item.tenant == tenant):
                items[item_id] = (item, "matched")
    for item_id in list(items):
        for child in descendants(session, item_id):
            items.setdefault(child.id, (child, f"remix of item:{child.parent_item_id}"))
    for item, how in items.values():
        uses.append(
            Usage(
                usage=f"item:{item.id}",
                kind="item",
                made_by=item.author_id,
                state="taken_down" if item.id in down_items else item.state,  # type: ignore[arg-type]
                how=how,
                parent_item_id=item.parent_item_id,
                at=item.created_at,
            )
        )
    return uses


def list_usages(cameo_id: str, owner_id: str, *, tenant: str | None) -> CameoUsages:
    base = consent_usages(cameo_id, owner_id, tenant=tenant)
    with session_scope() as session:
        return CameoUsages(**base.model_dump(), uses=cameo_uses(session, cameo_id, tenant))


def _done(row: UsageTakedown, already: bool) -> TakedownDone:
    return TakedownDone(
        takedown_id=row.id,
        usage=row.usage,
        items=row.items,
        generations=row.generations,
        already=already,
    )


def _withhold(location: str, reason: str) -> None:
    # Media published from elsewhere (not in our store): the feed's removal is what we own.
    with contextlib.suppress(media_store.MediaLocationError, FileNotFoundError):
        media_store.withhold(location, reason)


def take_down(
    cameo_id: str,
    owner_id: str,
    usage: str,
    actor: str,
    *,
    tenant: str | None,
    reason: str = "",
) -> TakedownDone:
    """Takes the use down at once, with every item derived from it; idempotent."""
    with session_scope(write=True) as session:
        owned(session, cameo_id, owner_id, tenant)
        uses = {u.usage: u for u in cameo_uses(session, cameo_id, tenant)}
        if usage not in uses:
            raise RightsError(
                RefusalKind.not_found, "unknown_usage", f"{usage} is not a use of this cameo"
            )
        previous = session.scalar(
            select(UsageTakedown).where(
                UsageTakedown.cameo_id == cameo_id, UsageTakedown.usage == usage
            )
        )
        if previous is not None:
            return _done(previous, already=True)
        kind, _, ref = usage.partition(":")
        generations = {ref} if kind == "generation" else set()
        roots = (
            _generation_items(session, generations)
            if kind == "generation"
            else [session.get(FeedItem, ref)]
        )
        items: list[FeedItem] = []
        for root in roots:
            if root is None:
                continue
            for item in [root, *descendants(session, root.id)]:
                if item not in items:
                    items.append(item)
                    if (gid := (item.provenance or {}).get("generation_id")) is not None:
                        generations.add(gid)
        why = reason or f"taken down by the owner of cameo {cameo_id}"
        policy_ref = feed_policy().ref
        for item in items:
            record_decision(
                session,
                policy_ref,
                item.id,
                "remove",
                [why],
                {"takedown": [cameo_id, usage]},
                source="takedown",
            )
            _withhold(item.media_location, why)
        outputs = session.scalars(
            select(ProvenanceRecord.sha256).where(
                ProvenanceRecord.generation_id.in_(generations or {""})
            )
        )
        for sha256 in outputs:  # the store is content-addressed: the output's location
            _withhold(f"sha256/{sha256[:2]}/{sha256}.mp4", why)
        row = UsageTakedown(
            id=f"tkd_{secrets.token_hex(8)}",
            tenant=tenant or "",
            cameo_id=cameo_id,
            usage=usage,
            owner_id=owner_id,
            actor=actor,
            reason=why,
            items=[i.id for i in items],
            generations=sorted(generations),
        )
        session.add(row)
        audit(
            session,
            actor=actor,
            action="likeness.takedown",
            subject=usage,
            reason=why,
            details={"cameo_id": cameo_id, "items": row.items, "generations": row.generations},
        )
        event = LikenessTakedown(
            cameo_id=cameo_id,
            usage=usage,
            items=row.items,
            generations=row.generations,
            by=owner_id,
            reason=why,
            tenant=tenant or "",
            at=utcnow(),
        )
        emit(session, LIKENESS_TAKEDOWN, cameo_id, event.model_dump(mode="json"))
        return _done(row, already=False)
