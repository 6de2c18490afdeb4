"""Hash banks exchanged with other platforms, in the formats of Meta's Hasher-Matcher-Actioner
(HMA) and python-threatexchange's file exchange: one signal a line, `<signal_type> <value>`
(a bare value takes the import's default type); `#` starts a comment. Signal types: `pdq` (64
hex digits, an image or a frame) and `vpdq` (a video: its frames' PDQ hashes in order,
comma-separated, each optionally `hash:quality`; our reading of the vPDQ frame list).

Matching: a query is a list of PDQ frame hashes (one for an image) and their mirrors. A `pdq`
bank entry matches when a query frame is within MATCH_BITS (31) of it; a `vpdq` entry when at
least half of the query's frames are within MATCH_BITS of one of its frames (or half of the
entry's, for an excerpt longer than it). A match that a `negative` bank also matches is
suppressed (a known false positive), and said so."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.fingerprint import MATCH_BITS, nearest_distances
from provenance.tables import BankHash, HashBank

SIGNAL_TYPES = ("pdq", "vpdq")
ACTIONS = ("review", "remove", "escalate")


class BankFormatError(ValueError):
    """A line of an import that is not a signal (its number and why)."""


def _pdq(value: str) -> str:
    value = value.strip().lower().split(":")[0]
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise BankFormatError(f"not a 64-hex-digit PDQ hash: {value[:80]!r}")
    return value


def parse_signal(signal_type: str, value: str) -> str:
    if signal_type == "pdq":
        return _pdq(value)
    if signal_type == "vpdq":
        frames = [_pdq(v) for v in value.replace(";", ",").split(",") if v.strip()]
        if not frames:
            raise BankFormatError("a vpdq signal needs at least one frame hash")
        return ",".join(frames)
    raise BankFormatError(f"unsupported signal type {signal_type!r} (pdq, vpdq)")


def parse_export(text: str, default_type: str | None = None) -> list[tuple[str, str]]:
    """(signal_type, value) of every line of an HMA/ThreatExchange file export."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        head, _, rest = line.partition(" ")
        if head in SIGNAL_TYPES and rest.strip():
            signal_type, value = head, rest.strip()
        elif default_type is not None:
            signal_type, value = default_type, line
        else:
            raise BankFormatError(f"line {number}: no signal type (pass a default type)")
        try:
            found.append((signal_type, parse_signal(signal_type, value)))
        except BankFormatError as exc:
            raise BankFormatError(f"line {number}: {exc}") from exc
    return found


def ensure_bank(
    session: Session, name: str, *, negative: bool, action: str, child_safety: bool
) -> HashBank:
    bank = session.get(HashBank, name)
    if bank is None:
        bank = HashBank(name=name, negative=negative, action=action, child_safety=child_safety)
        session.add(bank)
    else:
        bank.negative, bank.action, bank.child_safety = negative, action, child_safety
    session.flush()
    return bank


def import_signals(session: Session, bank: str, signals: list[tuple[str, str]]) -> int:
    """Adds the signals to the bank (duplicates skipped); the number added."""
    known = set(
        session.execute(
            select(BankHash.signal_type, BankHash.value).where(BankHash.bank == bank)
        ).tuples()
    )
    added = 0
    for signal_type, value in signals:
        if (signal_type, value) in known:
            continue
        known.add((signal_type, value))
        session.add(BankHash(bank=bank, signal_type=signal_type, value=value))
        added += 1
    session.flush()
    return added


def export_bank(session: Session, bank: str) -> str:
    rows = session.scalars(select(BankHash).where(BankHash.bank == bank).order_by(BankHash.id))
    return "".join(f"{row.signal_type} {row.value}\n" for row in rows)


@dataclass(frozen=True)
class BankMatch:
    bank: str
    signal_type: str
    value: str
    distance: int  # the closest frame's Hamming distance, in bits of 256
    matched_frames: int
    frames: int
    mirrored: bool
    action: str
    child_safety: bool
    suppressed_by: str | None = None  # the negative bank that also matched


def _entry_match(entry: BankHash, orientations: list[tuple[bool, list[str]]]):  # type: ignore[no-untyped-def]
    frames = entry.value.split(",")
    best = None
    for flipped, query in orientations:
        if not query:
            continue
        nearest = nearest_distances(query, frames)
        matched = int((nearest <= MATCH_BITS).sum())
        if entry.signal_type == "pdq":
            ok = matched >= 1
        else:
            back = int((nearest_distances(frames, query) <= MATCH_BITS).sum())
            ok = matched * 2 >= len(query) or back * 2 >= len(frames)
        if ok and (best is None or int(nearest.min()) < best[0]):
            best = (int(nearest.min()), matched, len(query), flipped)
    return best


def match(session: Session, query: list[str], mirrored: list[str] | None = None) -> list[BankMatch]:
    """Every bank entry the query matches (the best per bank), negatives suppressing others."""
    orientations = [(False, query)] + ([(True, mirrored)] if mirrored else [])
    banks = {b.name: b for b in session.scalars(select(HashBank))}
    best: dict[str, BankMatch] = {}
    for entry in session.scalars(select(BankHash)):
        bank = banks.get(entry.bank)
        if bank is None:
            continue
        found = _entry_match(entry, orientations)
        if found is None:
            continue
        distance, matched, frames, flipped = found
        if entry.bank in best and best[entry.bank].distance <= distance:
            continue
        best[entry.bank] = BankMatch(
            bank=entry.bank,
            signal_type=entry.signal_type,
            value=entry.value if entry.signal_type == "pdq" else entry.value[:64] + ",...",
            distance=distance,
            matched_frames=matched,
            frames=frames,
            mirrored=flipped,
            action=bank.action,
            child_safety=bank.child_safety,
        )
    negatives = [m for m in best.values() if banks[m.bank].negative]
    out = []
    for m in sorted(best.values(), key=lambda m: (m.distance, m.bank)):
        if banks[m.bank].negative:
            out.append(m)
        elif negatives:
            out.append(BankMatch(**{**m.__dict__, "suppressed_by": negatives[0].bank}))
        else:
            out.append(m)
    return out
