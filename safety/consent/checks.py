"""Consent checks: may this requester use these cameos for this prompt? Each answer is a
recorded grant the generator asks about again before it releases anything, and attaches to the
generation it made."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope
from safety.consent import permissions as perms
from safety.consent.cameos import in_tenant
from safety.consent.errors import RefusalKind, fail, new_id
from safety.consent.models import restriction_embedder
from safety.consent.tables import Cameo, ConsentGrant
from safety.models.text_embedder import ModelUnavailable
from safety.policy.engine import CheckContext, Decision, PolicyEngine


@dataclass
class ConsentRequest:
    requester_id: str
    cameo_ids: list[str]
    prompt: str
    requester_age_group: str = "adult"
    mutual_owner_ids: list[str] = field(default_factory=list)
    tenant: str | None = ""  # None: any tenant's cameos (the operator's own checks)


class CameoConsent(BaseModel):
    """The answer for one cameo, with the recorded grant (allow or block) and why."""

    model_config = ConfigDict(extra="allow")

    cameo_id: str
    decision: Literal["allow", "block"]
    reason: str
    grant_id: str | None = None
    cameo_version: int | None = None


class ConsentDecision(BaseModel):
    decision: Literal["allow", "block"]
    reason: str
    cameos: list[CameoConsent]
    policy: dict[str, str]

    @property
    def grant_ids(self) -> list[str]:
        return [c.grant_id for c in self.cameos if c.grant_id]


def check_consent(request: ConsentRequest, engine: PolicyEngine, actor: str) -> ConsentDecision:
    """Whether every cameo's owner allows this requester and prompt (permissions, a minor
    owner's stricter thresholds, the owner's restrictions); each answer is recorded as a grant
    and the check is audited. `engine` is the prompt policy the caller runs."""
    cameo_ids = list(dict.fromkeys(request.cameo_ids))
    if not cameo_ids:
        raise fail(RefusalKind.invalid, "cameo_ids is empty")
    with session_scope() as session:
        rows = {  # another tenant's cameos do not exist for this requester
            c.id: c
            for c in session.scalars(select(Cameo).where(Cameo.id.in_(cameo_ids)))
            if in_tenant(c, request.tenant)
        }
        snapshot = {cid: (c.version, c.status) for cid, c in rows.items()}

    # Model work, outside any transaction.
    restrictions = sorted({r for c in rows.values() for r in (c.restrictions or [])})
    anchors = {r: perms.anchor_texts(r) for r in restrictions}
    texts = [request.prompt, *(a for r in restrictions for a in anchors[r])]
    try:
        vectors = restriction_embedder().encode(texts)
    except ModelUnavailable as exc:
        raise fail(
            RefusalKind.unavailable,
            f"text model unavailable ({exc}); nothing can be allowed",
            "model_unavailable",
        ) from exc
    prompt_vector, topic_vector, at = vectors[0], {}, 1
    for r in restrictions:
        topic_vector[r] = vectors[at : at + len(anchors[r])]
        at += len(anchors[r])
    age_group = "teen" if request.requester_age_group == "teen" else "adult"
    context = CheckContext(age_group=age_group, uses_cameo=True, requester_id=request.requester_id)
    policy = engine.check(request.prompt, context)
    minor_policy = None
    if any(c.owner_is_minor for c in rows.values()):
        minor_policy = engine.check(request.prompt, CheckContext(age_group="teen", uses_cameo=True))
    scores = {name: r.score for name, r in policy.categories.items()}

    results: list[dict[str, Any]] = []
    prompt_hash = hashlib.sha256(request.prompt.encode()).hexdigest()
    with session_scope(write=True) as session:
        for cid in cameo_ids:
            cameo = session.get(Cameo, cid) if cid in rows else None
            decision, reason, details = _decide_one(
                cameo, request, snapshot.get(cid), prompt_vector, topic_vector, scores, minor_policy
            )
            result: dict[str, Any] = {"cameo_id": cid, "decision": decision, "reason": reason}
            if cameo is not None:
                grant = ConsentGrant(
                    id=new_id("grt"),
                    cameo_id=cid,
                    cameo_version=cameo.version,
                    requester_id=request.requester_id,
                    decision=decision,
                    reason=reason,
                    prompt_sha256=prompt_hash,
                    details=details,
                )
                session.add(grant)
                result |= {"grant_id": grant.id, "cameo_version": cameo.version, **details}
            results.append(result)
        overall = "allow" if all(r["decision"] == "allow" for r in results) else "block"
        session.flush()
        audit(
            session,
            actor=actor,
            action="consent.check",
            # Only ids that name real cameos become the subject: a caller's made-up ids must
            # not file entries under someone else's subject (they stay in the details).
            subject=",".join(cid for cid in cameo_ids if cid in rows) or "cameo:unknown",
            reason=f"{overall} for {request.requester_id}",
            details={"results": results, "prompt_sha256": prompt_hash},
        )
    blocked = [r for r in results if r["decision"] != "allow"]
    return ConsentDecision(
        decision=overall,  # type: ignore[arg-type]
        reason="; ".join(f"{r['cameo_id']}: {r['reason']}" for r in blocked)
        or "every cameo's owner allows this requester and prompt",
        cameos=[CameoConsent(**r) for r in results],
        policy={"pack": policy.pack, "model": policy.model},
    )


def _decide_one(
    cameo: Cameo | None,
    request: ConsentRequest,
    snapshot: tuple[int, str] | None,
    prompt_vector: np.ndarray,
    topic_vector: dict[str, np.ndarray],
    scores: dict[str, float],
    minor_policy: Decision | None,
) -> tuple[str, str, dict[str, Any]]:
    if cameo is None:
        return "block", "unknown cameo", {}
    if snapshot != (cameo.version, cameo.status):
        return "block", "the cameo's consent changed during the check; ask again", {}
    if cameo.status != "active":
        return "block", f"the cameo is {cameo.status}", {}
    access = perms.who_may_use(
        owner_id=cameo.owner_id,
        owner_is_minor=cameo.owner_is_minor,
        permission=cameo.permission,
        approved=list(cameo.approved_user_ids or []),
        requester_id=request.requester_id,
        requester_is_mutual=cameo.owner_id in request.mutual_owner_ids,
    )
    details: dict[str, Any] = {"permission": cameo.permission}
    if not access.granted:
        return "block", access.reason, details
    if cameo.owner_is_minor and minor_policy is not None and minor_policy.action != "allow":
        details["minor_policy"] = {"action": minor_policy.action, "flagged": minor_policy.flagged}
        return (
            "block",
            "the owner is under 18 and the prompt does not pass the teen thresholds "
            f"({minor_policy.action}: {', '.join(minor_policy.flagged) or 'rules'})",
            details,
        )
    if request.requester_id != cameo.owner_id and cameo.restrictions:
        hits = perms.match_restrictions(
            list(cameo.restrictions),
            request.prompt,
            prompt_vector,
            [topic_vector[r] for r in cameo.restrictions],
            scores,
            cameo.owner_is_minor,
        )
        details["restrictions_checked"] = len(cameo.restrictions)
        if hits:
            details["restriction_hits"] = [
                {
                    "restriction": h.restriction,
                    "similarity": h.similarity,
                    "threshold": h.threshold,
                    "categories": h.categories,
                    "words": h.words,
                }
                for h in hits
            ]
            return "block", hits[0].reason(), details
    return "allow", access.reason, details


def grants_still_valid(grant_ids: list[str]) -> str | None:
    """None when every grant still stands (its cameo active, at the version it was granted
    for); otherwise why not. The generator asks again before it releases anything."""
    with session_scope() as session:
        for grant_id in grant_ids:
            grant = session.get(ConsentGrant, grant_id)
            if grant is None or grant.decision != "allow":
                return f"grant {grant_id} does not allow"
            cameo = session.get(Cameo, grant.cameo_id)
            if cameo is None or cameo.status != "active":
                return f"cameo {grant.cameo_id} was revoked"
            if cameo.version != grant.cameo_version:
                return f"cameo {grant.cameo_id}'s permissions changed since consent was given"
    return None


def attach_generation(session: Session, grant_ids: list[str], generation_id: str) -> None:
    """Records which grants a generation used (called by the generation pipeline)."""
    for grant_id in grant_ids:
        grant = session.get(ConsentGrant, grant_id)
        if grant is None or grant.decision != "allow":
            raise ValueError(f"grant {grant_id} does not exist or did not allow")
        grant.generation_id = generation_id
