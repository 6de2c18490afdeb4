"""Likeness matches: an enrolled cameo's (or a protected person's) face or voice found in a
published item without a consent record, kept as a case its owner acts on, like a creator's
likeness-detection dashboard.

Found two ways: the feed's likeness check of every published item (the deepfake signal's face
and voice evidence, read from `content.scores` by `record_feed_matches`), and the re-scan of
recent items after a new enrollment (rights.rescan). One match per item and identity: a
replayed score or a second scan changes nothing, and a dismissed pair stays dismissed.

A cameo's owner is told of each new match (by her notification preference) and decides:
- confirm (it is her): the item is taken down at once as her usage takedown is (the item and
  every item derived from it leave the feed, their media is withheld, `likeness.takedown`).
  Taken down rather than sent to review because the person in the video said so and no consent
  is on record: the same word that takes down any use of her cameo; a reviewer can still hear
  the author's appeal.
- dismiss (not her): recorded and audited; the pair is never raised again.
A protected person has no owner here: a match the feed made is already decided by the feed's
policy (review or removal), and one a re-scan made sends the item to review."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.contracts import (
    CONTENT_SCORES,
    LIKENESS_MATCHES,
    ContentScores,
    LikenessMatchChanged,
    Message,
    Reaction,
)
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.events import emit
from cameoguard.timestamps import Timestamp
from consumers.aggregator import record_decision
from consumers.feed_policy import feed_policy
from consumers.tables import FeedItem
from rights import notify
from rights.tables import LikenessMatch
from rights.usages import TakedownDone, take_down
from safety.consent.cameos import owned
from safety.consent.tables import Cameo, ProtectedPerson
from safety.review.tables import ReviewCase

State = Literal["open", "confirmed", "dismissed"]
CONSENTED = frozenset({"owner", "granted", "on record"})
SCANNER = "system:likeness-scan"


@dataclass(frozen=True)
class Found:
    """One identity seen in an item: `identity` is `cameo:<id>` or `protected:<id>`."""

    identity: str
    modality: Literal["face", "voice"]
    score: float
    threshold: float
    time: float
    consent: str

    @property
    def kind(self) -> str:
        return self.identity.partition(":")[0]

    @property
    def ref(self) -> str:
        return self.identity.partition(":")[2]


class MatchView(BaseModel):
    match_id: str
    item_id: str
    cameo_id: str | None
    modality: Literal["face", "voice"]
    score: float
    threshold: float
    media_time: float = Field(description="Seconds into the media where the face was seen")
    consent: str = Field(description="What the consent check found for the item's author")
    found_by: Literal["feed", "rescan"]
    state: State
    made_by: str | None = Field(description="The item's author")
    item_state: str | None
    decided_by: str | None
    decided_at: Timestamp | None
    decision_reason: str
    takedown_id: str | None
    found_at: Timestamp


class MatchDecided(BaseModel):
    match: MatchView
    already: bool = Field(description="The match had been decided so before: nothing changed")
    takedown: TakedownDone | None = None


class MatchError(Refusal):
    """A match decision the rights area refuses."""


def _view(session: Session, row: LikenessMatch) -> MatchView:
    item = session.get(FeedItem, row.item_id)
    return MatchView(
        match_id=row.id,
        item_id=row.item_id,
        cameo_id=row.cameo_id,
        modality=row.modality,  # type: ignore[arg-type]
        score=row.score,
        threshold=row.threshold,
        media_time=row.media_time,
        consent=row.consent,
        found_by=row.found_by,  # type: ignore[arg-type]
        state=row.state,  # type: ignore[arg-type]
        made_by=item.author_id if item is not None else None,
        item_state=item.state if item is not None else None,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        takedown_id=row.takedown_id,
        found_at=row.created_at,
    )


def _announce(session: Session, row: LikenessMatch, by: str) -> None:
    event = LikenessMatchChanged(
        match_id=row.id,
        item_id=row.item_id,
        cameo_id=row.cameo_id,
        protected_person_id=row.protected_person_id,
        owner_id=row.owner_id,
        modality=row.modality,  # type: ignore[arg-type]
        score=row.score,
        threshold=row.threshold,
        state=row.state,  # type: ignore[arg-type]
        found_by=row.found_by,  # type: ignore[arg-type]
        by=by,
        tenant=row.tenant,
        at=utcnow(),
    )
    emit(session, LIKENESS_MATCHES, row.item_id, event.model_dump(mode="json"))


def _send_to_review(session: Session, row: LikenessMatch, person: ProtectedPerson) -> str | None:
    """A protected person found by a re-scan in an item the feed had passed: the item is held
    for a reviewer (the feed's own answer to a protected likeness without a licence)."""
    reason = (
        f"a re-scan found protected person {person.name}'s {row.modality} "
        f"({row.score:.3f} >= {row.threshold:.3f}) without a licence"
    )
    record_decision(
        session,
        feed_policy().ref,
        row.item_id,
        "review",
        [reason],
        {"likeness_match": row.id},
        source="rescan",
        priority=1,
        signals=["deepfake"],
    )
    session.flush()
    return session.scalar(select(ReviewCase.id).where(ReviewCase.open_key == f"item:{row.item_id}"))


def open_match(
    session: Session, item: FeedItem, found: Found, found_by: Literal["feed", "rescan"]
) -> LikenessMatch | None:
    """Records the match (once per item and identity), announces it, tells the cameo's owner,
    and for a protected person found by a re-scan sends the item to review; in the caller's
    transaction. None when the pair was seen before (open, confirmed or dismissed), when the
    identity is unknown, or when the cameo belongs to another tenant than the item (its owner
    may not see that tenant's items)."""
    known = session.scalar(
        select(LikenessMatch.id).where(
            LikenessMatch.item_id == item.id, LikenessMatch.identity == found.identity
        )
    )
    if known is not None or found.consent in CONSENTED:
        return None
    cameo = session.get(Cameo, found.ref) if found.kind == "cameo" else None
    person = session.get(ProtectedPerson, found.ref) if found.kind == "protected" else None
    if (cameo is None and person is None) or (cameo is not None and cameo.tenant != item.tenant):
        return None
    row = LikenessMatch(
        id=f"lkm_{secrets.token_hex(8)}",
        tenant=item.tenant,
        item_id=item.id,
        identity=found.identity,
        cameo_id=cameo.id if cameo is not None else None,
        protected_person_id=person.id if person is not None else None,
        owner_id=cameo.owner_id if cameo is not None else None,
        modality=found.modality,
        score=round(found.score, 4),
        threshold=round(found.threshold, 4),
        media_time=round(found.time, 2),
        consent=found.consent,
        found_by=found_by,
        state="open",
        decision_reason="",
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None  # another worker recorded the pair a moment ago
    audit(
        session,
        actor=SCANNER,
        action="likeness.match",
        subject=f"item:{item.id}",
        reason=f"{found.modality} {found.score:.3f} >= {found.threshold:.3f} without consent "
        f"({found.consent}), found by the {found_by}",
        details={
            "match_id": row.id,
            "cameo_id": row.cameo_id,
            "protected_person_id": row.protected_person_id,
        },
    )
    _announce(session, row, SCANNER)
    if cameo is not None:
        usage = f"match:{row.id}"
        notify.notify_use(session, cameo.id, usage, item.author_id, "match", item.tenant)
    elif person is not None and found_by == "rescan" and item.state != "removed":
        row.case_id = _send_to_review(session, row, person)
    return row


def found_in_evidence(evidence: list[dict]) -> list[Found]:
    """The identities a signal's face and voice evidence matched without consent: the best
    sighting of each (a face before a voice)."""
    best: dict[str, Found] = {}
    for e in evidence:
        ref, consent = e.get("match"), e.get("consent")
        if e.get("kind") not in ("face", "voice") or not ref or consent is None:
            continue
        kind, _, ident = str(ref).partition(":")
        if kind not in ("cameo", "protected") or not ident or ident == "another-tenant":
            continue
        found = Found(
            identity=f"{kind}:{ident}",
            modality=e["kind"],
            score=float(e.get("score") or 0.0),
            threshold=float(e.get("threshold") or 0.0),
            time=float(e.get("time") or 0.0),
            consent=str(consent),
        )
        held = best.get(found.identity)
        if held is None or (held.modality, -held.score) > (found.modality, -found.score):
            best[found.identity] = found  # "face" < "voice": a face sighting wins
    return [f for f in best.values() if f.consent not in CONSENTED]


def record_feed_matches(message: ContentScores) -> list[str]:
    """The feed scored an item: every identity its likeness check saw without consent becomes a
    match (the reaction to `content.scores`; idempotent). Returns the new matches' ids."""
    found = found_in_evidence(message.evidence)
    if not found:
        return []
    with session_scope(write=True) as session:
        item = session.get(FeedItem, message.item_id)
        if item is None:
            return []  # an item published elsewhere: the platform acts on content.decisions
        made = [open_match(session, item, f, "feed") for f in found]
        return [row.id for row in made if row is not None]


def list_matches(
    cameo_id: str, owner_id: str, *, tenant: str | None, state: State | None = None
) -> list[MatchView]:
    """The owner's matches of her cameo, newest first."""
    with session_scope() as session:
        owned(session, cameo_id, owner_id, tenant)
        query = select(LikenessMatch).where(LikenessMatch.cameo_id == cameo_id)
        if state is not None:
            query = query.where(LikenessMatch.state == state)
        rows = session.scalars(query.order_by(LikenessMatch.created_at.desc(), LikenessMatch.id))
        return [_view(session, row) for row in rows]


def _owned_match(
    session: Session, cameo_id: str, match_id: str, owner_id: str, tenant: str | None
) -> LikenessMatch:
    """The owner's match of her cameo; unknown to anyone else (another owner, another tenant)."""
    owned(session, cameo_id, owner_id, tenant)
    row = session.get(LikenessMatch, match_id)
    if row is None or row.cameo_id != cameo_id:
        raise MatchError(RefusalKind.not_found, "unknown_match", f"no match {match_id} here")
    return row


def _decide(
    session: Session, row: LikenessMatch, state: State, owner_id: str, actor: str, reason: str
) -> None:
    row.state, row.decided_by, row.decided_at = state, owner_id, utcnow()
    row.decision_reason = reason
    audit(
        session,
        actor=actor,
        action=f"likeness.match.{state}",
        subject=f"item:{row.item_id}",
        reason=reason,
        details={"match_id": row.id, "cameo_id": row.cameo_id, "owner_id": owner_id},
    )
    _announce(session, row, owner_id)


def confirm(
    cameo_id: str, match_id: str, owner_id: str, actor: str, *, tenant: str | None, reason: str = ""
) -> MatchDecided:
    """It is her: the item (and every item derived from it) is taken down as her usage
    takedown is. Confirming again changes nothing; a dismissed match cannot be confirmed."""
    with session_scope() as session:
        row = _owned_match(session, cameo_id, match_id, owner_id, tenant)
        if row.state == "dismissed":
            raise MatchError(RefusalKind.conflict, "match_decided", "the match was dismissed")
        item_id = row.item_id
    why = reason or f"the owner of cameo {cameo_id} confirmed it is her likeness ({match_id})"
    # Idempotent: a confirm that failed after the takedown finds it on the next attempt.
    done = take_down(cameo_id, owner_id, f"item:{item_id}", actor, tenant=tenant, reason=why)
    with session_scope(write=True) as session:
        row = _owned_match(session, cameo_id, match_id, owner_id, tenant)
        already = row.state == "confirmed"
        if row.state == "dismissed":
            raise MatchError(RefusalKind.conflict, "match_decided", "the match was dismissed")
        if not already:
            row.takedown_id = done.takedown_id
            _decide(session, row, "confirmed", owner_id, actor, why)
        session.flush()
        return MatchDecided(match=_view(session, row), already=already, takedown=done)


def dismiss(
    cameo_id: str, match_id: str, owner_id: str, actor: str, *, tenant: str | None, reason: str = ""
) -> MatchDecided:
    """Not her: recorded, and the item and cameo pair is not raised again by any scan. The
    item's feed state is left to the feed (its other signals and reviewers)."""
    with session_scope(write=True) as session:
        row = _owned_match(session, cameo_id, match_id, owner_id, tenant)
        if row.state == "confirmed":
            raise MatchError(RefusalKind.conflict, "match_decided", "the match was confirmed")
        already = row.state == "dismissed"
        if not already:
            why = reason or f"the owner of cameo {cameo_id} says it is not her"
            _decide(session, row, "dismissed", owner_id, actor, why)
        session.flush()
        return MatchDecided(match=_view(session, row), already=already)


def reactions() -> list[Reaction]:
    def open_matches(message: Message) -> None:
        assert isinstance(message, ContentScores)
        record_feed_matches(message)

    return [Reaction("rights.open_likeness_matches", CONTENT_SCORES, open_matches)]
