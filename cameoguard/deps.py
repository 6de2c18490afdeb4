"""FastAPI dependencies shared by every area: the database session and the caller's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session

from cameoguard.auth.keys import Principal, Scope, authenticate
from cameoguard.db import session_scope
from cameoguard.errors import ApiError
from cameoguard.ratelimit import limiter, retry_after

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cg_...`")


@contextmanager
def short_session(write: bool = False) -> Iterator[Session]:
    """A transaction held only as long as the block; for routes that do slow work (models,
    media) before or after touching the database, so no connection waits on a model. An
    unreachable database is a 503, never a silent pass."""
    try:
        with session_scope(write=write) as session:
            yield session
    except (OperationalError, SQLAlchemyTimeoutError) as exc:
        raise ApiError(503, "database unavailable", code="database_unavailable") from exc


def get_session() -> Iterator[Session]:
    """One transaction per request (a FastAPI dependency)."""
    with short_session() as session:
        yield session


def require_scope(*scopes: Scope) -> Callable[..., Principal]:
    """A dependency that admits a valid key holding at least one of `scopes`."""
    allowed = frozenset(s.value for s in scopes)

    def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        presented = credentials.credentials if credentials else request.headers.get("x-api-key")
        if not presented:
            raise ApiError(
                401, "missing API key", headers={"WWW-Authenticate": 'Bearer realm="cameoguard"'}
            )
        with short_session() as session:
            principal = authenticate(session, presented)
        if principal is None:
            raise ApiError(
                401,
                "invalid or revoked API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        wait = limiter().take(principal.key_id)
        if wait > 0:
            raise ApiError(
                429,
                "rate limit exceeded for this key",
                code="rate_limited",
                headers={"Retry-After": retry_after(wait)},
            )
        if not principal.scopes & allowed:
            raise ApiError(
                403,
                f"this key lacks the scope for this route (needs one of {sorted(allowed)})",
            )
        request.state.principal = principal
        return principal

    dependency.required_scopes = allowed  # type: ignore[attr-defined]
    return dependency
