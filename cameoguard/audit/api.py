"""Admin and auditor routes for the audit log."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from cameoguard.audit.log import recent, verify_chain
from cameoguard.auth.keys import Principal, Scope
from cameoguard.deps import get_session, require_scope

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
    limit: int = Query(50, ge=1, le=1000),
    subject: str | None = Query(None, max_length=300),
    _: Principal = Depends(reader),
    session: Session = Depends(get_session),
) -> list[AuditEntryOut]:
    return [
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
        for e in recent(session, limit=limit, subject=subject)
    ]


@router.get("/verify", response_model=ChainCheck)
def verify(_: Principal = Depends(reader), session: Session = Depends(get_session)) -> ChainCheck:
    report = verify_chain(session)
    return ChainCheck(
        ok=report.ok,
        entries=report.entries,
        problems=[{"seq": p.seq, "problem": p.problem} for p in report.problems],
    )
