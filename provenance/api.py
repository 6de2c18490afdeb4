"""HTTP route of the provenance area: the auditor's verification report."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.keys import Principal, Scope
from cameoguard.deps import require_scope
from cameoguard.settings import get_settings
from cameoguard.uploads import spool_body
from provenance.verify import verify_file

router = APIRouter(tags=["provenance"])
verifier = require_scope(Scope.auditor, Scope.admin, Scope.platform)


@router.post(
    "/v1/provenance/verify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def verify(request: Request, principal: Principal = Depends(verifier)) -> dict[str, Any]:
    """Upload a media file as the raw body (any type: JPEG, PNG, WAV, MP4). The report gives the
    C2PA state and codes, our watermark (per time segment), the generation record (in full for
    auditors and admins; without creator and cameos for the platform) and a one-line verdict."""
    limit = get_settings().max_upload_bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, limit, Path(tmp))
        full = bool(principal.scopes & {Scope.auditor.value, Scope.admin.value})
        return await run_in_threadpool(verify_file, path, full_record=full)
