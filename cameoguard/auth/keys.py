"""Creating, checking and revoking API keys.

A key reads `cg_<id>_<secret>`: the id (8 hex characters) finds the row, the SHA-256 of the whole
key is compared in constant time. Keys carry 256 bits of randomness, so a plain hash suffices.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.auth.principal import KNOWN_ROLES, Principal, Scope
from cameoguard.auth.tables import ApiKey
from cameoguard.db import utcnow


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str  # the full key; shown once, never stored


TENANT_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_KEY_RE = re.compile(r"^cg_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    scopes: list[Scope],
    roles: list[str] | None = None,
    tenant: str | None = None,
    created_by: str,
) -> NewKey:
    if not scopes:
        raise ValueError("a key needs at least one scope")
    roles = sorted(set(roles or []))
    unknown = set(roles) - KNOWN_ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {sorted(KNOWN_ROLES)}")
    if tenant is not None and (set(scopes) != {Scope.platform} or not TENANT_RE.match(tenant)):
        raise ValueError(
            "a tenant binds a platform-only key, and is 1-64 letters, digits, '.', '_' or '-'"
        )
    if not name.strip() or len(name) > 200:
        raise ValueError("a key needs a name of 1 to 200 characters")
    key_id = secrets.token_hex(4)
    while session.get(ApiKey, key_id) is not None:  # 2^32 ids: a clash is rare but possible
        key_id = secrets.token_hex(4)
    full = f"cg_{key_id}_{secrets.token_urlsafe(32)}"
    scope_names = sorted({Scope(s).value for s in scopes})
    session.add(
        ApiKey(
            id=key_id,
            name=name.strip(),
            key_hash=_hash(full),
            scopes=scope_names,
            roles=roles,
            tenant=tenant,
            created_by=created_by,
        )
    )
    record(
        session,
        actor=created_by,
        action="key.create",
        subject=f"key:{key_id}",
        reason="admin request",
        details={"name": name.strip(), "scopes": scope_names, "roles": roles, "tenant": tenant},
    )
    for listener in creation_listeners:
        listener(key_id)
    return NewKey(key_id=key_id, secret=full)


def authenticate(session: Session, presented: str) -> Principal | None:
    """The principal for a presented key, or None when the key is malformed, unknown or revoked."""
    match = _KEY_RE.match(presented)
    if match is None:
        return None
    row = session.get(ApiKey, match.group(1))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(presented)):
        return None
    return Principal(
        key_id=row.id,
        name=row.name,
        scopes=frozenset(row.scopes),
        roles=frozenset(row.roles),
        tenant=row.tenant,
    )


# Called after every revocation in this process (the key cache forgets what it trusted).
revocation_listeners: list[Callable[[], None]] = []
# Called with the id of every key created in this process (known at once to the key filter).
creation_listeners: list[Callable[[str], None]] = []


def key_id_of(presented: str) -> str | None:
    """The public id inside a well-formed key, or None."""
    match = _KEY_RE.match(presented)
    return match.group(1) if match else None


def key_ids(session: Session) -> set[str]:
    return set(session.scalars(select(ApiKey.id)))


def revoke_key(session: Session, key_id: str, *, actor: str, reason: str) -> bool:
    """Revokes a key at once; False when there is no such active key."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    record(session, actor=actor, action="key.revoke", subject=f"key:{key_id}", reason=reason)
    for listener in revocation_listeners:
        listener()
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
