"""The outer ASGI layer of every request: request id, body size limit, access log and metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cameoguard.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    current_request_id,
    reset_request_id,
    set_request_id,
)

log = logging.getLogger("cameoguard.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID when well-formed), caps the body size
    (multipart uploads get the larger upload cap), and records the access log and metrics."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}
        content_type = headers.get("content-type", "")
        is_upload = content_type.startswith(("multipart/form-data", "application/octet-stream"))
        limit = self.max_upload if is_upload else self.max_body

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await self._reject_too_large(send_with_id, limit)
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

            await self.app(scope, limited_receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            status = status_holder["status"]
            HTTP_REQUESTS.labels(method, route_path, str(status)).inc()
            HTTP_LATENCY.labels(method, route_path).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope.get("path"),
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)

    @staticmethod
    async def _reject_too_large(send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": f"request body larger than {limit} bytes",
                    "request_id": current_request_id(),
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
