"""Hash banks: every published item's frames, hashed with PDQ (as seen and mirrored) from the
frames the item's one decode already sampled, are matched against the imported hash banks
(provenance.banks: `pdq` entries frame by frame, `vpdq` entries by the share of frames). A match
that a negative bank also matches is a known false positive and does nothing. Otherwise the
bank's action becomes a step of the feed policy (`bank_actions` in policies/feed.yaml: review or
remove; a child-safety bank's match is always removed) and the risk is that step's threshold, so
the aggregator takes it. The rights area's reaction to these scores escalates a child-safety
match (case, preserved media, export package) and reads the frame hashes kept as evidence to
find the item's remix parent: the media is decoded and hashed once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from cameoguard.db import session_scope
from consumers.signals.base import Evidence, FeedSignal, SignalResult, Thresholds
from provenance import banks
from provenance.fingerprint import MATCH_BITS, FingerprintTap
from provenance.tables import HashBank

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from consumers.analysed import AnalysedMedia
    from safety.media import Media

BANK_MATCH = "hash_bank"  # evidence of one bank's match
FINGERPRINT = "fingerprint"  # evidence carrying the item's frame hashes (for lineage)


def frame_hashes(media: Media) -> FingerprintTap:
    """PDQ hashes of the decoded frames (flat ones left out), as seen and mirrored."""
    tap = FingerprintTap()
    for _, rgb in media.frames:
        tap.take_image(rgb)
    return tap


class HashBankSignal(FeedSignal):
    name = "hashbank"
    version = "hashbank-v1"
    needs = frozenset({"frames"})
    thresholds = Thresholds(review=0.5, remove=0.9, priority=1)

    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        tap = frame_hashes(media.media)
        found: list[banks.BankMatch] = []
        negative: set[str] = set()
        if tap.hashes:
            with session_scope() as session:
                found = banks.match(session, tap.hashes, tap.mirrored)
                negative = set(session.scalars(select(HashBank.name).where(HashBank.negative)))
        policy = self.tools.feed_policy
        limits = policy.thresholds(self.name) or self.thresholds
        risk_of = {"review": limits.review, "remove": limits.remove or 1.0}
        risk, evidence = 0.0, []
        live = suppressed = child_safety = 0
        for match in found:
            if match.bank in negative:
                step, why = None, "negative bank (known false positives)"
            elif match.suppressed_by is not None:
                step, why = None, f"suppressed by negative bank {match.suppressed_by}"
                suppressed += 1
            else:
                step = policy.bank_step(match.action, match.child_safety)
                why = f"bank action {match.action} -> {step} ({policy.ref})"
                risk = max(risk, risk_of[step])
                live += 1
                child_safety += match.child_safety
            evidence.append(
                Evidence(
                    kind=BANK_MATCH,
                    bank=match.bank,
                    signal_type=match.signal_type,
                    value=match.value,
                    distance=match.distance,
                    threshold_bits=MATCH_BITS,
                    matched_frames=match.matched_frames,
                    frames=match.frames,
                    mirrored=match.mirrored,
                    action=match.action,
                    child_safety=match.child_safety,
                    suppressed_by=match.suppressed_by,
                    negative=match.bank in negative,
                    step=step,
                    why=why,
                )
            )
        evidence.append(Evidence(kind=FINGERPRINT, hashes=tap.hashes, mirrored=tap.mirrored))
        scores = {
            "frames_hashed": float(len(tap.hashes)),
            "bank_matches": float(live),
            "suppressed_matches": float(suppressed),
            "child_safety_matches": float(child_safety),
        }
        return SignalResult(risk=round(risk, 4), scores=scores, evidence=evidence)

    def full_version(self) -> str:
        return f"{self.version}|pdq{MATCH_BITS}|{self.tools.feed_policy.ref}"
