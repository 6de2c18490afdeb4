"""HTTP routes of the rights area: every use of a cameo and its takedown, the likeness matches
its owner confirms or dismisses, owners' notification preferences, remix lineage."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi import Path as Path_
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.principal import Principal, Scope
from cameoguard.deps import require_scope, short_session
from cameoguard.errors import ApiError
from cameoguard.settings import get_settings
from cameoguard.uploads import accepts_upload, save_upload, spool_body
from consumers.tables import FeedItem
from rights import claims, hashes, lineage, matches, notify, usages
from safety.consent import models as consent_models

router = APIRouter(tags=["rights"])
platform = require_scope(Scope.platform, Scope.admin)
reader = require_scope(Scope.platform, Scope.reviewer, Scope.auditor, Scope.admin)
rights_reviewer = require_scope(Scope.reviewer, Scope.admin)
admin = require_scope(Scope.admin)
bank_reader = require_scope(Scope.admin, Scope.auditor)
BANK = r"^[A-Za-z0-9_.-]{1,100}$"
RAW_BODY = {
    "requestBody": {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    }
}
ITEM_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
OwnerId = Annotated[str, Query(min_length=1, max_length=200)]


class TakedownRequest(BaseModel):
    owner_id: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


class PreferenceUpdate(BaseModel):
    owner_id: str = Field(min_length=1, max_length=200)
    mode: notify.Mode


@router.get("/v1/cameos/{cameo_id}/usages", response_model=usages.CameoUsages)
def cameo_usages(
    cameo_id: str, owner_id: OwnerId, principal: Principal = Depends(platform)
) -> usages.CameoUsages:
    """Every use of the cameo, drafts and remixes included: each generation (draft, published,
    taken down) and each item that declares it, inherits it from what it remixes, or in which
    the feed matched its face or voice, with who made it and its state; and reviewers' misuse
    notices."""
    return usages.list_usages(cameo_id, owner_id, tenant=principal.data_tenant)


@router.post("/v1/cameos/{cameo_id}/usages/{usage}/takedown", response_model=usages.TakedownDone)
def take_down(
    cameo_id: str, usage: str, body: TakedownRequest, principal: Principal = Depends(platform)
) -> usages.TakedownDone:
    """The owner takes a use down at once: the item and every item derived from it leave the
    feed, their media is no longer served, the generation is marked; audited, and announced as
    `likeness.takedown`. Taking down the same use again changes nothing."""
    return usages.take_down(
        cameo_id,
        body.owner_id,
        usage,
        principal.actor,
        tenant=principal.data_tenant,
        reason=body.reason,
    )


class MatchDecision(BaseModel):
    owner_id: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)


MATCH_ID = r"^lkm_[0-9a-f]{16}$"


@router.get("/v1/cameos/{cameo_id}/matches", response_model=list[matches.MatchView])
def cameo_matches(
    cameo_id: str,
    owner_id: OwnerId,
    state: Annotated[str | None, Query(pattern="^(open|confirmed|dismissed)$")] = None,
    principal: Principal = Depends(platform),
) -> list[matches.MatchView]:
    """Items in which the feed's likeness check (every published item, uploads included) or a
    re-scan after her enrollment found her face or voice without a consent record, newest
    first, each open until she confirms or dismisses it. Only the owner sees them."""
    return matches.list_matches(
        cameo_id,
        owner_id,
        tenant=principal.data_tenant,
        state=state,  # type: ignore[arg-type]
    )


@router.post(
    "/v1/cameos/{cameo_id}/matches/{match_id}/confirm", response_model=matches.MatchDecided
)
def confirm_match(
    cameo_id: str,
    match_id: Annotated[str, Path_(pattern=MATCH_ID)],
    body: MatchDecision,
    principal: Principal = Depends(platform),
) -> matches.MatchDecided:
    """It is her: the item and every item derived from it are taken down at once, as her usage
    takedown does (media withheld, audited, `likeness.takedown` and `likeness.matches`)."""
    return matches.confirm(
        cameo_id,
        match_id,
        body.owner_id,
        principal.actor,
        tenant=principal.data_tenant,
        reason=body.reason,
    )


@router.post(
    "/v1/cameos/{cameo_id}/matches/{match_id}/dismiss", response_model=matches.MatchDecided
)
def dismiss_match(
    cameo_id: str,
    match_id: Annotated[str, Path_(pattern=MATCH_ID)],
    body: MatchDecision,
    principal: Principal = Depends(platform),
) -> matches.MatchDecided:
    """Not her: recorded and audited (`likeness.matches`), and no later scan raises this item
    for her cameo again."""
    return matches.dismiss(
        cameo_id,
        match_id,
        body.owner_id,
        principal.actor,
        tenant=principal.data_tenant,
        reason=body.reason,
    )


@router.get("/v1/likeness/notifications", response_model=notify.Preference)
def get_notifications(
    owner_id: OwnerId, principal: Principal = Depends(platform)
) -> notify.Preference:
    """How the owner hears of new uses of their cameos: every, daily or none (default every)."""
    return notify.read_preference(owner_id, tenant=principal.data_tenant or "")


@router.put("/v1/likeness/notifications", response_model=notify.Preference)
def set_notifications(
    body: PreferenceUpdate, principal: Principal = Depends(platform)
) -> notify.Preference:
    return notify.set_preference(
        body.owner_id, body.mode, principal.actor, tenant=principal.data_tenant or ""
    )


@router.get("/v1/feed/items/{item_id}/lineage", response_model=lineage.Lineage)
def item_lineage(item_id: str, principal: Principal = Depends(reader)) -> lineage.Lineage:
    """The item's ancestors (parent first) and every item derived from it, each with how its
    parent was known (the platform said so, or a fingerprint match found it)."""
    with short_session() as session:
        item = session.get(FeedItem, item_id) if re.match(ITEM_ID, item_id) else None
        tenant = principal.data_tenant
        if item is None or (tenant is not None and item.tenant != tenant):
            raise ApiError(404, f"no item {item_id}", code="unknown_item")
        return lineage.lineage(session, item)


def _names(raw: str) -> list[str]:
    raw = raw.strip()
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(422, f"not a JSON array: {exc.msg}") from exc
        return [str(v) for v in value]
    return [part.strip() for part in raw.split(",") if part.strip()]


@router.post("/v1/likeness/claims", status_code=201, response_model=claims.ClaimView)
@accepts_upload
async def submit_claim(
    person_name: Annotated[str, Form(min_length=2, max_length=200)],
    claimant_id: Annotated[str, Form(min_length=1, max_length=200)],
    claimant_role: Annotated[str, Form(description="estate | agent | person")],
    evidence: Annotated[str, Form(min_length=10, max_length=10_000)],
    policy: Annotated[str, Form(description="opt_out | opt_in")],
    files: Annotated[list[UploadFile], File(description="Photos and/or voice clips")],
    aliases: Annotated[str, Form(description="JSON array or comma list")] = "",
    licensed_user_ids: Annotated[str, Form(description="opt_in: JSON array or comma list")] = "",
    deceased: Annotated[bool, Form()] = False,
    principal: Principal = Depends(platform),
) -> claims.ClaimView:
    """A claim over a person's likeness (an estate, an agent, the person), with evidence and
    photos or voice clips of the person. Pending until a `rights` reviewer decides it: nothing
    takes effect unverified."""
    try:
        request = claims.ClaimRequest(
            person_name=person_name,
            aliases=_names(aliases),
            deceased=deceased,
            claimant_id=claimant_id,
            claimant_role=claimant_role,  # type: ignore[arg-type]
            evidence=evidence,
            policy=policy,  # type: ignore[arg-type]
            licensed_user_ids=_names(licensed_user_ids),
        )
    except ValidationError as exc:
        raise ApiError(422, str(exc.errors()[0]["msg"]), code="bad_claim") from exc
    limit = get_settings().max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, upload in enumerate(files):
            suffix = Path(upload.filename or "").suffix.lower()
            suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
            saved = await save_upload(upload, limit, Path(tmp), f"media{i}")
            paths.append(saved.rename(saved.with_suffix(suffix)) if suffix else saved)
        return await run_in_threadpool(
            claims.submit, request, paths, principal.actor, tenant=principal.data_tenant or ""
        )


@router.get("/v1/likeness/claims", response_model=list[claims.ClaimView])
def list_claims(
    status: Annotated[str | None, Query(pattern="^(pending|accepted|rejected)$")] = None,
    principal: Principal = Depends(rights_reviewer),
) -> list[claims.ClaimView]:
    """The claims queue (reviewers with the `rights` role)."""
    if "rights" not in principal.roles and Scope.admin.value not in principal.scopes:
        raise ApiError(403, "the claims queue needs the rights role", code="role_required")
    return claims.list_claims(status)


class ClaimDecision(BaseModel):
    decision: str = Field(pattern="^(accept|reject)$")
    reason: str = Field(min_length=3, max_length=2000)


@router.post("/v1/likeness/claims/{claim_id}/decision", response_model=claims.ClaimView)
def decide_claim(
    claim_id: str, body: ClaimDecision, principal: Principal = Depends(rights_reviewer)
) -> claims.ClaimView:
    """Accept (the face and voice join the protected bank, suspending existing cameos of them
    with a case each; the names join the prompt gate's real people) or reject."""
    accept = body.decision == "accept"
    return claims.decide(
        claim_id,
        accept,
        body.reason,
        principal.actor,
        principal.roles,
        consent_models.require_models() if accept else None,
    )


@router.post(
    "/v1/hashes/banks/{name}/import", response_model=hashes.BankImported, openapi_extra=RAW_BODY
)
@accepts_upload
async def import_bank(
    name: Annotated[str, Path_(pattern=BANK)],
    request: Request,
    action: Annotated[str, Query(pattern="^(review|remove|escalate)$")] = "review",
    negative: bool = False,
    child_safety: bool = False,
    default_type: Annotated[str | None, Query(pattern="^(pdq|vpdq)$")] = None,
    principal: Principal = Depends(admin),
) -> hashes.BankImported:
    """Imports an HMA / ThreatExchange file export (the raw body: one `<signal_type> <value>`
    a line) into the bank, creating it with its action, negative and child-safety flags."""
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, get_settings().max_upload_bytes, Path(tmp))
        text = path.read_text("utf-8", errors="replace")
    return await run_in_threadpool(
        hashes.import_bank,
        name,
        text,
        negative=negative,
        action=action,  # type: ignore[arg-type]
        child_safety=child_safety,
        default_type=default_type,
        actor=principal.actor,
    )


@router.get("/v1/hashes/banks/{name}/export", response_model=hashes.BankExport)
def export_bank(
    name: Annotated[str, Path_(pattern=BANK)], principal: Principal = Depends(bank_reader)
) -> hashes.BankExport:
    """The bank in the ThreatExchange file format HMA reads (`content`)."""
    return hashes.export_bank(name)


@router.post("/v1/hashes/match", response_model=hashes.MatchReport, openapi_extra=RAW_BODY)
@accepts_upload
async def match_hashes(
    request: Request,
    pdq: Annotated[str | None, Query(min_length=64, max_length=80)] = None,
    item_id: Annotated[str | None, Query(pattern=ITEM_ID)] = None,
    principal: Principal = Depends(platform),
) -> hashes.MatchReport:
    """A media file (the raw body: image or video) or a PDQ hash (`?pdq=`) against every bank:
    each match with its bank, distance and whether a negative bank suppressed it. With
    `item_id`, the strongest bank's action is applied to the feed item (a child-safety bank
    escalates: a case in the child-safety queue, media preserved, a CyberTipline package)."""
    tenant = principal.data_tenant
    if pdq is not None:
        return await run_in_threadpool(
            hashes.match_media, None, pdq, item_id=item_id, tenant=tenant, actor=principal.actor
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, get_settings().max_upload_bytes, Path(tmp))
        return await run_in_threadpool(
            hashes.match_media, path, None, item_id=item_id, tenant=tenant, actor=principal.actor
        )
