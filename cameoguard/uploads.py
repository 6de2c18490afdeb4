"""Uploads to disk, with the size cap applied while streaming (media models read files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Request, UploadFile

from cameoguard.errors import ApiError

CHUNK = 1 << 20
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def accepts_upload(endpoint: Endpoint) -> Endpoint:
    """Marks a route whose body is a media upload: the request gate allows it the upload limit
    (`max_upload_bytes`) instead of the JSON limit, whatever content type the caller declares.
    Put it under the route decorator."""
    endpoint.accepts_upload = True  # type: ignore[attr-defined]
    UPLOAD_ENDPOINTS.add(endpoint.__name__)
    return endpoint


# The names of the upload endpoints: the OpenAPI document gives them a raw-body request body.
UPLOAD_ENDPOINTS: set[str] = set()


async def spool_body(request: Request, limit: int, directory: Path) -> Path:
    """Streams the raw request body (a media file) to disk, refusing more than `limit` bytes.
    A multipart form is refused (415) before it is read: its boundary and part headers would be
    taken for the media and the answer would blame the file's type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        raise ApiError(
            415,
            f"send the media file itself as the request body (Content-Type:"
            f" application/octet-stream), not as a {content_type} form",
            code="raw_body_expected",
        )
    path = directory / "upload"
    written = 0
    with path.open("wb") as fh:
        async for chunk in request.stream():
            written += len(chunk)
            if written > limit:
                raise ApiError(413, f"upload larger than {limit} bytes")
            fh.write(chunk)
    if written == 0:
        raise ApiError(422, "empty upload: send the media file as the request body")
    return path


async def save_upload(upload: UploadFile, limit: int, directory: Path, name: str) -> Path:
    """Copies one multipart file part to disk; its declared name and type are not trusted."""
    path = directory / name
    written = 0
    with path.open("wb") as fh:
        while chunk := await upload.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise ApiError(413, f"{name}: upload larger than {limit} bytes")
            fh.write(chunk)
    if written == 0:
        raise ApiError(422, f"{name}: empty file")
    return path
