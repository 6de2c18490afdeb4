"""Admin and auditor routes for the audit log."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from cameoguard.audit.log import recent, record, save_checkpoint, verify_chain
from cameoguard.auth.principal import Principal, Scope
from cameoguard.deps import require_scope, short_session

router = APIRouter(prefix="/v1/audit", tags=["audit"])
reader = require_scope(Scope.admin, Scope.auditor)


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    reason: str
    details: dict[str, Any]
    hash: str


class ChainCheck(BaseModel):
    ok: bool
    entries: int
    problems: list[dict[str, Any]]


@router.get("/entries", response_model=list[AuditEntryOut])
def entries(
    response: Response,
    limit: int = Query(50, ge=1, le=1000),
    subject: str | None = Query(None, max_length=300),
    before_seq: int | None = Query(None, ge=1, description="Page back: entries older than this"),
    principal: Principal = Depends(reader),
) -> list[AuditEntryOut]:
    """The newest entries first. When more remain, `X-Next-Before-Seq` gives the `before_seq`
    of the next page. Reading the log is itself audited."""
    with short_session(write=True) as session:
        rows = recent(session, limit=limit, subject=subject, before_seq=before_seq)
        record(
            session,
            actor=principal.actor,
            action="audit.read",
            subject=subject or "audit",
            reason=f"{len(rows)} entries",
            details={"limit": limit, "before_seq": before_seq},
        )
        found = [
            AuditEntryOut(
                seq=e.seq,
                at=e.at,
                actor=e.actor,
                action=e.action,
                subject=e.subject,
                reason=e.reason,
                details=json.loads(e.details),
                hash=e.hash,
            )
            for e in rows
        ]
    if len(rows) == limit and rows[-1].seq > 1:
        response.headers["X-Next-Before-Seq"] = str(rows[-1].seq)
    return found


@router.get("/verify", response_model=ChainCheck)
def verify(
    full: bool = Query(False, description="Walk the whole chain, not only since the checkpoint"),
    principal: Principal = Depends(reader),
) -> ChainCheck:
    """Checks the hash chain from the last verified checkpoint (`full=true`: from the start);
    an intact chain moves the checkpoint. Audited."""
    with short_session() as session:
        report = verify_chain(session, full=full)
    with short_session(write=True) as session:
        save_checkpoint(session, report)
        record(
            session,
            actor=principal.actor,
            action="audit.verify",
            subject="audit",
            reason="intact" if report.ok else f"{len(report.problems)} problem(s)",
            details={"full": full, "entries": report.entries},
        )
    return ChainCheck(
        ok=report.ok,
        entries=report.entries,
        problems=[{"seq": p.seq, "problem": p.problem} for p in report.problems],
    )
