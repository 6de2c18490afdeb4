"""Who is calling: a key's principal, its scopes and roles. A leaf module (it imports nothing
of the project), so that any area can name a principal without pulling in the key store."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Scope(StrEnum):
    platform = "platform"
    reviewer = "reviewer"
    auditor = "auditor"
    admin = "admin"


DEFAULT_TENANT = ""  # the tenant of keys bound to none: one platform per deployment

# Roles narrow what a reviewer receives (e.g. only child_safety reviewers get minors cases).
KNOWN_ROLES = frozenset({"child_safety", "senior", "appeals", "rights"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its name, scopes and roles."""

    key_id: str
    name: str
    scopes: frozenset[str]
    roles: frozenset[str] = field(default_factory=frozenset)
    tenant: str | None = None  # a platform key bound to one tenant (app) of the deployment

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def data_tenant(self) -> str | None:
        """Whose data this key sees and acts on: a platform key its tenant's only (a key bound
        to no tenant: the deployment's default tenant, ""); the operator's own keys (admin,
        auditor, reviewer) every tenant's (None)."""
        if "platform" in self.scopes and not self.scopes & {"admin"}:
            return self.tenant or DEFAULT_TENANT
        return self.tenant
