"""HTTP routes of the generator: submit a generation (answered at once with a job id), follow
it, fetch its marked video; upload reference media."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cameoguard import media_store
from cameoguard.auth.principal import Principal, Scope
from cameoguard.cost import run_costly
from cameoguard.deps import VIDEO_RESPONSE, require_scope, short_session
from cameoguard.errors import ApiError
from cameoguard.heartbeats import last_seen_age
from cameoguard.settings import get_settings
from cameoguard.uploads import accepts_upload, spool_body
from generator.backends import ASPECTS
from generator.jobs import JobRequest, JobView, job_view, submit
from generator.tables import GenerationJob
from safety.consent.cameos import consent_withdrawn, known_cameos
from safety.media import MediaError, estimate_work, load_media

router = APIRouter(tags=["generation"])
platform = require_scope(Scope.platform, Scope.admin)
UserId = Annotated[str, Field(min_length=1, max_length=200)]


class PublishOptions(BaseModel):
    caption: str = Field("", max_length=10_000)
    audience_age_group: Literal["all", "adult", "teen"] = "all"


class GenerationRequest(BaseModel):
    requester_id: UserId
    requester_age_group: Literal["adult", "teen"] = "adult"
    requester_handle: str | None = Field(None, max_length=50, description="Shown in the mark")
    prompt: str = Field(min_length=1, max_length=4000)
    cameo_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=4
    )
    mutual_owner_ids: list[UserId] = Field(default_factory=list, max_length=10_000)
    duration_s: float = Field(10.0, gt=0, description="Seconds (at most the configured maximum)")
    aspect_ratio: str = Field("16:9", description="16:9, 9:16 or 1:1")
    reference_location: str | None = Field(
        None, max_length=500, description="From POST /v1/generations/references"
    )
    idempotency_key: str | None = Field(None, min_length=8, max_length=200)
    publish: PublishOptions | None = Field(None, description="Publish to the feed when done")


class ReferenceStored(BaseModel):
    reference_location: str
    kind: Literal["image", "audio", "video"]


class GenerationAccepted(JobView):
    created: bool = Field(description="False when the idempotency key returned an earlier job")


GENERATOR_UNSEEN_S = 60.0


def generator_warning() -> str | None:
    """A warning when no generator worker has beaten for a minute: queued jobs wait for one."""
    age = last_seen_age("generator")
    if age is not None and age <= GENERATOR_UNSEEN_S:
        return None
    since = "ever" if age is None else f"for {age:.0f} s"
    return (
        f"no generator worker seen {since}: the job stays queued until one runs"
        " (`cameoguard worker generator`, or `cameoguard up` for everything)"
    )


@router.post("/v1/generations/references", status_code=201, response_model=ReferenceStored)
@accepts_upload
async def upload_reference(
    request: Request, principal: Principal = Depends(platform)
) -> ReferenceStored:
    """Reference media for a generation (an image, a voice clip or a short video) as the raw
    body. Anything that does not decode as media is refused (422) and nothing is stored."""
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, settings.max_upload_bytes, Path(tmp))
        seconds = settings.likeness_max_seconds
        cost = await run_in_threadpool(estimate_work, path, seconds, 0.1)
        try:
            media = await run_costly(
                principal.key_id, cost, load_media, path, max_seconds=seconds, max_frames=1
            )
        except MediaError as exc:
            raise MediaError(f"not usable media: {exc}", exc.kind, exc.details) from exc
        suffix = {"image": ".img", "audio": ".audio", "video": ".video"}[media.kind]
        location = await run_in_threadpool(media_store.put, path, suffix)
    return ReferenceStored(reference_location=location, kind=media.kind)  # type: ignore[arg-type]


@router.post("/v1/generations", status_code=202, response_model=GenerationAccepted)
def create_generation(
    body: GenerationRequest,
    principal: Principal = Depends(platform),
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=200)] = None,
) -> GenerationAccepted:
    """Queues a generation and answers at once with its id. The checks, the render, the scan,
    the marks and the signature run in a worker; `GET /v1/generations/{id}` follows it. The
    idempotency key (body or `Idempotency-Key` header) makes a retry return the same job."""
    key = body.idempotency_key or idempotency_key
    if not key:
        raise ApiError(422, "an idempotency key is required (body or Idempotency-Key header)")
    limit = get_settings().generation_max_seconds
    if body.duration_s > limit:
        raise ApiError(
            422, f"duration {body.duration_s:g} s is over the limit of {limit:g} s", code="too_long"
        )
    if body.aspect_ratio not in ASPECTS:
        raise ApiError(
            422,
            f"unsupported aspect ratio {body.aspect_ratio!r}; one of {sorted(ASPECTS)}",
            code="bad_aspect_ratio",
        )
    if body.reference_location is not None:
        try:
            media_store.resolve(body.reference_location)
        except (media_store.MediaLocationError, FileNotFoundError) as exc:
            raise ApiError(422, f"reference: {exc}", code="bad_reference") from exc
    request = JobRequest(
        requester_id=body.requester_id,
        prompt=body.prompt,
        idempotency_key=key,
        requester_age_group=body.requester_age_group,
        requester_handle=body.requester_handle,
        cameo_ids=body.cameo_ids,
        mutual_owner_ids=body.mutual_owner_ids,
        duration_s=body.duration_s,
        aspect_ratio=body.aspect_ratio,
        reference_location=body.reference_location,
        publish=body.publish.model_dump() if body.publish else None,
        tenant=principal.data_tenant or "",
    )
    with short_session(write=True) as session:
        known = known_cameos(body.cameo_ids, tenant=principal.data_tenant)
        unknown = sorted(set(body.cameo_ids) - known)
        if unknown:
            raise ApiError(422, f"unknown cameos {unknown}", code="unknown_cameo")
        job, created = submit(session, request, actor=principal.actor)
        session.flush()
        view = job_view(job)
    return GenerationAccepted(**_warned(view).model_dump(), created=created)


def _warned(view: JobView) -> JobView:
    """The job, with a warning while it is queued and no generator worker runs."""
    if view.state == "queued":
        view.warning = generator_warning()
    return view


def _job(session: Any, generation_id: str, principal: Principal) -> GenerationJob:
    """The job, if it is of the caller's tenant (another tenant's jobs do not exist here)."""
    job = session.get(GenerationJob, generation_id)
    tenant = principal.data_tenant
    if job is None or (tenant is not None and job.tenant != tenant):
        raise ApiError(404, f"no generation {generation_id}", code="unknown_generation")
    return job


@router.get("/v1/generations/{generation_id}", response_model=JobView)
def get_generation(generation_id: str, principal: Principal = Depends(platform)) -> JobView:
    """The job's state, each step with its outcome, timing and details, and the media link
    when done."""
    with short_session() as session:
        view = job_view(_job(session, generation_id, principal))
    return _warned(view)


@router.get(
    "/v1/generations/{generation_id}/media", response_class=FileResponse, responses=VIDEO_RESPONSE
)
def generation_media(generation_id: str, principal: Principal = Depends(platform)) -> FileResponse:
    """The marked and signed MP4 of a finished generation; 410 once consent for any of its
    cameos is withdrawn (revoked, suspended or deleted)."""
    with short_session() as session:
        job = _job(session, generation_id, principal)
        if job.state != "done" or not job.output_location:
            raise ApiError(409, f"the generation is {job.state}, not done", code="not_done")
        location, cameo_ids = job.output_location, list(job.cameo_ids or [])
    if (why := media_store.withheld(location)) is not None:
        raise ApiError(410, f"the output was taken down: {why}", code="media_withheld")
    withdrawn = consent_withdrawn(cameo_ids)
    if withdrawn:
        raise ApiError(
            410,
            "consent for a cameo in this generation was withdrawn: its media is no longer served",
            code="consent_withdrawn",
            details={"cameos": withdrawn},
        )
    try:
        path = media_store.resolve(location)
    except (media_store.MediaLocationError, FileNotFoundError) as exc:
        raise ApiError(404, f"the output is gone: {exc}", code="media_gone") from exc
    return FileResponse(path, media_type="video/mp4", filename=f"{generation_id}.mp4")
