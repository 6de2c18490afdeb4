"""HTTP routes of the feed: uploading media to the store, publishing items, their state, user
reports and creators' appeals (both open review cases)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Literal

import av
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from cameoguard import media_store
from cameoguard.auth.principal import Principal, Scope
from cameoguard.contracts import FeedItemRequest
from cameoguard.deps import require_scope, short_session
from cameoguard.errors import ApiError
from cameoguard.settings import get_settings
from cameoguard.uploads import accepts_upload, spool_body
from consumers import webhooks
from consumers.feed_policy import feed_policy, signals_of
from consumers.items import ItemView, item_view, publish, review_snapshot
from consumers.tables import FeedDecision, FeedItem
from safety.media import estimate_work
from safety.review.cases import (
    add_report,
    item_signals,
    open_appeal,
    update_reach,
)
from safety.review.routing import review_policy
from safety.review.views import AppealStatus, appeal_status

router = APIRouter(tags=["feed"])
platform = require_scope(Scope.platform, Scope.admin)
reader = require_scope(Scope.platform, Scope.reviewer, Scope.auditor, Scope.admin)

ITEM_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
UserId = Field(min_length=1, max_length=200)


def _probe_video(path: Path) -> str:
    """The file's container suffix, if it is a video that FFmpeg can open; else a 422."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ApiError(422, "the upload has no video stream", code="not_video")
            name = container.format.name
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, f"the upload is not a readable video: {exc}", code="bad_media") from exc
    if "mp4" in name or "mov" in name:
        return ".mp4"
    if "webm" in name or "matroska" in name:
        return ".webm"
    raise ApiError(422, f"unsupported container {name!r}: send MP4 or WebM", code="bad_media")


class MediaStored(BaseModel):
    media_location: str = Field(description="Where the store keeps it, for POST /v1/feed/items")
    bytes: int


class ReportFiled(BaseModel):
    report_id: int
    case_id: str
    duplicate: bool = Field(description="The same reporter had already reported this item")
    reports_on_case: int


@router.post("/v1/media", status_code=201, response_model=MediaStored)
@accepts_upload
async def upload_media(request: Request, principal: Principal = Depends(platform)) -> MediaStored:
    """Stores a video (the raw request body, MP4 or WebM) in the content-addressed media store
    and answers its location, for `POST /v1/feed/items`."""
    limit = get_settings().max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, limit, Path(tmp))
        suffix = await run_in_threadpool(_probe_video, path)
        # What the feed's workers could not analyse is refused now (413), not dead-lettered later.
        await run_in_threadpool(estimate_work, path, get_settings().likeness_max_seconds, 0.5)
        size = path.stat().st_size
        location = await run_in_threadpool(media_store.put, path, suffix)
    return MediaStored(media_location=location, bytes=size)


class PublishRequest(BaseModel):
    item_id: str = Field(pattern=ITEM_ID, description="The platform's id for the item")
    author_id: str = UserId
    media_location: str = Field(min_length=1, max_length=500)
    caption: str = Field("", max_length=10_000)
    author_age_group: Literal["adult", "teen", "unknown"] = "unknown"
    audience_age_group: Literal["all", "adult", "teen"] = "all"
    cameo_ids: list[str] = Field(default_factory=list, max_length=10)
    provenance: dict[str, str | None] = Field(
        default_factory=dict, description="watermark_id, generation_id, c2pa_state"
    )
    remix_of: str | None = Field(
        None, pattern=ITEM_ID, description="The item this one remixes: its cameos follow"
    )


@router.post("/v1/feed/items", status_code=202, response_model=ItemView)
def publish_item(body: PublishRequest, principal: Principal = Depends(platform)) -> ItemView:
    """Publishes an item into the feed: it is stored in state `scoring` and streamed to the
    classifier workers; the aggregator's decision sets its state. 202: the decision follows."""
    try:
        media_store.resolve(body.media_location)
    except media_store.MediaLocationError as exc:
        raise ApiError(422, str(exc), code="bad_media_location") from exc
    except FileNotFoundError as exc:
        raise ApiError(422, str(exc), code="media_not_found") from exc
    unknown = set(body.provenance) - {"watermark_id", "generation_id", "c2pa_state"}
    if unknown:
        raise ApiError(422, f"unknown provenance fields {sorted(unknown)}")
    new = FeedItemRequest(
        item_id=body.item_id,
        author_id=body.author_id,
        media_location=body.media_location,
        caption=body.caption,
        author_age_group=body.author_age_group,
        audience_age_group=body.audience_age_group,
        cameo_ids=body.cameo_ids,
        provenance=body.provenance,
        tenant=principal.data_tenant or "",
        remix_of=body.remix_of,
    )
    with short_session(write=True) as session:
        item = publish(session, new, actor=principal.actor)
        session.flush()
        return item_view(item)


def _get_item(session: Any, item_id: str, principal: Principal) -> FeedItem:
    """The item, if it is of the caller's tenant (another tenant's items do not exist here)."""
    item = session.get(FeedItem, item_id) if re.match(ITEM_ID, item_id) else None
    tenant = principal.data_tenant
    if item is None or (tenant is not None and item.tenant != tenant):
        raise ApiError(404, f"no item {item_id}", code="unknown_item")
    return item


def _reviewer_may_read(session: Any, item: FeedItem, principal: Principal) -> bool:
    """A reviewer reads an item only with the roles its signals need (from the feed's decisions
    and from its review cases): an item with a minors signal needs child_safety."""
    if principal.scopes & {"platform", "admin", "auditor"}:
        return True
    signals = set(item_signals(session, item.id))
    for risks in session.scalars(select(FeedDecision.risks).where(FeedDecision.item_id == item.id)):
        signals.update(signals_of(feed_policy(), risks or {}))
    return review_policy().roles_for_signals(sorted(signals)) <= principal.roles


@router.get("/v1/feed/items/{item_id}", response_model=ItemView)
def get_item(item_id: str, principal: Principal = Depends(reader)) -> ItemView:
    """The item's state (`scoring`, `published`, `age_restricted`, `in_review`, `removed`) and
    the reasons for it. Reviewers see items with a minors signal only with the child_safety
    role."""
    with short_session() as session:
        item = _get_item(session, item_id, principal)
        if not _reviewer_may_read(session, item, principal):
            raise ApiError(404, f"no item {item_id}", code="unknown_item")
        return item_view(item)


class ReachUpdate(BaseModel):
    views: int = Field(ge=0, le=10**12)


@router.post("/v1/feed/items/{item_id}/reach", response_model=ItemView)
def set_reach(
    item_id: str, body: ReachUpdate, principal: Principal = Depends(platform)
) -> ItemView:
    """The item's view count so far: open review cases of widely seen items come first."""
    with short_session(write=True) as session:
        item = _get_item(session, item_id, principal)
        item.views = max(item.views, body.views)
        update_reach(session, item_id, item.views)
        return item_view(item)


class ReportRequest(BaseModel):
    item_id: str = Field(min_length=1, max_length=64)
    reporter_id: str = UserId
    reason: str = Field(min_length=1, max_length=40)
    note: str = Field("", max_length=2000)


@router.post("/v1/reports", status_code=201, response_model=ReportFiled)
def report(body: ReportRequest, principal: Principal = Depends(platform)) -> ReportFiled:
    """A user's report of an item. Reports of one item share its open review case; the same
    reporter reporting again while the case is open is answered with the first report."""
    with short_session(write=True) as session:
        item = _get_item(session, body.item_id, principal)
        row, case, duplicate = add_report(
            session,
            review_policy(),
            item_id=item.id,
            reporter_id=body.reporter_id,
            reason=body.reason,
            note=body.note,
            snapshot=review_snapshot(session, item),
            reach=item.views,
        )
        return ReportFiled(
            report_id=row.id,
            case_id=case.id,
            duplicate=duplicate,
            reports_on_case=case.report_count,
        )


class AppealRequest(BaseModel):
    item_id: str = Field(min_length=1, max_length=64)
    author_id: str = UserId
    statement: str = Field(min_length=1, max_length=5000)


@router.post("/v1/appeals", status_code=201, response_model=AppealStatus)
def appeal(body: AppealRequest, principal: Principal = Depends(platform)) -> AppealStatus:
    """The creator appeals the removal of their item: a case for a different reviewer."""
    with short_session(write=True) as session:
        item = _get_item(session, body.item_id, principal)
        if item.author_id != body.author_id:
            raise ApiError(403, "only the item's author can appeal", code="not_author")
        if item.state != "removed":
            raise ApiError(409, f"the item is {item.state}, not removed", code="not_removed")
        case = open_appeal(
            session,
            review_policy(),
            item_id=item.id,
            removed_at=item.state_changed_at,
            statement=body.statement,
            snapshot=review_snapshot(session, item),
        )
        session.flush()
        status = appeal_status(session, case.id)
        assert status is not None
        return status


@router.get("/v1/appeals/{appeal_id}", response_model=AppealStatus)
def get_appeal(appeal_id: str, principal: Principal = Depends(platform)) -> AppealStatus:
    """The appeal's status and, once decided, its outcome (`granted` reinstates the item)."""
    with short_session() as session:
        status = appeal_status(session, appeal_id)
        item = session.get(FeedItem, status.item_id) if status and status.item_id else None
        tenant = principal.data_tenant
        if status is None or (tenant is not None and (item is None or item.tenant != tenant)):
            raise ApiError(404, f"no appeal {appeal_id}", code="unknown_appeal")
    return status


admin_or_platform = require_scope(Scope.admin, Scope.platform)


class WebhookRequest(BaseModel):
    url: str = Field(min_length=8, max_length=2000, description="http(s) URL that receives POSTs")
    topics: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Outbox topics to receive (e.g. content.decisions, consent.revoked); empty:"
        " every topic, including ones added later",
    )


class WebhookView(BaseModel):
    id: str
    url: str
    topics: list[str]
    tenant: str | None


class WebhookCreated(WebhookView):
    secret: str = Field(
        description="HMAC-SHA256 key of X-Cameoguard-Signature (t=<unix>,v1=<hex of"
        ' "<t>.<body>">); shown once'
    )


@router.post("/v1/webhooks", status_code=201, response_model=WebhookCreated, tags=["webhooks"])
def create_webhook(
    body: WebhookRequest, principal: Principal = Depends(admin_or_platform)
) -> WebhookCreated:
    """Registers a URL for outbox events from now on: signed, retried with backoff, at least
    once, with an `Idempotency-Key` header per event."""
    sub = webhooks.subscribe(
        body.url, body.topics, tenant=principal.data_tenant, actor=principal.actor
    )
    return WebhookCreated(
        id=sub.id, url=sub.url, topics=sub.topics, tenant=sub.tenant,
        secret=webhooks.secret_of(sub.id),
    )  # fmt: skip


@router.get("/v1/webhooks", response_model=list[WebhookView], tags=["webhooks"])
def list_webhooks(principal: Principal = Depends(admin_or_platform)) -> list[WebhookView]:
    """The active webhooks (of the key's tenant for a tenant-bound key)."""
    return [
        WebhookView(id=s.id, url=s.url, topics=s.topics, tenant=s.tenant)
        for s in webhooks.subscriptions(principal.data_tenant)
    ]


@router.delete("/v1/webhooks/{webhook_id}", response_model=WebhookView, tags=["webhooks"])
def delete_webhook(
    webhook_id: str, principal: Principal = Depends(admin_or_platform)
) -> WebhookView:
    """Stops a webhook at once: its pending deliveries are cancelled."""
    sub = webhooks.unsubscribe(webhook_id, tenant=principal.data_tenant, actor=principal.actor)
    return WebhookView(id=sub.id, url=sub.url, topics=sub.topics, tenant=sub.tenant)
