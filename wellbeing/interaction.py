"""The interaction guard: may `actor` do `kind` to `target`? Ages are the assured ones
(unknown is teen). Adults cannot start DMs with teens they share no mutual connection with; a
guardian can turn a teen's DMs off; a teen's cameo follows the stricter set (mutual connections
only by default, nobody when a guardian says so, never an unknown adult); remixes of a teen's
video by adults they share no connection with are held for the teen's approval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from wellbeing.age import age_group, treated_as
from wellbeing.guardians import controls_of
from wellbeing.policy import WellbeingPolicy

Kind = Literal["dm", "comment", "remix", "cameo_use", "follow"]
Verdict = Literal["allow", "block", "hold"]


@dataclass(frozen=True)
class InteractionAnswer:
    decision: Verdict
    code: str
    reason: str
    actor_age_group: str
    target_age_group: str
    policy: str


def check_interaction(
    session: Session,
    *,
    tenant: str,
    actor_id: str,
    target_id: str,
    kind: Kind,
    mutual_connection: bool,
    policy: WellbeingPolicy,
    caller: str,
) -> InteractionAnswer:
    actor_group = age_group(session, tenant, actor_id)
    target_group = age_group(session, tenant, target_id)
    actor, target = treated_as(actor_group), treated_as(target_group)
    target_controls = controls_of(session, tenant, target_id) if target == "teen" else None
    actor_controls = controls_of(session, tenant, actor_id) if actor == "teen" else None
    adult_to_teen = actor == "adult" and target == "teen"

    decision: Verdict = "allow"
    code, reason = "allowed", f"{kind} from {actor_group} to {target_group} is allowed"
    if kind == "dm":
        if target_controls is not None and target_controls.direct_messages is False:
            decision, code = "block", "dms_off_by_guardian"
            reason = "the teen's guardian turned direct messages off"
        elif actor_controls is not None and actor_controls.direct_messages is False:
            decision, code = "block", "dms_off_by_guardian"
            reason = "the sender's guardian turned direct messages off"
        elif adult_to_teen and not mutual_connection:
            decision, code = "block", "adult_to_teen_no_connection"
            reason = "adults cannot start DMs with teens they share no mutual connection with"
    elif kind == "cameo_use" and target == "teen":
        allowed = (target_controls.cameo_use if target_controls else None) or (
            policy.interaction.teen_cameo_default
        )
        if allowed == "nobody":
            decision, code = "block", "teen_cameo_nobody"
            reason = "this teen's cameo may be used by nobody (guardian's choice)"
        elif not mutual_connection:
            decision, code = "block", "teen_cameo_mutuals_only"
            reason = "a teen's cameo may be used only by mutual connections"
    elif kind == "remix" and adult_to_teen and not mutual_connection:
        decision, code = "hold", "teen_remix_held"
        reason = "remixes of a teen's video by adults they share no connection with are held"
    record(
        session,
        actor=caller,
        action="wellbeing.interaction_checked",
        subject=f"account:{target_id}",
        reason=f"{kind} by {actor_id}: {decision} ({code})",
        details={
            "tenant": tenant,
            "actor_id": actor_id,
            "kind": kind,
            "mutual_connection": mutual_connection,
            "actor_age_group": actor_group,
            "target_age_group": target_group,
            "policy": policy.ref,
        },
    )
    return InteractionAnswer(decision, code, reason, actor_group, target_group, policy.ref)
