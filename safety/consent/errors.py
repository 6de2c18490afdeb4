"""The consent area's refusals: a kind, a stable code (`no_face`, `challenge_used`,
`protected_person`, ...), a message for the caller and the measures behind it."""

from __future__ import annotations

import secrets
from typing import Any

from cameoguard.errors import Refusal, RefusalKind


class ConsentError(Refusal):
    """A request the consent area refuses."""


def fail(
    kind: RefusalKind, message: str, code: str = "invalid_request", **details: Any
) -> ConsentError:
    return ConsentError(kind, code, message, details or None)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


__all__ = ["ConsentError", "RefusalKind", "fail", "new_id"]
