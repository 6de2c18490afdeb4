"""Generation records behind the watermark ids: the only way from a clip back to its origin."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard.audit.log import record
from cameoguard.timestamps import rfc3339
from provenance.tables import ProvenanceRecord


def new_watermark_id(session: Session) -> int:
    """A fresh random 64-bit id, unused so far."""
    while True:
        candidate = secrets.randbits(64)
        if session.get(ProvenanceRecord, f"{candidate:016x}") is None:
            return candidate


@dataclass(frozen=True)
class GenerationFacts:
    """What a record says about the generation behind an output."""

    generation_id: str
    creator_id: str
    cameo_ids: list[str]
    policy_pack: str
    decision: str
    generator: str
    creator_handle: str | None = None  # shown in the visible mark; never in the C2PA manifest


def register(
    session: Session,
    facts: GenerationFacts,
    *,
    watermark_id: int,
    sha256: str,
    fingerprints: list[str],
    actor: str,
) -> ProvenanceRecord:
    row = ProvenanceRecord(
        watermark_id=f"{watermark_id:016x}",
        sha256=sha256,
        fingerprints=fingerprints,
        **{k: v for k, v in asdict(facts).items() if k != "creator_handle"},  # display only
    )
    session.add(row)
    record(
        session,
        actor=actor,
        action="provenance.register",
        subject=f"generation:{facts.generation_id}",
        reason="output marked and signed",
        details={
            "watermark_id": row.watermark_id,
            "sha256": sha256,
            "policy_pack": facts.policy_pack,
        },
    )
    return row


def find(
    session: Session, *, watermark_id: int | None = None, generation_id: str | None = None
) -> ProvenanceRecord | None:
    if watermark_id is not None:
        return session.get(ProvenanceRecord, f"{watermark_id:016x}")
    if generation_id is not None:
        return session.scalars(
            select(ProvenanceRecord).where(ProvenanceRecord.generation_id == generation_id)
        ).first()
    return None


def fingerprint_index(session: Session) -> dict[str, list[str]]:
    """Every record's fingerprints, by watermark id (exact scan; fine up to ~10^5 records):
    whole-frame hashes and tagged region hashes (provenance.fingerprint.region_hashes)."""
    rows = session.execute(select(ProvenanceRecord.watermark_id, ProvenanceRecord.fingerprints))
    return {watermark_id: hashes for watermark_id, hashes in rows if hashes}


def as_dict(row: ProvenanceRecord, full: bool) -> dict[str, Any]:
    """The record for a report; `full` (auditor, admin) includes who and with which cameos."""
    summary: dict[str, Any] = {
        "generation_id": row.generation_id,
        "watermark_id": row.watermark_id,
        "created_at": rfc3339(row.created_at),
        "policy_pack": row.policy_pack,
        "decision": row.decision,
        "generator": row.generator,
    }
    if full:
        summary |= {"creator_id": row.creator_id, "cameo_ids": row.cameo_ids, "sha256": row.sha256}
    return summary
