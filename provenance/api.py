"""HTTP route of the provenance area: the auditor's verification report."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from cameoguard.auth.principal import Principal, Scope
from cameoguard.cost import run_costly
from cameoguard.deps import require_scope
from cameoguard.settings import get_settings
from cameoguard.uploads import accepts_upload, spool_body
from provenance.verify import VerifyReport, verify_file
from safety.media import MediaError, estimate_work

router = APIRouter(tags=["provenance"])
verifier = require_scope(Scope.auditor, Scope.admin, Scope.platform)


@router.post(
    "/v1/provenance/verify",
    response_model=VerifyReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
@accepts_upload
async def verify(request: Request, principal: Principal = Depends(verifier)) -> VerifyReport:
    """Upload a media file as the raw body (any type: JPEG, PNG, WAV, MP4). The report gives the
    C2PA state and codes, our watermark (per time segment), the generation record (in full for
    auditors and admins; without creator and cameos for the platform) and a one-line verdict."""
    settings = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        path = await spool_body(request, settings.max_upload_bytes, Path(tmp))
        full = bool(principal.scopes & {Scope.auditor.value, Scope.admin.value})
        cost = await run_in_threadpool(_verify_cost, path, settings.likeness_max_seconds)
        report = await run_costly(principal.key_id, cost, verify_file, path, full_record=full)
    return VerifyReport.model_validate(report)


def _verify_cost(path: Path, max_seconds: float) -> float:
    """The estimated work of verifying `path`. Media too large to decode is refused (413);
    unreadable media is not: the report says what is wrong with it, at little cost."""
    try:
        return estimate_work(path, max_seconds, 2.0)
    except MediaError as exc:
        if exc.code == "media_too_large":
            raise
        return 50.0
