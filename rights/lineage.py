"""Remix lineage: an item's parent (declared by the platform at publish, or found by a
fingerprint match of its frames), its ancestors and every descendant. A remix inherits its
parent's cameos at publish (consumers.items.publish), so the cameos' consent, restrictions and
revocations reach it; a takedown of an item reaches every descendant (rights.usages)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.tables import FeedItem
from rights.tables import LineageLink

MAX_DEPTH = 50  # remix chains longer than this are not followed (a cycle cannot form anyway)


class LineageNode(BaseModel):
    item_id: str
    parent_item_id: str | None
    author_id: str
    state: str
    cameo_ids: list[str]
    found_by: Literal["platform", "fingerprint", "root"]


class Lineage(BaseModel):
    item_id: str
    ancestors: list[LineageNode]  # parent first, the original last
    descendants: list[LineageNode]  # breadth first


def _found_by(session: Session, item: FeedItem) -> Literal["platform", "fingerprint", "root"]:
    if item.parent_item_id is None:
        return "root"
    return "fingerprint" if session.get(LineageLink, item.id) is not None else "platform"


def node(session: Session, item: FeedItem) -> LineageNode:
    return LineageNode(
        item_id=item.id,
        parent_item_id=item.parent_item_id,
        author_id=item.author_id,
        state=item.state,
        cameo_ids=list(item.cameo_ids or []),
        found_by=_found_by(session, item),
    )


def descendants(session: Session, item_id: str) -> list[FeedItem]:
    """Every item derived from `item_id`, breadth first."""
    found: list[FeedItem] = []
    frontier, seen = [item_id], {item_id}
    for _ in range(MAX_DEPTH):
        if not frontier:
            break
        children = session.scalars(
            select(FeedItem).where(FeedItem.parent_item_id.in_(frontier)).order_by(FeedItem.id)
        ).all()
        frontier = [c.id for c in children if c.id not in seen]
        seen.update(frontier)
        found += [c for c in children if c.id in frontier]
    return found


def ancestors(session: Session, item: FeedItem) -> list[FeedItem]:
    chain: list[FeedItem] = []
    current = item
    for _ in range(MAX_DEPTH):
        if current.parent_item_id is None:
            break
        parent = session.get(FeedItem, current.parent_item_id)
        if parent is None or parent in chain:
            break
        chain.append(parent)
        current = parent
    return chain


def lineage(session: Session, item: FeedItem) -> Lineage:
    return Lineage(
        item_id=item.id,
        ancestors=[node(session, a) for a in ancestors(session, item)],
        descendants=[node(session, d) for d in descendants(session, item.id)],
    )


def link_found_parent(
    session: Session, item: FeedItem, parent: FeedItem, matched: int, frames: int
) -> bool:
    """Records a parent found by fingerprint for an item published without one; the parent's
    cameos follow to it (and, if the parent was taken down, the takedown). False when the item
    already has a parent or the link would make a cycle."""
    if item.parent_item_id is not None or item.id == parent.id:
        return False
    if any(a.id == item.id for a in ancestors(session, parent)):
        return False
    item.parent_item_id = parent.id
    item.cameo_ids = list(item.cameo_ids or []) + [
        c for c in parent.cameo_ids or [] if c not in (item.cameo_ids or [])
    ]
    session.add(
        LineageLink(
            item_id=item.id,
            parent_item_id=parent.id,
            found_by="fingerprint",
            matched_frames=matched,
            frames=frames,
        )
    )
    return True
