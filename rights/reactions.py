"""The rights area's reactions to the feed and the generator (its owners' notices of published
items are in rights.notify):

- the hash-bank signal's scores of an item: keep its frame fingerprints and link the earlier
  item they match as its remix parent (rights.lineage), then escalate a child-safety bank match
  (rights.hashes);
- a generation that finished without being published (a draft): its cameos' owners are told
  of the use, as they are of published items (by their preference)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from cameoguard.contracts import (
    CONTENT_SCORES,
    GENERATION_STATE,
    ContentScores,
    GenerationStateChanged,
    Message,
    Reaction,
)
from cameoguard.db import session_scope
from consumers.signals.hashbank import BANK_MATCH, FINGERPRINT, HashBankSignal
from consumers.tables import FeedItem
from provenance.banks import BankMatch
from rights.hashes import escalate_feed_match
from rights.lineage import FoundParent, link_by_fingerprint
from rights.notify import notify_use
from safety.consent.tables import ConsentGrant

log = logging.getLogger("cameoguard.rights")
ACTOR = "system:rights"


def _hashbank_scores(message: Message) -> ContentScores | None:
    assert isinstance(message, ContentScores)
    return message if message.classifier == HashBankSignal.name else None


def link_remix_by_fingerprint(message: Message) -> list[FoundParent]:
    scores = _hashbank_scores(message)
    if scores is None:
        return []
    kept = next((e for e in scores.evidence if e.get("kind") == FINGERPRINT), None)
    if kept is None:
        return []
    hashes, mirrored = list(kept.get("hashes") or []), list(kept.get("mirrored") or [])
    with session_scope(write=True) as session:
        linked = link_by_fingerprint(session, scores.item_id, hashes, mirrored)
    for found in linked:
        log.info("remix parent found by fingerprint", extra=found.__dict__)
    return linked


def escalate_child_safety_match(message: Message) -> dict[str, str] | None:
    scores = _hashbank_scores(message)
    if scores is None or not scores.scores.get("child_safety_matches"):
        return None
    matches = [
        BankMatch(
            bank=e["bank"],
            signal_type=e["signal_type"],
            value=e["value"],
            distance=int(e["distance"]),
            matched_frames=int(e["matched_frames"]),
            frames=int(e["frames"]),
            mirrored=bool(e["mirrored"]),
            action=e["action"],
            child_safety=bool(e["child_safety"]),
            suppressed_by=e.get("suppressed_by"),
        )
        for e in scores.evidence
        if e.get("kind") == BANK_MATCH and not e.get("negative")
    ]
    return escalate_feed_match(scores.item_id, matches, ACTOR)


def tell_owners_of_draft(message: Message) -> int:
    """A finished generation that no feed item carries is a draft: each cameo it used (by the
    grants it holds) is a use its owner hears of, once (a replay tells nobody twice)."""
    assert isinstance(message, GenerationStateChanged)
    if message.state != "done":
        return 0
    usage = f"generation:{message.generation_id}"
    with session_scope(write=True) as session:
        if session.get(FeedItem, message.generation_id) is not None:
            return 0  # published: its item's owners are told as the item is published
        cameo_ids = session.scalars(
            select(ConsentGrant.cameo_id)
            .where(
                ConsentGrant.generation_id == message.generation_id,
                ConsentGrant.decision == "allow",
            )
            .distinct()
        ).all()
        return sum(
            notify_use(session, cameo_id, usage, message.requester_id, "draft", message.tenant)
            for cameo_id in sorted(cameo_ids)
        )


def reactions() -> list[Reaction]:
    return [
        Reaction("rights.link_remix_by_fingerprint", CONTENT_SCORES, link_remix_by_fingerprint),
        Reaction("rights.escalate_child_safety_match", CONTENT_SCORES, escalate_child_safety_match),
        Reaction("rights.tell_cameo_owners_of_drafts", GENERATION_STATE, tell_owners_of_draft),
    ]
