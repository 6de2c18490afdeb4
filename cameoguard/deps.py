"""FastAPI dependencies shared by every area: the database session and the caller's key."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import Session

from cameoguard.auth.cache import forget_all, principal_cache
from cameoguard.auth.keys import Principal, Scope, authenticate
from cameoguard.db import session_scope
from cameoguard.errors import ApiError
from cameoguard.ratelimit import limiter, retry_after

DATABASE_ERRORS = (OperationalError, SQLAlchemyTimeoutError)
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


def database_unavailable() -> ApiError:
    """The 503 for an unreachable database. Cached keys stop being trusted too: while the
    database cannot confirm a key, no request is served on an old confirmation."""
    forget_all()
    return ApiError(503, "database unavailable", code="database_unavailable")


def get_session() -> Iterator[Session]:
    """One transaction per request (a FastAPI dependency)."""
    with short_session() as session:
        yield session


def _lookup(presented: str) -> Principal | None:
    with short_session() as session:
        return authenticate(session, presented)


def require_scope(*scopes: Scope) -> Callable[..., Principal]:
    """A dependency that admits a valid key holding at least one of `scopes`."""
    allowed = frozenset(s.value for s in scopes)

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        presented = credentials.credentials if credentials else request.headers.get("x-api-key")
        if not presented:
            raise ApiError(
                401, "missing API key", headers={"WWW-Authenticate": 'Bearer realm="cameoguard"'}
            )
        cache = principal_cache()
        principal = cache.get(presented)
        if principal is None:
            principal = await run_in_threadpool(_lookup, presented)
            if principal is not None:
                cache.put(presented, principal)
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
