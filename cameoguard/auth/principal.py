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


# Roles narrow what a reviewer receives (e.g. only child_safety reviewers get minors cases).
KNOWN_ROLES = frozenset({"child_safety", "senior", "appeals"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its name, scopes and roles."""

    key_id: str
    name: str
    scopes: frozenset[str]
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"
