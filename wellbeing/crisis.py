"""Crisis support. A prompt, caption or comment is read by the prompt policy (the same engine
and pack as every prompt check); when it shows self-harm the answer carries the pack's
localised support resources for the platform to show instead of a bare refusal. For a teen
(or unknown age) with linked guardians, each guardian gets a notification event (the kind of
event and what to do, no content). Wording of imminent risk (policies/wellbeing.yaml) opens a
case in the crisis review queue at severity 0, before every other case."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.contracts import (
    CRISIS_CASES,
    GUARDIAN_NOTIFICATIONS,
    CrisisCaseOpened,
    GuardianNotification,
)
from cameoguard.db import utcnow
from cameoguard.events import emit
from safety.policy.engine import CheckContext, Decision, PolicyEngine
from safety.review.cases import CaseRequest, open_case
from safety.review.routing import review_policy
from wellbeing.age import age_group, treated_as
from wellbeing.guardians import linked_guardians
from wellbeing.policy import WellbeingPolicy

Surface = Literal["prompt", "caption", "comment"]
PURPOSE: dict[str, Any] = {"prompt": "generation", "caption": "caption", "comment": "comment"}
SELF_HARM = ("self-harm", "self-harm/intent", "self-harm/instructions")


@dataclass(frozen=True)
class CrisisAnswer:
    self_harm: bool
    imminent: bool
    action: str  # the prompt policy's action for the text
    age_group: str
    support: dict[str, Any] | None
    guardians_notified: int = 0
    case_id: str | None = None
    reasons: list[str] = field(default_factory=list)


def read_text(
    engine: PolicyEngine, text: str, surface: Surface, group: str, locale: str | None
) -> Decision:
    context = CheckContext(age_group=treated_as(group), purpose=PURPOSE[surface], language=locale)
    return engine.check(text, context)


def _localised(engine: PolicyEngine, support: dict[str, Any], locale: str | None) -> dict[str, Any]:
    """The resources in the platform's locale when the pack has it (else the text's)."""
    pack = engine.pack.support_resources
    if pack is None or not locale or locale not in pack.locales or support["locale"] == locale:
        return support
    return {
        "locale": locale,
        "message": pack.message[locale].strip(),
        "resources": [r.model_dump(exclude_none=True) for r in pack.locales[locale]],
    }


def respond(
    session: Session,
    *,
    engine: PolicyEngine,
    decision: Decision,
    text: str,
    tenant: str,
    account_id: str,
    surface: Surface,
    locale: str | None,
    item_id: str | None,
    policy: WellbeingPolicy,
    actor: str,
) -> CrisisAnswer:
    group = age_group(session, tenant, account_id)
    shown = [c for c in SELF_HARM if c in decision.flagged]
    self_harm = decision.support is not None or bool(shown)
    if not self_harm:
        return CrisisAnswer(
            False, False, decision.action, group, None, reasons=["no sign of self-harm"]
        )
    support = decision.support
    if support is None:  # flagged without the pack's resources: the default locale's
        pack = engine.pack.support_resources
        if pack is not None:
            chosen = pack.default_locale
            support = {
                "locale": chosen,
                "message": pack.message[chosen].strip(),
                "resources": [r.model_dump(exclude_none=True) for r in pack.locales[chosen]],
            }
    if support is not None:
        support = _localised(engine, support, locale)
    terms = policy.crisis.imminent(text)
    imminent = bool(terms)
    reasons = [f"self-harm: {', '.join(shown) or 'at its review threshold'} ({decision.pack})"]
    case_id = None
    now = utcnow()
    if imminent:
        reasons.append(f"imminent-risk wording: {', '.join(terms)}")
        case = open_case(
            session,
            CaseRequest(
                kind="crisis",
                item_id=account_id,
                signals=["self_harm"],
                severity=policy.crisis.case_severity,
                reasons=reasons,
                snapshot={
                    "account_id": account_id,
                    "surface": surface,
                    "text": text[:2000],
                    "item_id": item_id,
                    "tenant": tenant,
                    "age_group": group,
                },
            ),
            review_policy(),
        )
        case_id = case.id
        event = CrisisCaseOpened(
            case_id=case.id,
            account_id=account_id,
            surface=surface,
            severity=case.severity,
            queue=case.queue,
            at=now,
            tenant=tenant,
        )
        emit(session, CRISIS_CASES, account_id, event.model_dump(mode="json"))
    notified = 0
    if treated_as(group) == "teen":
        advice_locale, advice = policy.crisis.advice(locale or (support or {}).get("locale", "en"))
        for guardian_id in linked_guardians(session, tenant, account_id):
            note = GuardianNotification(
                notification_id=f"gn_{secrets.token_hex(8)}",
                teen_id=account_id,
                guardian_id=guardian_id,
                kind="imminent_risk" if imminent else "self_harm_risk",
                locale=advice_locale,
                what_to_do=advice,
                at=now,
                tenant=tenant,
            )
            emit(session, GUARDIAN_NOTIFICATIONS, account_id, note.model_dump(mode="json"))
            notified += 1
        if notified:
            reasons.append(f"{notified} guardian(s) notified (no content)")
    record(
        session,
        actor=actor,
        action="wellbeing.crisis_support",
        subject=f"account:{account_id}",
        reason="; ".join(reasons),
        details={
            "tenant": tenant,
            "surface": surface,
            "item_id": item_id,
            "imminent": imminent,
            "case_id": case_id,
            "guardians_notified": notified,
            "age_group": group,
        },
    )
    return CrisisAnswer(True, imminent, decision.action, group, support, notified, case_id, reasons)
