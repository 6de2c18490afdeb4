"""Errors. Areas refuse with a `Refusal`: a kind (invalid, not found, conflict, ...), a stable
code and a message, and no HTTP status; the HTTP edge maps each kind to its status here, once.
`ApiError` is for the HTTP edge itself (routes, the request gate). Every 4xx and 5xx has one
JSON shape:

{"error": {"code": "not_found", "message": "...", "request_id": "...", "details": ...}}
"""

from __future__ import annotations

import logging
import math
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cameoguard.auth.cache import forget_all
from cameoguard.observability import current_request_id

log = logging.getLogger("cameoguard.errors")

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from any handler for a clean 4xx/5xx in the shared shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


class RefusalKind(StrEnum):
    """Why an area refuses, in its own terms."""

    invalid = "invalid"  # the request itself cannot be served
    not_found = "not_found"
    conflict = "conflict"  # the state does not allow it (already done, not yours to act on)
    gone = "gone"  # it existed but expired
    forbidden = "forbidden"  # a rule forbids it for this caller
    too_large = "too_large"
    unsupported = "unsupported"  # a kind of input this service does not read
    rate_limited = "rate_limited"
    unavailable = "unavailable"  # a part it needs is down: fail closed, retry later


STATUS_OF_KIND: dict[RefusalKind, int] = {
    RefusalKind.invalid: 422,
    RefusalKind.not_found: 404,
    RefusalKind.conflict: 409,
    RefusalKind.gone: 410,
    RefusalKind.forbidden: 403,
    RefusalKind.too_large: 413,
    RefusalKind.unsupported: 415,
    RefusalKind.rate_limited: 429,
    RefusalKind.unavailable: 503,
}


class Refusal(Exception):
    """A refusal by an area: its kind, a stable code, a message for the caller, details (the
    limit crossed, the measures behind a decision) and, for rate limits and outages, when to
    try again. Subclassed per area (CaseError, JobError, MediaError, ...)."""

    def __init__(
        self,
        kind: RefusalKind,
        code: str,
        message: str,
        details: Any = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled whole (a refusal raised in a heavy-work process reaches the API as itself)."""
        state = (self.kind, self.code, self.message, self.details, self.retry_after_s)
        return (_restore_refusal, (type(self), state), self.__dict__)

    @property
    def retryable(self) -> bool:
        """An outage or a limit, not a judgement on the request: the same request may pass."""
        return self.kind in (RefusalKind.unavailable, RefusalKind.rate_limited)


def _restore_refusal(cls: type[Refusal], state: tuple[Any, ...]) -> Refusal:
    refusal = Exception.__new__(cls)
    Refusal.__init__(refusal, *state)
    return refusal


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"code": code, "message": message, "request_id": current_request_id()}
    }
    if details is not None:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only location, message and type: echoing the rejected input back could reflect a 1 MB body.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()[:20]
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(Refusal)
    async def _refusal(_: Request, exc: Refusal) -> JSONResponse:
        headers = None
        if exc.retry_after_s is not None:
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        return error_response(STATUS_OF_KIND[exc.kind], exc.code, exc.message, exc.details, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422,
            "invalid_request",
            "the request does not match the schema",
            _validation_details(exc),
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        # An area found the database unreachable: fail closed, and stop trusting cached keys
        # until the database can confirm them again.
        forget_all()
        return error_response(503, "database_unavailable", "database unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; see the service log")
