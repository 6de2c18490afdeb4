"""HTTP routes of the rights area: every use of a cameo and its takedown, owners' notification
preferences, remix lineage."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from cameoguard.auth.principal import Principal, Scope
from cameoguard.deps import require_scope, short_session
from cameoguard.errors import ApiError
from consumers.tables import FeedItem
from rights import lineage, notify, usages

router = APIRouter(tags=["rights"])
platform = require_scope(Scope.platform, Scope.admin)
reader = require_scope(Scope.platform, Scope.reviewer, Scope.auditor, Scope.admin)
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
