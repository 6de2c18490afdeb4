"""The deepfake-risk worker. Is the item AI-generated (a C2PA manifest that says so, our
watermark, our fingerprint bank)? Does it show a real person's face or voice (the likeness check
against enrolled cameos and protected people)? Is there consent for this use (the author is the
owner or allowed, or our generation record lists the cameo and it is still active)? A real
person's likeness without consent is the highest risk; scores are also given per 5 s segment."""

from __future__ import annotations

from typing import Any

from cameoguard.settings import get_settings
from consumers.media_access import resolve_media
from consumers.schemas import ContentPublished, ContentScores
from provenance.verify import verify_file
from safety.consent.models import LikenessModels
from safety.consent.service import likeness

CLASSIFIER = "deepfake"
SEGMENT_S = 5.0
RISK_PROTECTED = 0.95  # a protected person (public figure) without a cameo of their own
RISK_NO_CONSENT = 0.9  # an enrolled person whose consent does not cover this use
RISK_REAL_FOOTAGE = 0.6  # a likeness without consent, but nothing says the clip is generated
RISK_AI_ONLY = 0.05


def _ai_evidence(report: dict[str, Any]) -> list[str]:
    signs = []
    c2pa = report.get("c2pa", {})
    if "trainedAlgorithmicMedia" in str(c2pa.get("digital_source_type", "")):
        signs.append(f"C2PA declares AI-generated ({c2pa.get('state')})")
    if report.get("watermark", {}).get("found"):
        signs.append(f"our watermark {report['watermark']['id']}")
    if report.get("fingerprint", {}).get("match"):
        signs.append(f"our fingerprint {report['fingerprint']['watermark_id']}")
    return signs


def score_item(item: ContentPublished, models: LikenessModels) -> ContentScores:
    path = resolve_media(item.media_location)
    report = verify_file(path, full_record=True, thorough=False)
    ai = _ai_evidence(report)
    record_cameos = set((report.get("record") or {}).get("cameo_ids") or [])
    seen = likeness(
        path,
        models,
        requester_id=item.author_id,
        frames_per_second=get_settings().feed_frames_per_second,
    )
    evidence: list[dict[str, Any]] = [{"kind": "provenance", "ai_generated": ai,
                                       "verdict": report.get("verdict")}]  # fmt: skip
    cameos_used = sorted(set(item.cameo_ids) | record_cameos)
    if cameos_used:  # what a consent.revoked event is matched against later
        evidence.append({"kind": "cameos_used", "ids": cameos_used})
    segments: dict[int, float] = {}
    risk = RISK_AI_ONLY if ai else 0.0
    sources = [("face", f["time"], m) for f in seen["faces"] for m in f["matches"]]
    sources += [("voice", 0.0, m) for m in seen["voice"]["matches"]]
    for modality, time, match in sources:
        consented = match["consent"] in ("owner", "granted") or (
            match["kind"] == "cameo"
            and match["id"] in record_cameos
            and match["id"] in item.cameo_ids
            and match["consent"] != "revoked"
        )
        if consented:
            level = RISK_AI_ONLY
        elif match["kind"] == "protected":
            level = RISK_PROTECTED if ai else RISK_REAL_FOOTAGE
        else:
            level = RISK_NO_CONSENT if ai else RISK_REAL_FOOTAGE
        segment = int(time // SEGMENT_S)
        segments[segment] = max(segments.get(segment, 0.0), level)
        risk = max(risk, level)
        evidence.append(
            {
                "kind": modality,
                "time": time,
                "match": f"{match['kind']}:{match['id']}",
                "cameo_id": match["id"] if match["kind"] == "cameo" else None,
                "score": match["score"],
                "threshold": match["threshold"],
                "consent": "on record" if consented else match["consent"],
            }
        )
    scores = {"risk": round(risk, 4), "ai_generated": 1.0 if ai else 0.0}
    scores |= {f"segment_{k * SEGMENT_S:.0f}s": v for k, v in sorted(segments.items())}
    return ContentScores(
        item_id=item.item_id,
        classifier=CLASSIFIER,
        version=f"deepfake-v1|{seen['models']['face']}|{seen['models']['voice']}",
        scores=scores,
        evidence=evidence,
    )
