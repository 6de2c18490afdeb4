"""FastAPI dependencies shared by every area: the database session and the caller's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from cameoguard.auth.guard import DATABASE_ERRORS, admit, database_unavailable
from cameoguard.auth.principal import Principal, Scope
from cameoguard.db import session_scope
from cameoguard.errors import ApiError
from cameoguard.services import Services

T = TypeVar("T")
# What a route that answers with a video file declares in the OpenAPI document.
VIDEO_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The video file",
        "content": {
            "video/mp4": {"schema": {"type": "string", "format": "binary"}},
            "video/webm": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cg_...`")


@contextmanager
def short_session(write: bool = False) -> Iterator[Session]:
    """A transaction held only as long as the block; for routes that do slow work (models,
    media) before or after touching the database, so no connection waits on a model. An
    unreachable database is a 503, never a silent pass."""
    try:
        with session_scope(write=write) as session:
            yield session
    except DATABASE_ERRORS as exc:
        raise database_unavailable() from exc


def get_session() -> Iterator[Session]:
    """One transaction per request (a FastAPI dependency)."""
    with short_session() as session:
        yield session


def require_scope(*scopes: Scope) -> Callable[..., Principal]:
    """A dependency that admits a valid key holding at least one of `scopes`. The request gate
    has already decided the request from its headers (before the body was read); the
    dependency hands its principal to the route, and decides itself only when the route runs
    without the gate (an application assembled without it)."""
    allowed = frozenset(s.value for s in scopes)

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        principal = getattr(request.state, "principal", None)
        if principal is None:
            client = request.client.host if request.client else "unknown"
            principal = await admit(request.headers, client, allowed)
        if principal is None or not principal.scopes & allowed:
            raise ApiError(
                403,
                f"this key lacks the scope for this route (needs one of {sorted(allowed)})",
            )
        request.state.principal = principal
        return principal

    dependency.required_scopes = allowed  # type: ignore[attr-defined]
    return dependency


def service(kind: type[T]) -> Callable[[Request], T]:
    """A dependency giving the implementation of `kind` the assembly provided to the app."""

    def dependency(request: Request) -> T:
        services: Services = request.app.state.services
        return services.get(kind)

    return dependency
