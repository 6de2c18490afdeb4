"""Who is calling, decided from the request's headers alone: the presented key (checked against
the short-lived cache, else the database), the key's rate limit, the route's scopes, and, for
callers without a valid key, a rate limit per client address.

The request gate calls `admit` before the application reads any byte of the body, so an
unauthenticated or unauthorised request costs a header parse and, at most, one key lookup. The
route dependency (`cameoguard.deps.require_scope`) finds the principal the gate admitted."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.cache import forget_all, known_key_ids, principal_cache
from cameoguard.auth.keys import authenticate, key_id_of, key_ids
from cameoguard.auth.principal import Principal
from cameoguard.db import session_scope
from cameoguard.errors import ApiError
from cameoguard.ratelimit import address_limiter, limiter, retry_after

DATABASE_ERRORS = (OperationalError, SQLAlchemyTimeoutError)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cameoguard"'}


def database_unavailable() -> ApiError:
    """The 503 for an unreachable database. Cached keys stop being trusted too: while the
    database cannot confirm a key, no request is served on an old confirmation."""
    forget_all()
    return ApiError(503, "database unavailable", code="database_unavailable")


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer ...` or `X-API-Key` (lower-case header names)."""
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key") or None


def _lookup(presented: str) -> Principal | None:
    try:
        with session_scope() as session:
            return authenticate(session, presented)
    except DATABASE_ERRORS as exc:
        raise database_unavailable() from exc


def _load_key_ids() -> set[str]:
    try:
        with session_scope() as session:
            return key_ids(session)
    except DATABASE_ERRORS as exc:
        raise database_unavailable() from exc


async def _may_exist(presented: str) -> bool:
    key_id = key_id_of(presented)
    if key_id is None:
        return False
    known = known_key_ids()
    found = known.known(key_id)
    if found is None:
        known.load(await run_in_threadpool(_load_key_ids))
        found = bool(known.known(key_id))
    return found


async def identify(presented: str) -> Principal | None:
    """The principal for a presented key, or None for a malformed, unknown or revoked key."""
    cache = principal_cache()
    principal = cache.get(presented)
    if principal is None:
        if not await _may_exist(presented):
            return None
        principal = await run_in_threadpool(_lookup, presented)
        if principal is not None:
            cache.put(presented, principal)
    return principal


def limit_address(address: str) -> None:
    """Charges one request to a client address that showed no valid key: floods of
    unauthenticated or invalid-key requests get 429 before they cost a key lookup."""
    wait = address_limiter().take(f"addr:{address}")
    if wait > 0:
        raise ApiError(
            429,
            "too many requests without a valid API key from this address",
            code="rate_limited",
            headers={"Retry-After": retry_after(wait)},
        )


async def admit(
    headers: Mapping[str, str], address: str, allowed: frozenset[str] | None
) -> Principal | None:
    """Decides a request from its headers. `allowed` is the route's scopes (None: a public
    route, where a key is optional). Raises ApiError 401/403/429/503; returns the principal, or
    None for a public route called without a valid key."""
    presented = presented_key(headers)
    principal = await identify(presented) if presented else None
    if principal is None:
        limit_address(address)
        if allowed is None:
            return None
        if presented:
            raise ApiError(
                401,
                "invalid or revoked API key",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        raise ApiError(401, "missing API key", headers=CHALLENGE)
    wait = limiter().take(principal.key_id)
    if wait > 0:
        raise ApiError(
            429,
            "rate limit exceeded for this key",
            code="rate_limited",
            headers={"Retry-After": retry_after(wait)},
        )
    if allowed is not None and not principal.scopes & allowed:
        raise ApiError(
            403, f"this key lacks the scope for this route (needs one of {sorted(allowed)})"
        )
    return principal
