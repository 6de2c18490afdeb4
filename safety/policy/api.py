"""HTTP routes of the policy area: OpenAI-compatible moderations, the richer prompt check, and
the admin view and reload of the policy pack."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from sqlalchemy.orm import Session

from cameoguard.audit.appender import PendingEntry, appender
from cameoguard.audit.log import record
from cameoguard.auth.principal import Principal, Scope
from cameoguard.cost import run_costly_in_process
from cameoguard.deps import DATABASE_ERRORS, database_unavailable, get_session, require_scope
from cameoguard.errors import ApiError, Refusal
from safety.policy import service, text_worker
from safety.policy.engine import CheckContext, Decision
from safety.policy.normalize import MAX_TEXT_CHARS, InvalidText
from safety.policy.pack import CATEGORIES, PackError, SupportResource

log = logging.getLogger("cameoguard.policy")
router = APIRouter(tags=["policy"])
platform = require_scope(Scope.platform)
admin = require_scope(Scope.admin)
anyone = require_scope(*Scope)

MAX_INPUTS = 128
# Requests with more text than this are decided on a worker thread, in a heavy-work slot and
# charged to the key's work budget: one caller's long texts must not stall the event loop.
ON_LOOP_CHARS = 4_000
AUDIT_TIMEOUT_S = 30.0  # an audit write that takes longer fails the check (never unaudited)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

DECISIONS = Counter("cameoguard_policy_decisions_total", "Policy decisions", ["endpoint", "action"])
CHECK_SECONDS = Histogram(
    "cameoguard_policy_check_seconds",
    "Time to decide, model included",
    ["endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2),
)

Text = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TEXT_CHARS)]


def _no_controls(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("text contains control characters (only tab and newlines are allowed)")
    if not text.strip():
        raise ValueError("text is empty or only whitespace")
    return text


class TextPart(BaseModel):
    """OpenAI's multi-modal shape for a text input."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: Text


class OtherPart(BaseModel):
    """Any other typed input (`image_url`...): named in a 422 that lists what is supported."""

    model_config = ConfigDict(extra="allow")
    type: StrictStr = Field(max_length=40)


SUPPORTED_INPUTS = 'a string, a list of strings, or a list of {"type": "text", "text": ...} parts'


class ModerationRequest(BaseModel):
    """The OpenAI moderation request shape, and the reader's age group (not in OpenAI's shape:
    `teen` or `unknown` applies the stricter teen thresholds)."""

    model_config = ConfigDict(extra="forbid")
    input: (
        Text
        | Annotated[
            list[Annotated[Text | TextPart | OtherPart, Field(union_mode="left_to_right")]],
            Field(min_length=1, max_length=MAX_INPUTS),
        ]
    )
    model: StrictStr | None = Field(None, max_length=100, description="Accepted and ignored")
    age_group: Literal["adult", "teen", "unknown"] = Field(
        "adult", description="Who will read the text: teen and unknown use the teen thresholds"
    )

    def texts(self) -> list[str]:
        """The texts to check, in order; an input of another type is a 422 naming it."""
        if isinstance(self.input, str):
            return [_no_controls(self.input)]
        texts = []
        for part in self.input:
            if isinstance(part, OtherPart):
                raise ApiError(
                    422,
                    f"input type {part.type!r} is not supported here; send {SUPPORTED_INPUTS}"
                    " (images and video: POST /v1/checks/likeness)",
                    code="unsupported_input_type",
                    details={"supported_input_types": ["text"]},
                )
            texts.append(_no_controls(part if isinstance(part, str) else part.text))
        return texts


class SupportOut(BaseModel):
    """Help the platform can show beside the decision (self-harm), in the text's language."""

    locale: str
    message: str
    resources: list[SupportResource]


class ModerationResult(BaseModel):
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]
    support: SupportOut | None = Field(
        None, description="Not in OpenAI's shape: support resources when self-harm is flagged"
    )


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


class Requester(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: StrictStr = Field(min_length=1, max_length=200)
    age_group: Literal["adult", "teen", "unknown"] = Field(
        "unknown", description="`unknown` gets the teen thresholds (fail closed)"
    )


class PromptCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Text
    requester: Requester | None = None
    cameo_ids: list[Annotated[StrictStr, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=10
    )
    language: StrictStr | None = Field(None, pattern=r"^[a-z]{2}$")
    purpose: Literal["generation", "caption", "comment"] = "generation"

    @field_validator("prompt")
    @classmethod
    def _clean(cls, value: str) -> str:
        return _no_controls(value)


class CategoryOut(BaseModel):
    score: float
    model_score: float
    thresholds: dict[str, float]
    threshold_set: str
    action: str
    rules: list[str]
    applies: bool


class PromptCheckResponse(BaseModel):
    id: str
    decision: Literal["allow", "review", "block"]
    flagged: list[str]
    categories: dict[str, CategoryOut]
    rules: list[dict[str, Any]]
    escalations: list[str]
    reasons: list[str]
    pack: str
    model: str
    language: str
    obfuscated: bool
    framed: bool = False
    support: SupportOut | None = None


class PolicyInfo(BaseModel):
    pack: str
    description: str
    languages: list[str]
    categories: dict[str, dict[str, Any]]
    rules: int
    model: str
    last_reload_error: str | None


def text_work_ms(texts: list[str]) -> float:
    """A rough CPU cost of deciding these texts: normalisation and rules grow with the length
    (about 1.5 ms per thousand characters here), the model with the count."""
    return sum(3.0 + len(t) * 0.0015 for t in texts)


async def _decide(
    texts: list[str], context: CheckContext, endpoint: str, principal: Principal
) -> list[Decision]:
    engine = service.require_engine()
    started = time.perf_counter()
    total = sum(len(t) for t in texts)
    try:
        if total <= ON_LOOP_CHARS:
            decisions = await engine.check_many_async(texts, context)
        else:  # long texts: charged to the key, and read in a worker process
            rules = engine.rules_for(context.requester_id)
            facts = await run_costly_in_process(
                principal.key_id,
                text_work_ms(texts),
                text_worker.read_texts,
                rules.key,
                rules.pack,
                texts,
            )
            decisions = await engine.decide_async(facts, context)
    except InvalidText as exc:
        raise ApiError(422, str(exc)) from exc
    except (ApiError, Refusal):
        raise
    except Exception as exc:
        log.exception("policy check failed")
        raise ApiError(
            503, "the text classifier failed; nothing was allowed", code="model_error"
        ) from exc
    CHECK_SECONDS.labels(endpoint).observe(time.perf_counter() - started)
    for decision in decisions:
        DECISIONS.labels(endpoint, decision.action).inc()
    return decisions


@router.post("/v1/moderations", response_model=ModerationResponse)
async def moderations(
    body: ModerationRequest, principal: Principal = Depends(platform)
) -> ModerationResponse:
    """OpenAI-compatible moderation of captions and comments (`purpose` caption: checks that only
    concern generation prompts, such as named real people, do not apply). `age_group` teen (or
    unknown) applies the teen thresholds; text parts are read, other input types are a 422."""
    try:
        texts = body.texts()
    except ValueError as exc:
        raise ApiError(422, str(exc), code="invalid_text") from exc
    context = CheckContext(purpose="caption", age_group=body.age_group)
    decisions = await _decide(texts, context, "moderations", principal)
    return ModerationResponse(
        id=f"modr-{uuid.uuid4().hex}",
        model=f"cameoguard-{decisions[0].model}",
        results=[
            ModerationResult(
                flagged=d.action != "allow",
                categories={c: d.categories[c].action != "allow" for c in CATEGORIES},
                category_scores={c: d.categories[c].score for c in CATEGORIES},
                category_applied_input_types={c: ["text"] for c in CATEGORIES},
                support=d.support,
            )
            for d in decisions
        ],
    )


@router.post("/v1/checks/prompt", response_model=PromptCheckResponse)
async def check_prompt(
    body: PromptCheckRequest, principal: Principal = Depends(platform)
) -> PromptCheckResponse:
    """The decision for one generation prompt (or caption/comment), with every reason."""
    requester = body.requester or Requester(id="anonymous")
    context = CheckContext(
        age_group=requester.age_group,
        uses_cameo=bool(body.cameo_ids),
        purpose=body.purpose,
        language=body.language,
        requester_id=body.requester.id if body.requester else None,
    )
    decision = (await _decide([body.prompt], context, "checks/prompt", principal))[0]
    check_id = f"chk_{uuid.uuid4().hex}"
    # Answered only once its audit entry is committed (group commit with concurrent checks).
    try:
        await asyncio.wait_for(
            asyncio.wrap_future(
                appender().submit(_audit_entry(principal, check_id, body, requester, decision))
            ),
            AUDIT_TIMEOUT_S,
        )
    except (*DATABASE_ERRORS, TimeoutError) as exc:
        raise database_unavailable() from exc
    fields = decision.to_dict()
    fields["decision"] = fields.pop("action")
    return PromptCheckResponse(id=check_id, **fields)


def _audit_entry(
    principal: Principal,
    check_id: str,
    body: PromptCheckRequest,
    requester: Requester,
    decision: Decision,
) -> PendingEntry:
    return PendingEntry(
        actor=principal.actor,
        action="policy.check",
        subject=f"check:{check_id}",
        reason="; ".join(decision.reasons) or "no category reached its review threshold",
        details={
            "decision": decision.action,
            "flagged": decision.flagged,
            "rules": [r["id"] for r in decision.rules],
            "escalations": decision.escalations,
            "pack": decision.pack,
            "model": decision.model,
            "requester": requester.id,
            "age_group": requester.age_group,
            "cameo_ids": body.cameo_ids,
            "purpose": body.purpose,
            # The prompt itself is not kept in the audit log: its hash ties a complaint to it.
            "prompt_sha256": hashlib.sha256(body.prompt.encode()).hexdigest(),
            "prompt_chars": len(body.prompt),
        },
    )


def _policy_info() -> PolicyInfo:
    engine = service.require_engine()
    pack = engine.pack
    return PolicyInfo(
        pack=pack.ref,
        description=pack.description,
        languages=pack.languages,
        categories={
            name: policy.model_dump(exclude_none=True) for name, policy in pack.categories.items()
        },
        rules=len(pack.rules),
        model=engine.classifier.version,
        last_reload_error=str(engine.store.last_error) if engine.store.last_error else None,
    )


@router.get("/v1/policy", response_model=PolicyInfo)
def policy(_: Principal = Depends(anyone)) -> PolicyInfo:
    """The active policy pack: id, version, categories and thresholds."""
    return _policy_info()


@router.post("/v1/admin/policy/reload", response_model=PolicyInfo)
def reload_policy(
    principal: Principal = Depends(admin), session: Session = Depends(get_session)
) -> PolicyInfo:
    """Reload the pack file. A broken pack is refused (422 with file, line, reason) and the
    running pack stays active."""
    engine = service.require_engine()
    before = engine.pack.ref
    try:
        pack = engine.reload_pack()
    except PackError as exc:
        raise ApiError(
            422,
            f"policy pack refused; {before} stays active",
            code="invalid_policy_pack",
            details={"file": exc.file.name, "line": exc.line, "reason": exc.reason},
        ) from exc
    record(
        session,
        actor=principal.actor,
        action="policy.reload",
        subject=f"pack:{pack.id}",
        reason=f"{before} -> {pack.ref}",
    )
    return _policy_info()
