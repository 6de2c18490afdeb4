"""The outer ASGI layers of every request.

`RequestContextMiddleware` (outermost): the request id (the caller's X-Request-ID when
well-formed), the access log and metrics, and the web defences every response carries
(no caching, no sniffing, no framing, no referrer; a strict Content-Security-Policy).

`RequestGate` (inside it): finds the route from the method and path, and decides the request
from its headers alone before the application reads any body: the key, its rate limit and the
route's scopes (401/403/429, or 429 per client address without a valid key), then the route's
own body limit, enforced on the declared length and while streaming, whatever the content type
(upload routes take `max_upload_bytes`, every other route `max_request_bytes`)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cameoguard.auth.guard import admit
from cameoguard.errors import ApiError, error_response
from cameoguard.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    current_request_id,
    reset_request_id,
    set_request_id,
)

log = logging.getLogger("cameoguard.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# The reviewer's page loads its own script and stylesheet and shows media from blob: URLs; the
# JSON API and everything else allow nothing at all. /docs keeps the browser defaults (its
# interactive page is served from the FastAPI defaults).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def _security_headers(path: str, present: set[bytes]) -> list[tuple[bytes, bytes]]:
    added = [(name, value) for name, value in SECURITY_HEADERS if name not in present]
    if b"cache-control" not in present:
        added.append((b"cache-control", b"no-store"))
    if b"content-security-policy" not in present and not path.startswith(DOC_PATHS):
        csp = PAGE_CSP if path == "/review" or path.startswith("/review/") else API_CSP
        added.append((b"content-security-policy", csp.encode()))
    return added


class RequestContextMiddleware:
    """Request id, web defences, access log and metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}
        path = scope.get("path", "")

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(b"x-request-id", request_id.encode())]
                headers += _security_headers(path, present)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            elapsed = time.perf_counter() - started
            route_path = scope.get("cameoguard.route", "unmatched")
            method = scope.get("method", "")
            status = status_holder["status"]
            HTTP_REQUESTS.labels(method, route_path, str(status)).inc()
            HTTP_LATENCY.labels(method, route_path).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


@dataclass(frozen=True)
class RouteRule:
    """What the gate needs to know of a route before its body is read."""

    path: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    scopes: frozenset[str] | None  # None: public (no key needed)
    upload: bool  # a media upload route (the larger body limit)


def api_routes(routes: Sequence[Any]) -> list[APIRoute]:
    """Every APIRoute, including those of included routers (each router carries its full paths:
    the application includes them without a prefix)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def route_scopes(route: APIRoute) -> frozenset[str] | None:
    """The scopes a route's key dependency admits (None: the route needs no key)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        scopes = getattr(dependency.call, "required_scopes", None)
        if scopes is not None:
            return frozenset(scopes)
        pending.extend(dependency.dependencies)
    return None


def route_rules(routes: Sequence[Any]) -> list[RouteRule]:
    return [
        RouteRule(
            path=route.path,
            methods=frozenset(route.methods or ()),
            pattern=route.path_regex,
            scopes=route_scopes(route),
            upload=bool(getattr(route.endpoint, "accepts_upload", False)),
        )
        for route in api_routes(routes)
    ]


class RequestGate:
    """Authenticates, authorises and caps the body before the application runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Sequence[Any]],
        max_body: int,
        max_upload: int,
    ) -> None:
        self.app = app
        self.routes = routes
        self.max_body = max_body
        self.max_upload = max_upload
        self._rules: list[RouteRule] | None = None

    def _rule(self, method: str, path: str) -> RouteRule | None:
        if self._rules is None:
            self._rules = route_rules(self.routes())
        fallback = None
        for rule in self._rules:
            if rule.pattern.match(path):
                if method in rule.methods:
                    return rule
                fallback = fallback or rule
        return fallback  # a known path with another method: the application answers 405

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope.get("method", ""), scope.get("path", ""))
        if rule is not None:
            scope["cameoguard.route"] = rule.path
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        address = client[0] if client else "unknown"
        try:
            principal = await admit(headers, address, rule.scopes if rule else None)
        except ApiError as exc:
            await error_response(exc.status, exc.code, exc.message, headers=exc.headers)(
                scope, receive, send
            )
            return
        scope.setdefault("state", {})["principal"] = principal
        limit = self.max_upload if rule is not None and rule.upload else self.max_body
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"request body larger than {limit} bytes",
                "request_id": current_request_id(),
                "details": {"limit_bytes": limit},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
