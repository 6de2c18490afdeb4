"""The auditor's report on one media file: its C2PA manifest, our invisible watermark, and the
generation record either one points to, with a one-line verdict a person can read."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cameoguard.crypto import derive_key
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from provenance import records
from provenance.c2pa_manifest import GENERATION_ASSERTION, C2paReport, read_manifest
from provenance.fingerprint import MATCH_BITS, closest, fingerprint_video
from provenance.keys import trust_anchors
from provenance.watermark import audio as audio_wm
from provenance.watermark.video import PRESENCE_Z, detect_video

log = logging.getLogger("cameoguard.provenance")
MAX_AUDIO_SECONDS = 3600.0

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF", "audio/wav"),
)


def watermark_key() -> bytes:
    """The key of our invisible watermarks (derived from the master secret)."""
    return derive_key("watermark-v1")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sniff_mime(head: bytes) -> str | None:
    """The real type from the first bytes, whatever the file name says."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            if mime == "audio/wav" and head[8:12] != b"WAVE":
                return None
            return mime
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None


def _audio_section(path: Path) -> dict[str, Any]:
    """Our audio watermark in the file's first audio track (any container FFmpeg reads)."""
    from safety.media import MediaError, load_media

    try:
        media = load_media(path, max_seconds=MAX_AUDIO_SECONDS, max_frames=1)
    except MediaError as exc:
        return {"checked": False, "reason": str(exc)}
    if not media.has_audio:
        return {"checked": False, "reason": "no audio track"}
    assert media.audio is not None
    report = audio_wm.detect(media.audio, watermark_key()).as_dict()
    return report | {"threshold_z": audio_wm.PRESENCE_Z}


def _watermark_section(path: Path, mime: str | None) -> dict[str, Any]:
    """The video watermark (MP4) and the audio watermark (any file with sound). The top-level
    `found`/`id` say whether either carried our id; the video's details stay at the top."""
    audio = (
        _audio_section(path)
        if mime not in ("image/jpeg", "image/png")
        else {"checked": False, "reason": "an image has no audio"}
    )
    if mime != "video/mp4":
        found = bool(audio.get("found"))
        return {
            "checked": bool(audio.get("checked")),
            "found": found,
            "id": audio.get("id") if found else None,
            "found_in": ["audio"] if found else [],
            "confidence": {"sync_z": audio.get("sync_z", 0.0), "threshold_z": audio_wm.PRESENCE_Z},
            "audio": audio,
            "reason": "" if audio.get("checked") else "video watermarks are read from MP4 video",
        }
    try:
        report = detect_video(path, watermark_key(), max_pixels=get_settings().max_decode_pixels)
    except Exception as exc:  # corrupt media: reported, never raised
        return {
            "checked": False,
            "found": False,
            "reason": f"unreadable video: {type(exc).__name__}: {exc}",
            "audio": audio,
        }
    whole = report.whole
    video_id = f"{whole.identifier:016x}" if whole.identifier is not None else None
    found_in = (["video"] if whole.found else []) + (["audio"] if audio.get("found") else [])
    section = {
        "checked": True,
        "found": bool(found_in),
        "id": video_id if whole.found else audio.get("id"),
        "found_in": found_in,
        "confidence": {"sync_z": whole.z, "threshold_z": PRESENCE_Z},
        "frames": whole.frames,
        "crop": whole.crop,
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "found": s.found,
                "id": f"{s.identifier:016x}" if s.identifier is not None else None,
                "sync_z": s.z,
            }
            for s in report.segments
        ],
        "audio": audio,
    }
    if whole.found and audio.get("found") and audio.get("id") != video_id:
        section["conflict"] = f"video carries {video_id}, audio carries {audio.get('id')}"
    return section


def read_watermark(path: Path) -> dict[str, Any]:
    """The watermark section of the report for one file (the generator reads its own output
    back before releasing it)."""
    with path.open("rb") as fh:
        head = fh.read(64)
    return _watermark_section(path, sniff_mime(head))


def _fingerprint_section(path: Path, mime: str | None, session: Session) -> dict[str, Any]:
    if mime != "video/mp4":
        return {"checked": False, "reason": "fingerprints are computed for MP4 video"}
    try:
        hashes = fingerprint_video(path, max_pixels=get_settings().max_decode_pixels)
    except Exception as exc:  # corrupt media: reported, never raised
        return {"checked": False, "reason": f"unreadable video: {type(exc).__name__}: {exc}"}
    best = closest(hashes, records.fingerprint_index(session))
    section: dict[str, Any] = {"checked": True, "frames": len(hashes), "match": False}
    if best is not None:
        section |= {
            "match": best.is_match,
            "watermark_id": best.key,
            "matched_frames": best.matched_frames,
            "median_distance": best.median_distance,
            "threshold_bits": MATCH_BITS,
        }
    return section


def _verdict(
    c2pa: C2paReport,
    watermark: dict[str, Any],
    fingerprint: dict[str, Any],
    record: dict[str, Any] | None,
) -> str:
    ours = record is not None
    if c2pa.present and c2pa.state == "Trusted":
        head = "Signed content credentials, trusted signer"
    elif c2pa.present and c2pa.state == "Valid":
        head = "Signed content credentials from an unknown signer"
    elif c2pa.present:
        head = "Content credentials present but INVALID (tampered or broken)"
    else:
        head = "No content credentials"
    if watermark.get("found"):
        head += f"; our watermark {watermark['id']} found in {' and '.join(watermark['found_in'])}"
    elif watermark.get("checked"):
        head += "; no watermark of ours"
    if fingerprint.get("match"):
        head += f"; looks like our output {fingerprint['watermark_id']} (perceptual fingerprint)"
    if ours:
        head += f"; generated by this service (generation {record['generation_id']})"
    elif c2pa.digital_source_type and "trainedAlgorithmicMedia" in c2pa.digital_source_type:
        head += "; declared AI-generated by its producer"
    return head + "."


def verify_file(path: Path, *, full_record: bool, thorough: bool = True) -> dict[str, Any]:
    """The whole report. Never raises on bad media: problems are part of the report.

    `thorough=False` (the feed's deepfake worker) skips the watermark and fingerprint searches
    when a trusted manifest names a generation on record: the manifest's hard binding already
    proves the bytes are that output, and the searches cost most of the time."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(64)
    mime = sniff_mime(head)
    if mime is None:
        c2pa = C2paReport(present=False, error="not a JPEG, PNG, WAV or MP4 file")
    else:
        with path.open("rb") as fh:
            c2pa = read_manifest(fh, trust_anchors(), mime)
    record_row, source = None, None
    generation_id = (c2pa.generation or {}).get("generation_id")
    with session_scope() as session:
        if c2pa.state in ("Trusted", "Valid") and generation_id:
            record_row, source = records.find(session, generation_id=generation_id), "c2pa"
    skip = not thorough and c2pa.state == "Trusted" and record_row is not None
    if skip:
        skipped = {"checked": False, "reason": "skipped: a trusted manifest names a generation"}
        watermark, fingerprint = dict(skipped), dict(skipped)
    else:
        watermark = _watermark_section(path, mime)
    with session_scope() as session:
        if not skip:
            fingerprint = _fingerprint_section(path, mime, session)
        if record_row is None and watermark.get("found"):
            record_row = records.find(session, watermark_id=int(watermark["id"], 16))
            source = "watermark"
        if record_row is None and fingerprint.get("match"):
            record_row = records.find(session, watermark_id=int(fingerprint["watermark_id"], 16))
            source = "fingerprint"
        record = records.as_dict(record_row, full_record) if record_row is not None else None
    report = {
        "file": {"bytes": size, "sha256": file_sha256(path), "type": mime},
        "c2pa": {
            k: v
            for k, v in asdict(c2pa).items()
            if v not in (None, [], {}) or k in ("present", "state")
        },
        "watermark": watermark,
        "fingerprint": fingerprint,
        "record": record,
        "record_source": source if record is not None else None,
        "verdict": _verdict(c2pa, watermark, fingerprint, record),
    }
    if c2pa.generation is not None:
        report["c2pa"]["assertion"] = GENERATION_ASSERTION
    return report
