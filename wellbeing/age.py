"""Age assurance: what the platform knows of an account (a declared birth date, a parent's
attestation, its own behavioural estimate) and, optionally, a selfie video read by the age
model under a "challenge 25" rule, combined so that the lowest trustworthy age wins. The answer
is `teen`, `adult` or `unknown`; every other area treats `unknown` as `teen` (fail closed).

Which evidence is trusted, and for what:
- a declared birth date is believed when it says minor, never when it says adult (anyone can
  type a year);
- a parent's attestation is trusted (medium assurance);
- the platform's behavioural estimate is trusted at `behavioural_min_confidence` or above;
- the selfie is trusted when at least `min_frames` frames show the same face: adult only when
  clearly over `challenge_age`, otherwise teen."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.db import utcnow
from cameoguard.errors import Refusal, RefusalKind
from wellbeing.faces import Person
from wellbeing.policy import AgeAssurancePolicy, AgeGroup, WellbeingPolicy
from wellbeing.tables import AgeCheck

Level = Literal["none", "low", "medium", "high"]
LEVELS: dict[str, int] = {"none": 0, "low": 1, "medium": 2, "high": 3}


class AgeError(Refusal):
    """A request the age-assurance part refuses."""


@dataclass(frozen=True)
class Attestation:
    guardian_id: str
    birth_date: date | None = None
    age_group: Literal["teen", "adult"] | None = None


@dataclass(frozen=True)
class Behavioural:
    age: float
    confidence: float


@dataclass(frozen=True)
class Facts:
    declared_birth_date: date | None = None
    parent_attestation: Attestation | None = None
    behavioural: Behavioural | None = None

    def sticky(self) -> dict[str, Any]:
        """What a later check keeps when it is not given again (the estimate is of the moment)."""
        kept: dict[str, Any] = {}
        if self.declared_birth_date is not None:
            kept["declared_birth_date"] = self.declared_birth_date.isoformat()
        if self.parent_attestation is not None:
            a = self.parent_attestation
            kept["parent_attestation"] = {
                "guardian_id": a.guardian_id,
                "birth_date": a.birth_date.isoformat() if a.birth_date else None,
                "age_group": a.age_group,
            }
        return kept


@dataclass(frozen=True)
class Evidence:
    source: str  # declared_birth_date | parent_attestation | behavioural_estimate | selfie
    says: AgeGroup
    trusted: bool
    level: Level
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "says": self.says,
            "trusted": self.trusted,
            "level": self.level,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Conclusion:
    age_group: AgeGroup
    method: str
    level: Level
    evidence: list[Evidence]
    reasons: list[str]


def years_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _group(age: float) -> AgeGroup:
    return "teen" if age < 18 else "adult"


def selfie_evidence(found: list[Person], frames: int, policy: AgeAssurancePolicy) -> Evidence:
    """The challenge-25 reading of a selfie: its most seen face across the frames."""
    if not found or len(found[0].ages) < policy.min_frames:
        seen = len(found[0].ages) if found else 0
        return Evidence(
            "selfie",
            "unknown",
            False,
            "none",
            {
                "frames": frames,
                "frames_with_face": seen,
                "why": f"too few frames show a face ({seen} < {policy.min_frames})",
            },
        )
    person = found[0]
    lower = person.median - person.spread
    clearly_over = (
        lower >= policy.challenge_age and person.young_fraction <= policy.max_young_fraction
    )
    detail = {
        "frames": frames,
        "frames_with_face": len(person.ages),
        "people_seen": len(found),
        "apparent_ages": [round(a, 1) for a in person.ages],
        "median_age": round(person.median, 1),
        "spread": round(person.spread, 1),
        "lower_bound": round(lower, 1),
        "young_fraction": round(person.young_fraction, 2),
        "rule": f"adult only when median - spread >= {policy.challenge_age} and at most "
        f"{policy.max_young_fraction:.0%} of frames under 18",
    }
    if clearly_over:
        return Evidence("selfie", "adult", True, "high", detail)
    return Evidence("selfie", "teen", True, "medium", detail)


def gather(
    facts: Facts, selfie: Evidence | None, policy: AgeAssurancePolicy, today: date
) -> list[Evidence]:
    found: list[Evidence] = []
    if facts.declared_birth_date is not None:
        age = years_on(facts.declared_birth_date, today)
        says = _group(age)
        found.append(
            Evidence(
                "declared_birth_date",
                says,
                says == "teen",
                "low",
                {
                    "age": age,
                    "under_minimum": age < policy.teen_min_age,
                    "why": "a declared minor is believed; a declared adult is not assurance",
                },
            )
        )
    attestation = facts.parent_attestation
    if attestation is not None:
        if attestation.birth_date is not None:
            age = years_on(attestation.birth_date, today)
            says, detail = _group(age), {"age": age}
        else:
            says, detail = attestation.age_group or "unknown", {}
        detail["guardian_id"] = attestation.guardian_id
        found.append(Evidence("parent_attestation", says, says != "unknown", "medium", detail))
    if facts.behavioural is not None:
        b = facts.behavioural
        trusted = b.confidence >= policy.behavioural_min_confidence
        found.append(
            Evidence(
                "behavioural_estimate",
                _group(b.age),
                trusted,
                "medium" if trusted else "none",
                {
                    "age": b.age,
                    "confidence": b.confidence,
                    "min_confidence": policy.behavioural_min_confidence,
                },
            )
        )
    if selfie is not None:
        found.append(selfie)
    return found


def conclude(evidence: list[Evidence]) -> Conclusion:
    """The lowest trustworthy age wins: any trusted `teen` makes a teen; `adult` needs a trusted
    adult and no trusted teen; nothing trusted is `unknown` (treated as teen)."""
    trusted = [e for e in evidence if e.trusted]
    for group in ("teen", "adult"):
        saying = [e for e in trusted if e.says == group]
        if saying:
            best = max(saying, key=lambda e: LEVELS[e.level])
            others = [e.source for e in saying if e is not best]
            reasons = [f"{e.source} says {group} (trusted, {e.level})" for e in saying]
            if group == "adult":
                reasons.append("no trusted evidence says teen")
            method = "+".join([best.source, *others])
            return Conclusion(group, method, best.level, evidence, reasons)
    reasons = [f"{e.source} says {e.says} but is not trusted" for e in evidence]
    reasons.append("no trusted evidence: unknown, treated as teen")
    return Conclusion("unknown", "none", "none", evidence, reasons)


def _parse_facts(stored: dict[str, Any]) -> Facts:
    born = stored.get("declared_birth_date")
    att = stored.get("parent_attestation")
    return Facts(
        declared_birth_date=date.fromisoformat(born) if born else None,
        parent_attestation=Attestation(
            att["guardian_id"],
            date.fromisoformat(att["birth_date"]) if att.get("birth_date") else None,
            att.get("age_group"),
        )
        if att
        else None,
    )


def latest_check(session: Session, tenant: str, account_id: str) -> AgeCheck | None:
    return session.scalar(
        select(AgeCheck)
        .where(AgeCheck.tenant == tenant, AgeCheck.account_id == account_id)
        .order_by(AgeCheck.checked_at.desc(), AgeCheck.id.desc())
        .limit(1)
    )


def age_group(session: Session, tenant: str, account_id: str) -> AgeGroup:
    """The account's age group as last assured; `unknown` when it never was."""
    check = latest_check(session, tenant, account_id)
    return "unknown" if check is None else check.age_group  # type: ignore[return-value]


def treated_as(group: str) -> Literal["teen", "adult"]:
    """Unknown is teen everywhere."""
    return "adult" if group == "adult" else "teen"


def assure(
    session: Session,
    *,
    tenant: str,
    account_id: str,
    facts: Facts,
    selfie: Evidence | None,
    policy: WellbeingPolicy,
    actor: str,
    today: date | None = None,
) -> AgeCheck:
    """Checks the account's age again with `facts` (the earlier birth date and attestation are
    kept when not given), stores and audits the conclusion; in the caller's transaction."""
    previous = latest_check(session, tenant, account_id)
    if previous is not None:
        earlier = _parse_facts(previous.facts)
        facts = Facts(
            declared_birth_date=facts.declared_birth_date or earlier.declared_birth_date,
            parent_attestation=facts.parent_attestation or earlier.parent_attestation,
            behavioural=facts.behavioural,
        )
    today = today or utcnow().date()
    if facts.declared_birth_date is not None and facts.declared_birth_date > today:
        raise AgeError(RefusalKind.invalid, "bad_birth_date", "the birth date is in the future")
    conclusion = conclude(gather(facts, selfie, policy.age_assurance, today))
    check = AgeCheck(
        id=f"age_{secrets.token_hex(8)}",
        tenant=tenant,
        account_id=account_id,
        age_group=conclusion.age_group,
        method=conclusion.method,
        assurance_level=conclusion.level,
        facts=facts.sticky(),
        evidence=[e.to_dict() for e in conclusion.evidence],
        reasons=conclusion.reasons,
        policy=policy.ref,
        checked_by=actor,
        checked_at=utcnow(),
    )
    session.add(check)
    record(
        session,
        actor=actor,
        action="wellbeing.age_assured",
        subject=f"account:{account_id}",
        reason=f"{conclusion.age_group} by {conclusion.method} ({conclusion.level})",
        details={
            "check_id": check.id,
            "tenant": tenant,
            "previous": previous.age_group if previous else None,
            "sources": [e.source for e in conclusion.evidence],
        },
    )
    return check
