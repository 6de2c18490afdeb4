"""HTTP routes of teens and wellbeing: age assurance, guardians and parental controls, feed
eligibility, viewing sessions, the interaction guard and crisis support. Every route is a check
the platform calls with its key; answers say what was decided and why."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.principal import Principal, Scope
from cameoguard.db import utcnow
from cameoguard.deps import require_scope, short_session
from cameoguard.errors import Refusal, RefusalKind
from safety.policy.service import require_engine
from wellbeing import age, crisis, generations, guardians, interaction, rating, sessions
from wellbeing.policy import QuietHours, wellbeing_policy
from wellbeing.service import read_selfie, selfie_path
from wellbeing.tables import AgeCheck, GuardianLink

router = APIRouter(tags=["wellbeing"])
platform = require_scope(Scope.platform, Scope.admin)
reader = require_scope(Scope.platform, Scope.auditor, Scope.admin)

AccountId = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@-]{1,200}$")


def _tenant(principal: Principal) -> str:
    return principal.data_tenant or ""


# ---- age assurance ----


class AttestationIn(BaseModel):
    guardian_id: str = AccountId
    birth_date: date | None = None
    age_group: Literal["teen", "adult"] | None = None


class BehaviouralIn(BaseModel):
    age: float = Field(ge=0, le=120, description="The platform's own estimate, in years")
    confidence: float = Field(ge=0, le=1)


class AssuranceRequest(BaseModel):
    account_id: str = AccountId
    declared_birth_date: date | None = None
    parent_attestation: AttestationIn | None = None
    behavioural_estimate: BehaviouralIn | None = None
    selfie_media_location: str | None = Field(
        None, max_length=500, description="A selfie video from POST /v1/media"
    )


class EvidenceView(BaseModel):
    source: str
    says: str
    trusted: bool
    level: str
    detail: dict[str, Any]


class AgeAnswer(BaseModel):
    check_id: str
    account_id: str
    age_group: Literal["teen", "adult", "unknown"]
    treated_as: Literal["teen", "adult"] = Field(description="Unknown is treated as teen")
    method: str
    assurance_level: str
    evidence: list[EvidenceView]
    reasons: list[str]
    policy: str
    checked_at: datetime


def _age_answer(check: AgeCheck) -> AgeAnswer:
    return AgeAnswer(
        check_id=check.id,
        account_id=check.account_id,
        age_group=check.age_group,  # type: ignore[arg-type]
        treated_as=age.treated_as(check.age_group),
        method=check.method,
        assurance_level=check.assurance_level,
        evidence=[EvidenceView(**e) for e in check.evidence],
        reasons=check.reasons,
        policy=check.policy,
        checked_at=check.checked_at,
    )


@router.post("/v1/age/assurance", response_model=AgeAnswer)
async def assure_age(body: AssuranceRequest, principal: Principal = Depends(platform)) -> AgeAnswer:
    """Checks an account's age again from what the platform knows and an optional selfie video;
    the lowest trustworthy age wins. Stored (the account's age group for every other check) and
    audited. Earlier birth dates and attestations count until replaced."""
    policy = wellbeing_policy()
    selfie = None
    if body.selfie_media_location:
        path = selfie_path(body.selfie_media_location)
        selfie = await run_in_threadpool(read_selfie, path, policy)
    facts = age.Facts(
        declared_birth_date=body.declared_birth_date,
        parent_attestation=age.Attestation(**body.parent_attestation.model_dump())
        if body.parent_attestation
        else None,
        behavioural=age.Behavioural(**body.behavioural_estimate.model_dump())
        if body.behavioural_estimate
        else None,
    )
    with short_session(write=True) as session:
        check = age.assure(
            session,
            tenant=_tenant(principal),
            account_id=body.account_id,
            facts=facts,
            selfie=selfie,
            policy=policy,
            actor=principal.actor,
        )
        return _age_answer(check)


@router.get("/v1/age/assurance/{account_id}", response_model=AgeAnswer)
def current_age(account_id: str, principal: Principal = Depends(reader)) -> AgeAnswer:
    """The account's latest age check."""
    with short_session() as session:
        check = age.latest_check(session, _tenant(principal), account_id)
        if check is None:
            raise age.AgeError(
                RefusalKind.not_found,
                "never_checked",
                "no age check for this account: it is treated as teen",
            )
        return _age_answer(check)


# ---- guardians and parental controls ----


class InviteRequest(BaseModel):
    guardian_id: str = AccountId


class LinkView(BaseModel):
    link_id: str
    teen_id: str
    guardian_id: str
    status: str
    invited_at: datetime
    answered_at: datetime | None


def _link(link: GuardianLink) -> LinkView:
    return LinkView(
        link_id=link.id,
        teen_id=link.teen_id,
        guardian_id=link.guardian_id,
        status=link.status,
        invited_at=link.invited_at,
        answered_at=link.answered_at,
    )


@router.post("/v1/accounts/{teen_id}/guardians", status_code=201, response_model=LinkView)
def invite_guardian(
    teen_id: str, body: InviteRequest, principal: Principal = Depends(platform)
) -> LinkView:
    """Invites a guardian (whose own age is assured adult) for a teen; the teen accepts next."""
    with short_session(write=True) as session:
        return _link(
            guardians.invite(
                session,
                tenant=_tenant(principal),
                teen_id=teen_id,
                guardian_id=body.guardian_id,
                actor=principal.actor,
            )
        )


class AnswerRequest(BaseModel):
    accept: bool = Field(description="The teen's answer, relayed by the platform")


@router.post("/v1/accounts/{teen_id}/guardians/{link_id}/answer", response_model=LinkView)
def answer_invitation(
    teen_id: str, link_id: str, body: AnswerRequest, principal: Principal = Depends(platform)
) -> LinkView:
    """The teen accepts or declines a guardian's invitation (audited)."""
    with short_session(write=True) as session:
        return _link(
            guardians.answer(
                session,
                tenant=_tenant(principal),
                teen_id=teen_id,
                link_id=link_id,
                accept=body.accept,
                actor=principal.actor,
            )
        )


class QuietHoursIn(BaseModel):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class ControlsIn(BaseModel):
    personalised_feed: bool | None = None
    direct_messages: bool | None = None
    continuous_scroll: bool | None = None
    continuous_scroll_limit_minutes: float | None = Field(None, gt=0, le=1440)
    quiet_hours: QuietHoursIn | None = None
    cameo_use: Literal["nobody", "mutuals"] | None = None
    daily_generation_limit: int | None = Field(None, ge=0, le=1000)


class ControlsRequest(ControlsIn):
    guardian_id: str = AccountId


class ControlsView(BaseModel):
    teen_id: str
    controls: ControlsIn
    set_by: str | None
    updated_at: datetime | None
    history: list[dict[str, Any]] = Field(description="Every change: when, by whom, what")
    guardians: list[LinkView]
    session_limits: dict[str, Any] = Field(description="The viewing limits that apply now")


def _controls_view(session: Any, tenant: str, teen_id: str) -> ControlsView:
    row = guardians.controls_row(session, tenant, teen_id)
    current = guardians.Controls.of(row.controls if row else None).to_dict()
    limits = sessions.effective_limits(wellbeing_policy(), "teen", current)
    return ControlsView(
        teen_id=teen_id,
        controls=ControlsIn(**current),
        set_by=row.set_by if row else None,
        updated_at=row.updated_at if row else None,
        history=row.history if row else [],
        guardians=[_link(g) for g in guardians.guardians_of(session, tenant, teen_id)],
        session_limits=limits,
    )


@router.put("/v1/accounts/{teen_id}/parental-controls", response_model=ControlsView)
def set_controls(
    teen_id: str, body: ControlsRequest, principal: Principal = Depends(platform)
) -> ControlsView:
    """A linked guardian sets the teen's controls (the whole set; absent fields: defaults)."""
    fields = body.model_dump(exclude={"guardian_id"})
    if fields["quiet_hours"] is not None:
        QuietHours(**fields["quiet_hours"])
    tenant = _tenant(principal)
    with short_session(write=True) as session:
        guardians.set_controls(
            session,
            tenant=tenant,
            teen_id=teen_id,
            guardian_id=body.guardian_id,
            controls=guardians.Controls(**fields),
            actor=principal.actor,
        )
        session.flush()
        return _controls_view(session, tenant, teen_id)


@router.get("/v1/accounts/{teen_id}/parental-controls", response_model=ControlsView)
def read_controls(teen_id: str, principal: Principal = Depends(reader)) -> ControlsView:
    """What is set for the teen, by whom and when, and the limits that follow: readable by the
    teen (through the platform) as well as the guardian."""
    with short_session() as session:
        return _controls_view(session, _tenant(principal), teen_id)


# ---- feed eligibility ----


class EligibilityRequest(BaseModel):
    viewer_id: str = AccountId
    item_ids: list[str] = Field(min_length=1, max_length=200)
    blocked_author_ids: list[str] = Field(default_factory=list, max_length=10_000)


class ItemEligibility(BaseModel):
    item_id: str
    show: bool
    rating: Literal["all", "teen", "mature"] | None
    reasons: list[str]


class EligibilityAnswer(BaseModel):
    viewer_id: str
    viewer_age_group: str
    personalised: bool = Field(description="False: a guardian turned personalisation off")
    items: list[ItemEligibility]


@router.post("/v1/feed/eligibility", response_model=EligibilityAnswer)
def feed_eligibility(
    body: EligibilityRequest, principal: Principal = Depends(platform)
) -> EligibilityAnswer:
    """Which of the items the viewer may be shown, and why not the others (rating, under
    review, removed, blocked author). Items held for review are never shown to teens."""
    with short_session(write=True) as session:
        group, personalised, answers = rating.eligibility(
            session,
            tenant=principal.data_tenant,
            viewer_id=body.viewer_id,
            item_ids=body.item_ids,
            blocked_author_ids=body.blocked_author_ids,
            actor=principal.actor,
        )
    return EligibilityAnswer(
        viewer_id=body.viewer_id,
        viewer_age_group=group,
        personalised=personalised,
        items=[
            ItemEligibility(
                item_id=a.item_id,
                show=a.show,
                rating=a.rating,  # type: ignore[arg-type]
                reasons=a.reasons,
            )
            for a in answers
        ],
    )


# ---- viewing sessions ----


class SessionRequest(BaseModel):
    account_id: str = AccountId
    items: int = Field(0, ge=0, le=10_000, description="Items viewed since the last report")
    seconds: float | None = Field(
        None,
        ge=0,
        le=86_400,
        description="Seconds viewed since the last report (absent: "
        "the time since the last report, capped)",
    )
    at: datetime | None = Field(None, description="When (default: now)")
    utc_offset_minutes: int = Field(0, ge=-840, le=840, description="The account's local offset")
    nudge_opt_in: bool = Field(False, description="An adult asked for break reminders")


class SessionView(BaseModel):
    action: Literal["continue", "nudge", "stop"]
    reason: str
    age_group: str
    continuous_minutes: float
    continuous_items: int
    today_minutes: float
    limits: dict[str, Any]


@router.post("/v1/wellbeing/sessions", response_model=SessionView)
def viewing_session(body: SessionRequest, principal: Principal = Depends(platform)) -> SessionView:
    """Records viewing and answers continue, nudge (suggest a break) or stop, with the reason."""
    viewing = sessions.Viewing(
        body.items, body.seconds, body.at or utcnow(), body.utc_offset_minutes, body.nudge_opt_in
    )
    with short_session(write=True) as session:
        answer = sessions.report_viewing(
            session,
            tenant=_tenant(principal),
            account_id=body.account_id,
            viewing=viewing,
            policy=wellbeing_policy(),
            actor=principal.actor,
        )
    return SessionView(**answer.__dict__)


# ---- interaction guard ----


class InteractionRequest(BaseModel):
    actor_id: str = AccountId
    target_id: str = AccountId
    kind: Literal["dm", "comment", "remix", "cameo_use", "follow"]
    mutual_connection: bool = Field(
        False, description="The platform's word that the two accounts follow each other"
    )


class InteractionView(BaseModel):
    decision: Literal["allow", "block", "hold"]
    code: str
    reason: str
    actor_age_group: str
    target_age_group: str
    policy: str


@router.post("/v1/checks/interaction", response_model=InteractionView)
def check_interaction(
    body: InteractionRequest, principal: Principal = Depends(platform)
) -> InteractionView:
    """May the actor do this to the target? Allow, block or hold, with the reason."""
    if body.actor_id == body.target_id:
        raise Refusal(RefusalKind.invalid, "same_account", "actor and target are the same")
    with short_session(write=True) as session:
        answer = interaction.check_interaction(
            session,
            tenant=_tenant(principal),
            actor_id=body.actor_id,
            target_id=body.target_id,
            kind=body.kind,
            mutual_connection=body.mutual_connection,
            policy=wellbeing_policy(),
            caller=principal.actor,
        )
    return InteractionView(**answer.__dict__)


# ---- crisis support ----


class CrisisRequest(BaseModel):
    account_id: str = AccountId
    surface: Literal["prompt", "caption", "comment"]
    text: str = Field(min_length=1, max_length=10_000)
    locale: Literal["en", "fr"] | None = Field(None, description="The account's language")
    item_id: str | None = Field(None, max_length=64)


class CrisisView(BaseModel):
    self_harm: bool
    imminent: bool
    action: str = Field(description="The prompt policy's action for the text")
    age_group: str
    support: dict[str, Any] | None = Field(description="Show these instead of a bare refusal")
    guardians_notified: int
    case_id: str | None
    reasons: list[str]


@router.post("/v1/checks/crisis", response_model=CrisisView)
async def crisis_check(body: CrisisRequest, principal: Principal = Depends(platform)) -> CrisisView:
    """Reads a prompt, caption or comment for self-harm: localised support resources, a guardian
    notification for a teen, and a crisis case at the highest priority for imminent risk."""
    engine = require_engine()
    tenant = _tenant(principal)
    with short_session() as session:
        group = age.age_group(session, tenant, body.account_id)
    decision = await run_in_threadpool(
        crisis.read_text, engine, body.text, body.surface, group, body.locale
    )
    with short_session(write=True) as session:
        answer = crisis.respond(
            session,
            engine=engine,
            decision=decision,
            text=body.text,
            tenant=tenant,
            account_id=body.account_id,
            surface=body.surface,
            locale=body.locale,
            item_id=body.item_id,
            policy=wellbeing_policy(),
            actor=principal.actor,
        )
    return CrisisView(**answer.__dict__)


# ---- generation limits ----


class AllowanceRequest(BaseModel):
    account_id: str = AccountId
    at: datetime | None = Field(None, description="When (default: now)")
    utc_offset_minutes: int = Field(0, ge=-840, le=840)
    record: bool = Field(True, description="Count this generation when it is allowed")


class AllowanceView(BaseModel):
    decision: Literal["allow", "block"]
    reason: str
    age_group: str
    used_today: int
    daily_limit: int | None


@router.post("/v1/checks/generation-allowance", response_model=AllowanceView)
def generation_allowance(
    body: AllowanceRequest, principal: Principal = Depends(platform)
) -> AllowanceView:
    """May the account start another generation today? A guardian's daily limit for a teen."""
    with short_session(write=True) as session:
        answer = generations.generation_allowance(
            session,
            tenant=_tenant(principal),
            account_id=body.account_id,
            at=body.at or utcnow(),
            utc_offset_minutes=body.utc_offset_minutes,
            count_it=body.record,
            actor=principal.actor,
        )
    return AllowanceView(**answer.__dict__)
