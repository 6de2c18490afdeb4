"""Deepfake: is the item AI-generated (a C2PA manifest that says so, our watermark, our
fingerprint bank)? Does it show a real person's face or voice (matched against enrolled cameos
and protected people)? Is there consent for this use (the author is the owner or allowed, or our
generation record lists the cameo and it is still active)? A real person's likeness without
consent is the highest risk; scores are also given per 5 s segment, with the probability that
the speech is synthetic beside them as evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consumers.signals.base import Evidence, FeedSignal, SignalResult, Thresholds
from safety.consent.likeness import likeness_of

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from consumers.analysed import AnalysedMedia

SEGMENT_S = 5.0
RISK_PROTECTED = 0.95  # a protected person (public figure) without a cameo of their own
RISK_NO_CONSENT = 0.9  # an enrolled person whose consent does not cover this use
RISK_REAL_FOOTAGE = 0.6  # a likeness without consent, but nothing says the clip is generated
RISK_AI_ONLY = 0.05


def ai_signs(report: dict[str, Any]) -> list[str]:
    """What in a verification report says the media is AI-generated."""
    signs = []
    c2pa = report.get("c2pa", {})
    if "trainedAlgorithmicMedia" in str(c2pa.get("digital_source_type", "")):
        signs.append(f"C2PA declares AI-generated ({c2pa.get('state')})")
    if report.get("watermark", {}).get("found"):
        signs.append(f"our watermark {report['watermark']['id']}")
    if report.get("fingerprint", {}).get("match"):
        signs.append(f"our fingerprint {report['fingerprint']['watermark_id']}")
    return signs


class DeepfakeSignal(FeedSignal):
    name = "deepfake"
    version = "deepfake-v2"
    needs = frozenset({"frames", "audio", "faces", "voice", "provenance"})
    thresholds = Thresholds(review=0.5, remove=0.9, priority=1)

    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        report = media.provenance
        ai = ai_signs(report)
        record_cameos = set((report.get("record") or {}).get("cameo_ids") or [])
        seen = likeness_of(
            media.media,
            media.analysis,
            self.tools.models,
            requester_id=item.author_id,
            tenant=item.tenant,
        )
        evidence = [Evidence(kind="provenance", ai_generated=ai, verdict=report.get("verdict"))]
        cameos_used = set(item.cameo_ids) | record_cameos
        segments: dict[int, float] = {}
        risk = RISK_AI_ONLY if ai else 0.0
        sources = [("face", f.time, m) for f in seen.faces for m in f.matches]
        sources += [("voice", 0.0, m) for m in seen.voice.matches]
        for modality, time, match in sources:
            consented = match.consent in ("owner", "granted") or (
                match.kind == "cameo"
                and match.id in record_cameos
                and match.id in item.cameo_ids
                and match.consent != "revoked"
            )
            if consented:
                level = RISK_AI_ONLY
            elif match.kind == "protected":
                level = RISK_PROTECTED if ai else RISK_REAL_FOOTAGE
            else:
                level = RISK_NO_CONSENT if ai else RISK_REAL_FOOTAGE
            if match.kind == "cameo" and match.id:
                cameos_used.add(match.id)
            segment = int(time // SEGMENT_S)
            segments[segment] = max(segments.get(segment, 0.0), level)
            risk = max(risk, level)
            evidence.append(
                Evidence(
                    kind=modality,
                    time=time,
                    match=match.ref,
                    cameo_id=match.id if match.kind == "cameo" else None,
                    score=match.score,
                    threshold=match.threshold,
                    consent="on record" if consented else match.consent,
                )
            )
        scores = {"ai_generated": 1.0 if ai else 0.0}
        if seen.voice.synthetic_voice is not None:
            # Prosody says text-to-speech: shown to reviewers, never acted on alone (it flags
            # about one real voice in ten at 0.5 on held-out speakers; see the README).
            scores["synthetic_voice"] = seen.voice.synthetic_voice
            evidence.append(Evidence(kind="synthetic_voice", score=seen.voice.synthetic_voice))
        scores |= {f"segment_{k * SEGMENT_S:.0f}s": v for k, v in sorted(segments.items())}
        return SignalResult(
            risk=round(risk, 4), scores=scores, evidence=evidence, cameos_seen=sorted(cameos_used)
        )

    def full_version(self) -> str:
        models = self.tools.models
        return f"{self.version}|{models.face.name}|{models.voice.name}"
