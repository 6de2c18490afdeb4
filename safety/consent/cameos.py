"""Cameos as their owners manage them: the view of one, permission changes and revocation
(each emits `consent.revoked`), every use of it, misuse notices from reviewers, and the stored
face images the generator composites."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.contracts import CONSENT_REVOKED, ConsentRevoked
from cameoguard.db import session_scope, utcnow
from cameoguard.events import emit
from cameoguard.timestamps import Timestamp
from safety.consent import permissions as perms
from safety.consent.errors import RefusalKind, fail
from safety.consent.sealing import unseal
from safety.consent.tables import Cameo, CameoNotice, ConsentGrant


class CameoView(BaseModel):
    """A cameo's settings and state (never its embeddings or image)."""

    id: str
    owner_id: str
    status: Literal["active", "revoked", "suspended"]
    owner_is_minor: bool
    minor_reason: str | None
    permission: str
    approved_user_ids: list[str]
    restrictions: list[str]
    version: int
    face_model: str | None
    voice_model: str | None
    has_face_image: bool
    liveness: dict[str, Any] | None
    created_at: Timestamp | None
    revoked_at: Timestamp | None


def cameo_view(c: Cameo) -> CameoView:
    return CameoView(
        id=c.id,
        owner_id=c.owner_id,
        status=c.status,  # type: ignore[arg-type]
        owner_is_minor=c.owner_is_minor,
        minor_reason=c.minor_reason,
        permission=c.permission,
        approved_user_ids=list(c.approved_user_ids or []),
        restrictions=list(c.restrictions or []),
        version=c.version,
        face_model=c.face_model,
        voice_model=c.voice_model,
        has_face_image=c.face_image is not None,
        liveness=c.liveness,
        created_at=c.created_at,
        revoked_at=c.revoked_at,
    )


def in_tenant(cameo: Cameo | None, tenant: str | None) -> bool:
    """A cameo of `tenant` (None: the operator's keys, who see every tenant's)."""
    return cameo is not None and (tenant is None or cameo.tenant == tenant)


def owned(session: Session, cameo_id: str, owner_id: str, tenant: str | None) -> Cameo:
    """The owner's cameo in the caller's tenant; an unknown cameo otherwise (another tenant's
    cameos do not exist for this caller)."""
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or not in_tenant(cameo, tenant) or cameo.owner_id != owner_id:
        raise fail(RefusalKind.not_found, "no such cameo for this owner", code="cameo_unknown")
    return cameo


def get_cameo(cameo_id: str, owner_id: str, *, tenant: str | None) -> CameoView:
    with session_scope() as session:
        return cameo_view(owned(session, cameo_id, owner_id, tenant))


def owner_cameos(owner_id: str, *, tenant: str | None) -> list[CameoView]:
    """Every cameo of an owner, newest first (revoked ones included)."""
    query = select(Cameo).where(Cameo.owner_id == owner_id).order_by(Cameo.created_at.desc())
    if tenant is not None:
        query = query.where(Cameo.tenant == tenant)
    with session_scope() as session:
        return [cameo_view(c) for c in session.scalars(query)]


def update_permissions(
    cameo_id: str,
    owner_id: str,
    permission: str,
    approved_user_ids: list[str],
    restrictions: list[str],
    actor: str,
    *,
    tenant: str | None,
) -> CameoView:
    with session_scope(write=True) as session:
        cameo = owned(session, cameo_id, owner_id, tenant)
        if cameo.status != "active":
            raise fail(RefusalKind.conflict, f"cameo is {cameo.status}", code="cameo_revoked")
        try:
            perms.validate_settings(
                permission, approved_user_ids, restrictions, cameo.owner_is_minor
            )
        except perms.PermissionError_ as exc:
            raise fail(RefusalKind.invalid, str(exc), code="bad_permissions") from exc
        before = {
            "permission": cameo.permission,
            "approved_user_ids": list(cameo.approved_user_ids or []),
            "restrictions": list(cameo.restrictions or []),
        }
        cameo.permission = permission
        cameo.approved_user_ids = sorted(set(approved_user_ids))
        cameo.restrictions = restrictions
        cameo.version += 1
        cameo.updated_at = utcnow()
        emit_revoked(session, cameo, "permissions_changed")
        audit(
            session,
            actor=actor,
            action="cameo.permissions",
            subject=cameo_id,
            reason=f"owner {owner_id}",
            details={"before": before, "version": cameo.version},
        )
        return cameo_view(cameo)


def emit_revoked(
    session: Session, cameo: Cameo, reason: Literal["revoked", "permissions_changed"]
) -> None:
    """The `consent.revoked` event, in the caller's transaction."""
    event = ConsentRevoked(
        cameo_id=cameo.id,
        cameo_version=cameo.version,
        reason=reason,
        status="active" if cameo.status == "active" else "revoked",
        permission=cameo.permission,
        approved_user_ids=list(cameo.approved_user_ids or []),
        at=utcnow(),
    )
    emit(session, CONSENT_REVOKED, cameo.id, event.model_dump(mode="json"))


def revoke(
    cameo_id: str, owner_id: str, actor: str, purge: bool = False, *, tenant: str | None
) -> CameoView:
    """Takes effect at once for new requests. The face and voice stay in the registry (so the
    likeness check keeps refusing them) unless `purge` deletes them."""
    with session_scope(write=True) as session:
        cameo = owned(session, cameo_id, owner_id, tenant)
        if cameo.status != "revoked":
            cameo.status = "revoked"
            cameo.revoked_at = utcnow()
            cameo.version += 1
            emit_revoked(session, cameo, "revoked")
        if purge:
            cameo.face_embedding = cameo.voice_embedding = cameo.face_image = None
        cameo.updated_at = utcnow()
        audit(
            session,
            actor=actor,
            action="cameo.revoke",
            subject=cameo_id,
            reason=f"owner {owner_id}",
            details={"purge": purge},
        )
        return cameo_view(cameo)


class MisuseNotice(BaseModel):
    item_id: str | None
    case_id: str
    action: str
    reason_code: str
    at: Timestamp


class GenerationUse(BaseModel):
    generation_id: str
    requester_id: str
    grant_id: str
    cameo_version: int
    at: Timestamp


class Usages(BaseModel):
    cameo_id: str
    misuse_notices: list[MisuseNotice]
    generations: list[GenerationUse]


def usages(cameo_id: str, owner_id: str, *, tenant: str | None) -> Usages:
    """Every generation that used the cameo (drafts included: whatever recorded a grant)."""
    with session_scope() as session:
        owned(session, cameo_id, owner_id, tenant)
        grants = session.scalars(
            select(ConsentGrant)
            .where(ConsentGrant.cameo_id == cameo_id, ConsentGrant.generation_id.is_not(None))
            .order_by(ConsentGrant.created_at)
        ).all()
        notices = session.scalars(
            select(CameoNotice)
            .where(CameoNotice.cameo_id == cameo_id)
            .order_by(CameoNotice.created_at)
        ).all()
        return Usages(
            cameo_id=cameo_id,
            misuse_notices=[
                MisuseNotice(
                    item_id=n.item_id,
                    case_id=n.case_id,
                    action=n.action,
                    reason_code=n.reason_code,
                    at=n.created_at,
                )
                for n in notices
            ],
            generations=[
                GenerationUse(
                    generation_id=g.generation_id or "",
                    requester_id=g.requester_id,
                    grant_id=g.id,
                    cameo_version=g.cameo_version,
                    at=g.created_at,
                )
                for g in grants
            ],
        )


def known_cameos(cameo_ids: list[str], *, tenant: str | None) -> set[str]:
    """Which of these ids name a cameo of the tenant (any state): the generator refuses
    unknown ones."""
    if not cameo_ids:
        return set()
    query = select(Cameo.id).where(Cameo.id.in_(cameo_ids))
    if tenant is not None:
        query = query.where(Cameo.tenant == tenant)
    with session_scope() as session:
        return set(session.scalars(query))


def consent_withdrawn(cameo_ids: list[str]) -> dict[str, str]:
    """Of these cameos, those whose consent is no longer in force, with why: their status
    (revoked, suspended...) or `gone` for a cameo that no longer exists. Any tenant: the
    callers ask about media already made with the cameos."""
    if not cameo_ids:
        return {}
    with session_scope() as session:
        query = select(Cameo.id, Cameo.status).where(Cameo.id.in_(cameo_ids))
        states = {cameo_id: status for cameo_id, status in session.execute(query)}
    return {
        cameo_id: states.get(cameo_id, "gone")
        for cameo_id in cameo_ids
        if states.get(cameo_id) != "active"
    }


def notify_misuse(
    session: Session,
    cameo_id: str,
    *,
    item_id: str | None,
    case_id: str,
    action: str,
    reason_code: str,
) -> bool:
    """Adds a misuse notice to the cameo owner's record (called by the review area in the
    reviewer's decision's transaction). False when no such cameo exists (purged)."""
    if session.get(Cameo, cameo_id) is None:
        return False
    session.add(
        CameoNotice(
            cameo_id=cameo_id,
            item_id=item_id,
            case_id=case_id,
            action=action,
            reason_code=reason_code,
        )
    )
    return True


def face_images(cameo_ids: list[str]) -> dict[str, bytes]:
    """The stored face images (JPEG) of active cameos whose owners opted in to storing one,
    for the generator to composite. Cameos without one are left out."""
    with session_scope() as session:
        rows = session.scalars(
            select(Cameo).where(Cameo.id.in_(cameo_ids), Cameo.status == "active")
        ).all()
        return {
            c.id: unseal(c.face_image, c.id, "face_image") for c in rows if c.face_image is not None
        }
