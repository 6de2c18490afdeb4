"""Hash banks as the platform uses them: import and export in HMA's formats, matching a media
file or a hash against every bank (with the distance and the bank; negative banks suppress known
false positives), and each bank's action on a feed item that matches: `review` (held for a
reviewer), `remove`, or `escalate`. A match in a bank flagged child-safety takes the
escalation path: a case in the child-safety queue, the media preserved, and an export package
with the fields of an NCMEC CyberTipline report (written to a folder; nothing is sent anywhere).
A package that cannot be written is an alert (logged at error level, audited) and fails the
match: never silent."""

from __future__ import annotations

import json
import logging
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cameoguard import media_store
from cameoguard.audit.log import record as audit
from cameoguard.audit.tables import AuditEntry
from cameoguard.db import session_scope, utcnow
from cameoguard.errors import Refusal, RefusalKind
from cameoguard.files import private_dir
from cameoguard.settings import get_settings
from consumers.aggregator import record_decision
from consumers.feed_policy import feed_policy
from consumers.items import review_snapshot
from consumers.tables import FeedItem
from provenance import banks
from provenance.fingerprint import FingerprintTap
from safety.media import MediaError, decode_video, default_limits, load_media, probe
from safety.review.cases import CaseRequest, open_case
from safety.review.routing import review_policy

log = logging.getLogger("cameoguard.rights")
ACTION_OF_BANK = {"review": "review", "remove": "remove", "escalate": "remove"}


class HashError(Refusal):
    """A hash request the rights area refuses."""


class BankImported(BaseModel):
    bank: str
    added: int
    signals: int
    negative: bool
    action: str
    child_safety: bool


class BankExport(BaseModel):
    bank: str
    format: str = "threatexchange-file: one '<signal_type> <value>' a line"
    signals: int
    content: str


class MatchOut(BaseModel):
    bank: str
    signal_type: str
    value: str
    distance: int = Field(description="Bits of 256 between the closest frames")
    matched_frames: int
    frames: int
    mirrored: bool
    action: str
    child_safety: bool
    suppressed_by: str | None = None


class MatchReport(BaseModel):
    frames: int = Field(description="PDQ hashes taken from the media (or 1 for a hash)")
    matches: list[MatchOut]
    item_id: str | None = None
    item_action: str | None = None
    escalation: dict | None = None


def import_bank(
    name: str,
    text: str,
    *,
    negative: bool,
    action: Literal["review", "remove", "escalate"],
    child_safety: bool,
    default_type: str | None,
    actor: str,
) -> BankImported:
    try:
        signals = banks.parse_export(text, default_type)
    except banks.BankFormatError as exc:
        raise HashError(RefusalKind.invalid, "bad_bank_file", str(exc)) from exc
    with session_scope(write=True) as session:
        banks.ensure_bank(
            session, name, negative=negative, action=action, child_safety=child_safety
        )
        added = banks.import_signals(session, name, signals)
        audit(
            session,
            actor=actor,
            action="hashbank.import",
            subject=f"bank:{name}",
            reason=f"{added} of {len(signals)} signals added",
            details={"negative": negative, "action": action, "child_safety": child_safety},
        )
        return BankImported(
            bank=name,
            added=added,
            signals=len(signals),
            negative=negative,
            action=action,
            child_safety=child_safety,
        )


def export_bank(name: str) -> BankExport:
    with session_scope() as session:
        content = banks.export_bank(session, name)
    if not content:
        raise HashError(RefusalKind.not_found, "unknown_bank", f"no bank {name} (or it is empty)")
    return BankExport(bank=name, signals=content.count("\n"), content=content)


def media_hashes(path: Path) -> FingerprintTap:
    """PDQ hashes of an image, or of a video one frame a second (with their mirrors)."""
    tap = FingerprintTap()
    try:
        kind = probe(path).kind
        if kind == "video":
            decode_video(path, [tap], default_limits(math.inf), until_s=600.0)
        elif kind == "image":
            for _, rgb in load_media(path, max_seconds=1.0, max_frames=1, want_audio=False).frames:
                tap.take_image(rgb)
        else:
            raise HashError(RefusalKind.invalid, "no_picture", f"{kind} media has no picture")
    except MediaError as exc:
        raise HashError(RefusalKind.invalid, "bad_media", str(exc)) from exc
    if not tap.hashes:
        raise HashError(RefusalKind.invalid, "no_detail", "no frame with enough detail to hash")
    return tap


def ncmec_package(session: Session, item: FeedItem, match: banks.BankMatch, case_id: str) -> Path:
    """The export package of a CyberTipline report for a child-safety bank match: the report's
    fields as JSON and the preserved media beside it, in `home/child_safety/<case>/`."""
    folder = private_dir(get_settings().home / "child_safety" / case_id)
    media = media_store.resolve(item.media_location)
    preserved = folder / f"media{media.suffix}"
    shutil.copyfile(media, preserved)
    report = {
        "report_type": "CyberTipline report (export package; not submitted)",
        "incident_summary": {
            "incident_type": "Child Pornography (possession, manufacture, and distribution)",
            "incident_date_time": item.created_at.isoformat(),
            "escalated_at": utcnow().isoformat(),
        },
        "reporter": {"reporting_platform": "cameoguard", "case_id": case_id},
        "reported_person": {"platform_user_id": item.author_id, "tenant": item.tenant},
        "uploaded_file": {
            "file_name": preserved.name,
            "original_location": item.media_location,
            "platform_item_id": item.id,
            "publicly_available": item.state not in ("removed",),
            "file_viewed_by_company": False,
            "hash_match": {
                "bank": match.bank,
                "signal_type": match.signal_type,
                "distance": match.distance,
                "matched_frames": match.matched_frames,
            },
        },
        "additional_information": "Matched a child-safety hash bank; media preserved.",
    }
    (folder / "cybertipline_report.json").write_text(json.dumps(report, indent=2), "utf-8")
    return folder


def act_on_item(
    session: Session, item: FeedItem, found: list[banks.BankMatch], actor: str
) -> tuple[str | None, dict | None]:
    """Applies the strongest bank action to the item, in the caller's transaction."""
    live = [m for m in found if m.suppressed_by is None and not _is_negative(session, m.bank)]
    if not live:
        return None, None
    strongest = max(live, key=lambda m: (m.child_safety, m.action == "escalate", m.action))
    action = ACTION_OF_BANK[strongest.action]
    reason = f"matched hash bank {strongest.bank} (distance {strongest.distance})"
    inputs = {"hashbank": [strongest.bank, strongest.value]}
    policy_ref = feed_policy().ref
    record_decision(session, policy_ref, item.id, action, [reason], inputs, source="hashbank")
    if not strongest.child_safety:
        return action, None
    session.flush()
    case = open_case(
        session,
        CaseRequest(
            kind="content",
            item_id=item.id,
            signals=["minors"],
            severity=1,
            reasons=[f"child-safety {reason}"],
            snapshot=review_snapshot(session, item),
            reach=item.views,
        ),
        review_policy(),
    )
    try:
        folder = ncmec_package(session, item, strongest, case.id)
    except Exception as exc:
        # Alerted by the caller once this transaction has rolled back (a second write
        # transaction here would wait for the one we hold on SQLite).
        raise _PackageFailed(item.id, case.id, strongest.bank, exc) from exc
    audit(
        session,
        actor=actor,
        action="hashbank.escalate",
        subject=f"item:{item.id}",
        reason=reason,
        details={"case_id": case.id, "package": str(folder)},
    )
    return action, {"case_id": case.id, "queue": case.queue, "package": str(folder)}


class _PackageFailed(Exception):
    """The child-safety export package could not be written."""

    def __init__(self, item_id: str, case_id: str, bank: str, cause: Exception) -> None:
        super().__init__(str(cause))
        self.item_id, self.case_id, self.bank, self.cause = item_id, case_id, bank, cause


def _alert_package_failed(failure: _PackageFailed, actor: str) -> HashError:
    """Logs and audits the failed escalation (never silent) and returns the refusal to raise."""
    log.error(
        "ALERT: child-safety export package not created",
        extra={"item_id": failure.item_id, "case_id": failure.case_id,
               "error": str(failure.cause), "alert": True},
    )  # fmt: skip
    with session_scope(write=True) as session:
        audit(
            session,
            actor=actor,
            action="alert.child_safety_package_failed",
            subject=f"item:{failure.item_id}",
            reason=str(failure.cause)[:500],
            details={"case_id": failure.case_id, "bank": failure.bank},
        )
    return HashError(
        RefusalKind.unavailable, "escalation_failed", f"child-safety package failed: {failure}"
    )


def _escalated(session: Session, item_id: str) -> bool:
    """Whether the item's child-safety escalation was completed before (its package written)."""
    return (
        session.scalar(
            select(AuditEntry.seq).where(
                AuditEntry.action == "hashbank.escalate", AuditEntry.subject == f"item:{item_id}"
            )
        )
        is not None
    )


def _remove_and_open_case(session: Session, item: FeedItem, match: banks.BankMatch) -> str:
    """What a child-safety match does even when its package cannot be written (fail closed): the
    item removed and a case in the child-safety queue. Returns the case id."""
    reason = f"child-safety hash bank {match.bank} (distance {match.distance})"
    record_decision(
        session, feed_policy().ref, item.id, "remove", [f"matched {reason}"],
        {"hashbank": [match.bank, match.value]}, source="hashbank",
    )  # fmt: skip
    session.flush()
    case = open_case(
        session,
        CaseRequest(
            kind="content",
            item_id=item.id,
            signals=["minors"],
            severity=1,
            reasons=[reason],
            snapshot=review_snapshot(session, item),
            reach=item.views,
        ),
        review_policy(),
    )
    return case.id


def escalate_feed_match(
    item_id: str, found: list[banks.BankMatch], actor: str
) -> dict[str, str] | None:
    """The feed's escalation of a child-safety bank match (the hash-bank signal found it): the
    same path as the match route (item removed, case in the child-safety queue, media
    preserved, CyberTipline export package), once per item. A package that cannot be written
    is an alert (logged at error level, audited); the item is still removed and the case
    opened, and the error is raised so the worker tries again (then dead-letters it)."""
    if not any(m.child_safety and m.suppressed_by is None for m in found):
        return None
    try:
        with session_scope(write=True) as session:
            item = session.get(FeedItem, item_id)
            if item is None or _escalated(session, item_id):
                return None
            _, escalation = act_on_item(session, item, found, actor)
            return escalation
    except _PackageFailed as failure:
        error = _alert_package_failed(failure, actor)
        with session_scope(write=True) as session:
            item = session.get(FeedItem, item_id)
            if item is not None:
                strongest = next(m for m in found if m.child_safety and m.suppressed_by is None)
                _remove_and_open_case(session, item, strongest)
        raise error from failure.cause


def _is_negative(session: Session, bank: str) -> bool:
    row = session.get(banks.HashBank, bank)
    return bool(row is not None and row.negative)


def match_media(
    path: Path | None, pdq: str | None, *, item_id: str | None, tenant: str | None, actor: str
) -> MatchReport:
    if pdq is not None:
        try:
            query, mirrored = [banks.parse_signal("pdq", pdq)], None
        except banks.BankFormatError as exc:
            raise HashError(RefusalKind.invalid, "bad_hash", str(exc)) from exc
    elif path is not None:
        tap = media_hashes(path)
        query, mirrored = tap.hashes, tap.mirrored
    else:
        raise HashError(RefusalKind.invalid, "nothing_to_match", "send media or ?pdq=<hex>")
    try:
        with session_scope(write=True) as session:
            found = banks.match(session, query, mirrored)
            report = MatchReport(frames=len(query), matches=[MatchOut(**asdict(m)) for m in found])
            if item_id is not None:
                item = session.get(FeedItem, item_id)
                if item is None or (tenant is not None and item.tenant != tenant):
                    raise HashError(RefusalKind.not_found, "unknown_item", f"no item {item_id}")
                report.item_id = item_id
                report.item_action, report.escalation = act_on_item(session, item, found, actor)
            audit(
                session,
                actor=actor,
                action="hashbank.match",
                subject=f"item:{item_id}" if item_id else "hashes",
                reason=f"{len(found)} bank match(es)",
                details={"banks": [m.bank for m in found]},
            )
            return report
    except _PackageFailed as failure:
        raise _alert_package_failed(failure, actor) from failure.cause
