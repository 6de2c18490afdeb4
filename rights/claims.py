"""Likeness claims: an estate of a deceased public figure, an authorised representative, or the
person themselves claims a likeness with evidence and a policy (`opt_out`: nobody may generate
this face, voice or name; `opt_in`: only the accounts the claimant licenses). A claim is
pending until a reviewer holding the `rights` role accepts or rejects it: nothing takes effect
unverified. Accepting adds the person's face and voice to the protected bank (which suspends
existing cameos of that face, each with a case), their names to the prompt gate's named people
(every language the normaliser folds), and re-scans recent published items."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select, update

from cameoguard import media_store
from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.timestamps import Timestamp
from rights.tables import LikenessClaim
from safety.consent.models import LikenessModels
from safety.consent.protected import SuspendedCameo, add_protected_person
from safety.policy.named_people import add_names

Role = Literal["estate", "agent", "person"]
ClaimPolicy = Literal["opt_out", "opt_in"]


class ClaimRequest(BaseModel):
    person_name: str = Field(min_length=2, max_length=200)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    deceased: bool = False
    claimant_id: str = Field(min_length=1, max_length=200)
    claimant_role: Role
    evidence: str = Field(min_length=10, max_length=10_000)
    policy: ClaimPolicy
    licensed_user_ids: list[str] = Field(default_factory=list, max_length=1000)


class ClaimView(BaseModel):
    id: str
    person_name: str
    aliases: list[str]
    deceased: bool
    claimant_id: str
    claimant_role: str
    evidence: str
    policy: str
    licensed_user_ids: list[str]
    media: int = Field(description="Photos and clips submitted")
    status: Literal["pending", "deciding", "accepted", "rejected"] = Field(
        description="deciding: a rights reviewer's decision is being applied"
    )
    reviewer: str | None
    decision_reason: str | None
    protected_person_id: str | None
    suspended_cameos: list[SuspendedCameo] = Field(default_factory=list)
    names_added: list[str] = Field(default_factory=list)
    created_at: Timestamp
    decided_at: Timestamp | None


class ClaimError(Refusal):
    """A claim or a decision the rights area refuses."""


def view(claim: LikenessClaim) -> ClaimView:
    effects = claim.effects or {}
    return ClaimView(
        id=claim.id,
        person_name=claim.person_name,
        aliases=list(claim.aliases or []),
        deceased=claim.deceased,
        claimant_id=claim.claimant_id,
        claimant_role=claim.claimant_role,
        evidence=claim.evidence,
        policy=claim.policy,
        licensed_user_ids=list(claim.licensed_user_ids or []),
        media=len(claim.media_locations or []),
        status=claim.status,  # type: ignore[arg-type]
        reviewer=claim.reviewer,
        decision_reason=claim.decision_reason,
        protected_person_id=claim.protected_person_id,
        suspended_cameos=[SuspendedCameo(**s) for s in effects.get("suspended", [])],
        names_added=list(effects.get("names_added", [])),
        created_at=claim.created_at,
        decided_at=claim.decided_at,
    )


def submit(request: ClaimRequest, media: list[Path], actor: str, *, tenant: str) -> ClaimView:
    """Stores the claim as pending, with its photos and voice clips in the media store."""
    if not media:
        raise ClaimError(
            RefusalKind.invalid, "no_media", "a claim needs photos and/or voice clips of the person"
        )
    if request.policy == "opt_out" and request.licensed_user_ids:
        raise ClaimError(
            RefusalKind.invalid, "licence_on_opt_out", "an opt-out claim licenses nobody"
        )
    locations = [media_store.put(p, p.suffix.lower() or ".bin") for p in media]
    with session_scope(write=True) as session:
        claim = LikenessClaim(
            id=f"clm_{secrets.token_hex(8)}",
            tenant=tenant,
            person_name=request.person_name.strip(),
            aliases=[a.strip() for a in request.aliases if a.strip()],
            deceased=request.deceased,
            claimant_id=request.claimant_id,
            claimant_role=request.claimant_role,
            evidence=request.evidence,
            policy=request.policy,
            licensed_user_ids=sorted(set(request.licensed_user_ids)),
            media_locations=locations,
            status="pending",
            effects={},
        )
        session.add(claim)
        audit(
            session,
            actor=actor,
            action="likeness.claim",
            subject=claim.id,
            reason=f"{request.claimant_role} claims {request.person_name} ({request.policy})",
        )
        session.flush()
        return view(claim)


def list_claims(status: str | None) -> list[ClaimView]:
    query = select(LikenessClaim).order_by(LikenessClaim.created_at)
    if status is not None:
        query = query.where(LikenessClaim.status == status)
    with session_scope() as session:
        return [view(c) for c in session.scalars(query)]


def get_claim(claim_id: str) -> ClaimView:
    with session_scope() as session:
        claim = session.get(LikenessClaim, claim_id)
        if claim is None:
            raise ClaimError(RefusalKind.not_found, "unknown_claim", f"no claim {claim_id}")
        return view(claim)


def _take(claim_id: str, reviewer: str, accept: bool, models: LikenessModels | None) -> None:
    """Moves the claim from `pending` to `deciding` for this reviewer in one conditional update,
    so of two decisions at once exactly one goes on; the other is refused (`claim_decided`)."""
    with session_scope(write=True) as session:
        claim = session.get(LikenessClaim, claim_id)
        if claim is None:
            raise ClaimError(RefusalKind.not_found, "unknown_claim", f"no claim {claim_id}")
        if claim.claimant_id == reviewer:
            raise ClaimError(
                RefusalKind.forbidden, "own_claim", "a reviewer does not decide their own claim"
            )
        if accept and models is None:
            raise ClaimError(
                RefusalKind.unavailable, "model_unavailable", "face/voice models are not loaded"
            )
        taken = session.execute(
            update(LikenessClaim)
            .where(LikenessClaim.id == claim_id, LikenessClaim.status == "pending")
            .values(status="deciding", reviewer=reviewer)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            session.expire(claim)
            raise ClaimError(
                RefusalKind.conflict,
                "claim_decided",
                f"the claim is {claim.status} (by {claim.reviewer})",
            )


def _give_back(claim_id: str, reviewer: str) -> None:
    """A decision that failed before it took effect: the claim is pending again."""
    with session_scope(write=True) as session:
        session.execute(
            update(LikenessClaim)
            .where(
                LikenessClaim.id == claim_id,
                LikenessClaim.status == "deciding",
                LikenessClaim.reviewer == reviewer,
            )
            .values(status="pending", reviewer=None)
        )


def decide(
    claim_id: str,
    accept: bool,
    reason: str,
    reviewer: str,
    reviewer_roles: frozenset[str] | set[str],
    models: LikenessModels | None,
) -> ClaimView:
    """A `rights` reviewer's decision. Accepting applies the claim (protected bank with the
    cameo re-check, the prompt gate's names); a claim is decided once: the reviewer first takes
    it (pending -> deciding, atomically), so two decisions at once cannot both apply it; a
    decision that fails on the way gives the claim back (pending)."""
    if "rights" not in reviewer_roles:
        raise ClaimError(
            RefusalKind.forbidden, "role_required", "deciding a claim needs the rights role"
        )
    _take(claim_id, reviewer, accept, models)
    try:
        return _apply(claim_id, accept, reason, reviewer, models)
    except BaseException:
        _give_back(claim_id, reviewer)
        raise


def _apply(
    claim_id: str, accept: bool, reason: str, reviewer: str, models: LikenessModels | None
) -> ClaimView:
    with session_scope() as session:
        claim = session.get(LikenessClaim, claim_id)
        assert claim is not None
        locations = list(claim.media_locations or [])
        name, aliases = claim.person_name, list(claim.aliases or [])
        licensed = list(claim.licensed_user_ids or []) if claim.policy == "opt_in" else []
    effects: dict = {}
    person_id = None
    if accept:
        assert models is not None  # checked as the claim was taken
        paths = [media_store.resolve(loc) for loc in locations]
        added = add_protected_person(
            name,
            f"likeness claim {claim_id}",
            models,
            paths,
            actor=reviewer,
            source=f"claim:{claim_id}",
            licensed_user_ids=licensed,
        )
        person_id = added.id
        effects["suspended"] = [s.model_dump() for s in added.suspended]
    with session_scope(write=True) as session:
        claim = session.get(LikenessClaim, claim_id)
        assert claim is not None and claim.status == "deciding" and claim.reviewer == reviewer
        if accept:
            effects["names_added"] = add_names(session, [name, *aliases], f"claim:{claim_id}")
        claim.status = "accepted" if accept else "rejected"
        claim.decision_reason = reason
        claim.protected_person_id, claim.effects = person_id, effects
        claim.decided_at = utcnow()
        audit(
            session,
            actor=reviewer,
            action=f"likeness.claim.{claim.status}",
            subject=claim_id,
            reason=reason,
            details={
                "protected_person": person_id,
                "suspended": [s["cameo_id"] for s in effects.get("suspended", [])],
            },
        )
        session.flush()
        return view(claim)
