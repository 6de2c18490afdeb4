"""Admin routes for API keys (scope `admin`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cameoguard.auth.keys import create_key, list_keys, revoke_key
from cameoguard.auth.principal import Principal, Scope
from cameoguard.deps import get_session, require_scope
from cameoguard.errors import ApiError

router = APIRouter(prefix="/v1/admin/keys", tags=["admin"])
admin = require_scope(Scope.admin)


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    roles: list[str] = Field(default_factory=list, max_length=8)
    tenant: str | None = Field(
        None,
        description="Bind a platform key to one tenant: it sees and acts on that tenant's "
        "users, cameos, items and generations only",
    )


class KeyCreated(BaseModel):
    id: str
    key: str = Field(description="The API key. Shown once; only its hash is stored.")
    scopes: list[str]
    roles: list[str]
    tenant: str | None = None


class KeyInfo(BaseModel):
    id: str
    name: str
    scopes: list[str]
    roles: list[str]
    tenant: str | None = None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class Revocation(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@router.post("", status_code=201, response_model=KeyCreated)
def create(
    body: KeyCreate, principal: Principal = Depends(admin), session: Session = Depends(get_session)
) -> KeyCreated:
    try:
        new = create_key(
            session,
            name=body.name,
            scopes=body.scopes,
            roles=body.roles,
            tenant=body.tenant,
            created_by=principal.actor,
        )
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc
    return KeyCreated(
        id=new.key_id,
        key=new.secret,
        scopes=sorted(s.value for s in set(body.scopes)),
        roles=sorted(set(body.roles)),
        tenant=body.tenant,
    )


@router.get("", response_model=list[KeyInfo])
def index(_: Principal = Depends(admin), session: Session = Depends(get_session)) -> list[KeyInfo]:
    return [KeyInfo.model_validate(row, from_attributes=True) for row in list_keys(session)]


@router.post("/{key_id}/revoke", status_code=204)
def revoke(
    key_id: str,
    body: Revocation,
    principal: Principal = Depends(admin),
    session: Session = Depends(get_session),
) -> None:
    if not revoke_key(session, key_id, actor=principal.actor, reason=body.reason):
        raise ApiError(404, f"no active key {key_id!r}")
