"""HTTP routes of the consent area: cameo enrollment and settings, consent and likeness checks,
and the protected-people bank."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.principal import Principal, Scope
from cameoguard.cost import run_costly, run_costly_in_process
from cameoguard.deps import require_scope
from cameoguard.errors import ApiError
from cameoguard.settings import get_settings
from cameoguard.uploads import accepts_upload, save_upload, spool_body
from safety.consent import cameos, challenges, checks, enrollment, likeness, protected
from safety.consent.cameos import CameoView
from safety.consent.models import require_models
from safety.media import MediaError, estimate_work
from safety.policy.service import require_engine

router = APIRouter(tags=["consent"])
platform = require_scope(Scope.platform, Scope.admin)
checker = require_scope(Scope.platform, Scope.reviewer, Scope.auditor, Scope.admin)
admin = require_scope(Scope.admin)
UserId = Annotated[str, Field(min_length=1, max_length=200)]


class ChallengeRequest(BaseModel):
    owner_id: UserId


class PermissionsUpdate(BaseModel):
    owner_id: UserId
    permission: str = Field(description="only_me | approved | mutuals | everyone")
    approved_user_ids: list[UserId] = Field(default_factory=list, max_length=10_000)
    restrictions: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20
    )


class ConsentCheck(BaseModel):
    requester_id: UserId
    requester_age_group: str = Field("adult", pattern="^(adult|teen)$")
    cameo_ids: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=10)
    prompt: str = Field(min_length=1, max_length=10_000)
    mutual_owner_ids: list[UserId] = Field(
        default_factory=list,
        max_length=10_000,
        description="Owners the platform says are mutuals of the requester",
    )


def _tenant(principal: Principal) -> str:
    """The tenant new enrollments belong to (an admin enrolls into the default tenant)."""
    return principal.data_tenant or ""


def _list_field(raw: str, name: str) -> list[str]:
    """A multipart list field: a JSON array, or comma-separated values."""
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(422, f"{name}: not a JSON array ({exc.msg})") from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(422, f"{name}: must be an array of strings")
        return value
    return [part.strip() for part in raw.split(",") if part.strip()]


@router.post("/v1/cameos/challenges", status_code=201, response_model=challenges.Challenge)
def create_challenge(
    body: ChallengeRequest, principal: Principal = Depends(platform)
) -> challenges.Challenge:
    """Starts an enrollment: the phrase (a random digit sequence) the selfie video must speak."""
    return challenges.create_challenge(body.owner_id, _tenant(principal), actor=principal.actor)


@router.post("/v1/cameos", status_code=201, response_model=CameoView)
@accepts_upload
async def enroll(
    owner_id: Annotated[str, Form(min_length=1, max_length=200)],
    challenge_id: Annotated[str, Form(min_length=1, max_length=40)],
    permission: Annotated[str, Form()] = "only_me",
    approved_user_ids: Annotated[str, Form(description="JSON array or comma list")] = "",
    restrictions: Annotated[str, Form(description="JSON array of short texts")] = "",
    owner_is_minor: Annotated[bool, Form()] = False,
    store_face_image: Annotated[bool, Form()] = False,
    video: Annotated[UploadFile | None, File(description="Selfie video with audio")] = None,
    images: Annotated[list[UploadFile] | None, File(description="1-5 face photos")] = None,
    voice: Annotated[UploadFile | None, File(description="Voice clip (with images)")] = None,
    principal: Principal = Depends(platform),
) -> CameoView:
    """Enrolls a cameo from a selfie video with audio that speaks the challenge phrase (or from
    photos plus a voice clip). Stores encrypted embeddings, and the face image only if
    `store_face_image`. Every refusal is a 4xx with the reason, and stores nothing."""
    models = require_models()
    request = enrollment.EnrollmentRequest(
        owner_id=owner_id,
        challenge_id=challenge_id,
        owner_is_minor=owner_is_minor,
        permission=permission,
        approved_user_ids=_list_field(approved_user_ids, "approved_user_ids"),
        restrictions=_list_field(restrictions, "restrictions"),
        store_face_image=store_face_image,
        tenant=_tenant(principal),
    )
    limit = get_settings().max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        video_path = await save_upload(video, limit, directory, "video") if video else None
        image_paths = [
            await save_upload(f, limit, directory, f"image{i}") for i, f in enumerate(images or [])
        ]
        voice_path = await save_upload(voice, limit, directory, "voice") if voice else None
        uploads = [p for p in (video_path, *image_paths, voice_path) if p is not None]
        seconds = get_settings().enrollment_max_seconds
        cost = sum([await run_in_threadpool(_enrollment_cost, p, seconds) for p in uploads])
        return await run_costly(
            principal.key_id,
            cost,
            enrollment.enroll,
            request,
            models,
            video=video_path,
            images=image_paths,
            voice=voice_path,
            actor=principal.actor,
        )


def _enrollment_cost(path: Path, max_seconds: float) -> float:
    """The estimated work of one enrollment upload. Media that cannot be used is not refused
    here: the enrollment itself refuses it, after spending the challenge (every attempt does)."""
    try:
        return estimate_work(path, max_seconds, 2.0)
    except MediaError:
        return 100.0


@router.get("/v1/cameos/{cameo_id}", response_model=CameoView)
def get_cameo(
    cameo_id: str,
    owner_id: Annotated[str, Query(min_length=1)],
    principal: Principal = Depends(platform),
) -> CameoView:
    return cameos.get_cameo(cameo_id, owner_id, tenant=principal.data_tenant)


@router.patch("/v1/cameos/{cameo_id}", response_model=CameoView)
def update_permissions(
    cameo_id: str, body: PermissionsUpdate, principal: Principal = Depends(platform)
) -> CameoView:
    """Changes who may use the cameo; effective at once, and emits `consent.revoked`
    (reason `permissions_changed`) so that queued and published uses are re-checked."""
    return cameos.update_permissions(
        cameo_id,
        body.owner_id,
        body.permission,
        list(body.approved_user_ids),
        list(body.restrictions),
        actor=principal.actor,
        tenant=principal.data_tenant,
    )


@router.delete("/v1/cameos/{cameo_id}", response_model=CameoView)
def revoke(
    cameo_id: str,
    owner_id: Annotated[str, Query(min_length=1)],
    purge: bool = False,
    principal: Principal = Depends(platform),
) -> CameoView:
    """Revokes the cameo at once and emits `consent.revoked`. Without `purge` the face and voice
    stay in the registry so that nobody can use them; `purge=true` deletes them too."""
    return cameos.revoke(
        cameo_id, owner_id, actor=principal.actor, purge=purge, tenant=principal.data_tenant
    )


@router.get("/v1/cameos", response_model=list[CameoView])
def owner_cameos(
    owner_id: Annotated[str, Query(min_length=1, max_length=200)],
    principal: Principal = Depends(platform),
) -> list[CameoView]:
    """Every cameo of an owner (revoked ones included), newest first."""
    return cameos.owner_cameos(owner_id, tenant=principal.data_tenant)


@router.post("/v1/checks/consent", response_model=checks.ConsentDecision)
def check_consent(
    body: ConsentCheck, principal: Principal = Depends(platform)
) -> checks.ConsentDecision:
    """May this requester use these cameos with this prompt? `allow`/`block` per cameo, with the
    reason, and a recorded grant id that the generation then cites."""
    return checks.check_consent(
        checks.ConsentRequest(
            requester_id=body.requester_id,
            cameo_ids=list(body.cameo_ids),
            prompt=body.prompt,
            requester_age_group=body.requester_age_group,
            mutual_owner_ids=list(body.mutual_owner_ids),
            tenant=principal.data_tenant,
        ),
        require_engine(),
        actor=principal.actor,
    )


@router.post(
    "/v1/checks/likeness",
    response_model=likeness.LikenessReport,
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
@accepts_upload
async def check_likeness(
    request: Request,
    requester_id: Annotated[str | None, Query(max_length=200)] = None,
    mutual_owner_ids: Annotated[list[str] | None, Query()] = None,
    principal: Principal = Depends(checker),
) -> likeness.LikenessReport:
    """Upload an image, video or audio file as the raw body. Faces and voices in it are matched
    1:N against enrolled cameos and protected people; each match has its score, threshold and,
    with `requester_id`, the consent status for that requester. Every search is audited.
    Reviewer and auditor keys learn whether a face or voice matched an enrolled person, not
    which cameo or whose."""
    models = require_models()
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, settings.max_upload_bytes, Path(tmp))
        cost = await run_in_threadpool(estimate_work, path, settings.likeness_max_seconds, 1.0)
        # Decoding and the face and voice models run in a heavy-work process (their Python
        # glue would hold this process's GIL); matching against the registry runs here.
        seen = await run_costly_in_process(
            principal.key_id,
            cost,
            likeness.analyse_file_in_worker,
            str(path),
            settings.likeness_max_seconds,
        )
        report = await run_in_threadpool(
            likeness.report_likeness,
            seen,
            models,
            requester_id=requester_id,
            mutual_owner_ids=mutual_owner_ids or [],
            tenant=principal.data_tenant,
        )
    await run_in_threadpool(likeness.record_likeness_search, report, principal.actor, requester_id)
    if principal.scopes & {Scope.platform.value, Scope.admin.value}:
        return report
    return likeness.without_identities(report)


@router.post("/v1/protected-people", status_code=201, response_model=protected.ProtectedAdded)
@accepts_upload
async def add_protected_person(
    name: Annotated[str, Form(min_length=1, max_length=200)],
    files: Annotated[list[UploadFile], File(description="Photos and/or a voice clip")],
    note: Annotated[str, Form(max_length=2000)] = "",
    principal: Principal = Depends(admin),
) -> protected.ProtectedAdded:
    """Adds a person whose likeness must never be generated without their own cameo."""
    models = require_models()
    limit = get_settings().max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        paths = [await save_upload(f, limit, Path(tmp), f"media{i}") for i, f in enumerate(files)]
        seconds = get_settings().likeness_max_seconds
        cost = sum([await run_in_threadpool(estimate_work, p, seconds, 1.0) for p in paths])
        return await run_costly(
            principal.key_id,
            cost,
            protected.add_protected_person,
            name,
            note,
            models,
            paths,
            principal.actor,
        )
