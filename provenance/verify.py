"""The auditor's report on one media file: its C2PA manifest, the marks of ours it carries
(every mark of the registry: the video and audio watermarks, the fingerprint), and the
generation record any of them points to, with a one-line verdict a person can read.

Reading a file: its credentials first (type, digest, manifest: no decoding), then, unless a
trusted manifest already names a record, one decode pass over the video feeding every mark
that reads frames, and the audio once."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from cameoguard.crypto import derive_key
from cameoguard.db import session_scope
from provenance import records
from provenance.c2pa_manifest import GENERATION_ASSERTION, C2paReport, read_manifest
from provenance.fingerprint import FingerprintTap
from provenance.keys import trust_anchors
from provenance.marks.base import Detection, Mark, MarkSource
from provenance.marks.registry import marks
from provenance.tables import ProvenanceRecord
from safety.media import (
    MediaError,
    decode_audio,
    decode_video,
    default_limits,
    load_media,
    probe,
)

log = logging.getLogger("cameoguard.provenance")

# Asked which of a record's cameos no longer consent ({cameo id: why}); the consent area answers,
# handed over by the assembly (`use_consent_lookup`). Without it the report says "unknown".
ConsentLookup = Callable[[list[str]], dict[str, str]]
_consent_lookup: ConsentLookup | None = None


def use_consent_lookup(lookup: ConsentLookup | None) -> None:
    global _consent_lookup
    _consent_lookup = lookup


def _consent_section(cameo_ids: list[str], full: bool) -> dict[str, Any]:
    """Whether consent for the record's cameos is still in force; which cameos (and why) only
    for auditors and admins."""
    if not cameo_ids:
        return {"state": "no_cameos"}
    if _consent_lookup is None:
        return {"state": "unknown"}
    withdrawn = _consent_lookup(cameo_ids)
    if not withdrawn:
        return {"state": "in_force"}
    section: dict[str, Any] = {"state": "withdrawn", "withdrawn_count": len(withdrawn)}
    if full:
        section["withdrawn"] = withdrawn
    return section


MAX_AUDIO_SECONDS = 3600.0
MAX_VIDEO_SECONDS = 600.0  # the watermark is in every frame: the first minutes suffice

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\x0a", "image/jxl"),
    (b"\x00\x00\x00\x0cJXL ", "image/jxl"),
)
_RIFF = {b"WAVE": "audio/wav", b"WEBP": "image/webp", b"AVI ": "video/avi"}
# ISO base media files by their major brand (anything else with `ftyp` is read as MP4).
_BRANDS = {
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4V ": "video/x-m4v",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"heif": "image/heif",
}


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
    """The real type from the first bytes, whatever the file name says (None: not a format
    this service recognises)."""
    if head.startswith(b"RIFF"):
        return _RIFF.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _BRANDS.get(head[8:12], "video/mp4")
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # an MPEG audio frame without an ID3 tag
    stripped = head.lstrip()
    if stripped.startswith(b"<svg") or (stripped.startswith(b"<?xml") and b"<svg" in head):
        return "image/svg+xml"
    return None


def sniff_file(path: Path) -> str | None:
    """`sniff_mime` on the file's first bytes; behind an ID3 tag (where a C2PA manifest of an
    MP3 or FLAC file lives), the bytes after the tag decide between FLAC and MP3."""
    with path.open("rb") as fh:
        head = fh.read(64)
        if head.startswith(b"ID3") and len(head) >= 10:
            size = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(head[6:10]))
            fh.seek(size)
            if fh.read(4) == b"fLaC":
                return "audio/flac"
    return sniff_mime(head)


def c2pa_reads(mime: str) -> bool:
    """Whether the C2PA library reads manifests from this type (its own list)."""
    import c2pa

    return mime in set(c2pa.Reader.get_supported_mime_types())


def _decode_for_marks(path: Path, marks: list[Mark]) -> MarkSource:
    """One decode pass over the video for every mark that reads frames, and the audio once.
    Media that cannot be read gives a source with nothing in it (the marks say why)."""
    taps = {m.name: tap for m in marks if (tap := m.frame_tap()) is not None}
    for tap in taps.values():
        if isinstance(tap, FingerprintTap):
            tap.keep_frames = True  # an auditor's file is searched for a crop too
    try:
        header = probe(path)
        if header.kind == "video":
            decode_video(path, list(taps.values()), default_limits(math.inf), MAX_VIDEO_SECONDS)
        stills = {n: t for n, t in taps.items() if hasattr(t, "take_image")}
        if header.kind == "image" and stills:
            # A screenshot or a single frame: the taps that read stills (the fingerprint).
            image = load_media(path, max_seconds=1.0, max_frames=1, want_audio=False)
            for tap in stills.values():
                for _, rgb in image.frames:
                    tap.take_image(rgb)
        audio = decode_audio(path, MAX_AUDIO_SECONDS) if header.has_audio else None
    except MediaError as exc:
        log.info("verify: unreadable media", extra={"error": str(exc)[:200]})
        return MarkSource(path, None, {})
    if header.kind == "image":
        return MarkSource(path, audio, stills)
    return MarkSource(path, audio, taps if header.kind == "video" else {})


def detect_marks(marks: list[Mark], source: MarkSource) -> dict[str, Detection]:
    return {mark.name: mark.detect(source) for mark in marks}


def _audio_section(audio: Detection) -> dict[str, Any]:
    return {
        "checked": audio.checked,
        "found": audio.found,
        "id": audio.id,
        "sync_z": audio.z,
        "bit_margin": audio.details.get("bit_margin", 0.0),
        "seconds": audio.details.get("seconds", 0.0),
        "reason": audio.reason,
        "threshold_z": audio.threshold,
    }


def _watermark_section(detections: dict[str, Detection]) -> dict[str, Any]:
    """The watermarks as the report has always shown them: the top-level `found`/`id` say
    whether either carried our id, `confidence` is the statistic of the mark that found it."""
    video, audio = detections["video_watermark"], detections["audio_watermark"]
    audio_part = _audio_section(audio)
    found_in = (["video"] if video.found else []) + (["audio"] if audio.found else [])
    finder = video if video.found or not audio.found else audio
    section: dict[str, Any] = {
        "checked": video.checked or audio.checked,
        "found": bool(found_in),
        "id": video.id if video.found else (audio.id if audio.found else None),
        "found_in": found_in,
        "confidence": {"sync_z": finder.z, "threshold_z": finder.threshold},
        "audio": audio_part,
    }
    if not video.checked:
        section["reason"] = video.reason
        return section
    section |= {
        "frames": video.details.get("frames", 0),
        "crop": video.details.get("crop"),
        "segments": [
            {"start": g.start, "end": g.end, "found": g.found, "id": g.id, "sync_z": g.z}
            for g in video.segments
        ],
    }
    if video.found and audio.found and audio.id != video.id:
        section["conflict"] = f"video carries {video.id}, audio carries {audio.id}"
    return section


def _fingerprint_section(fingerprint: Detection) -> dict[str, Any]:
    if not fingerprint.checked:
        return {"checked": False, "reason": fingerprint.reason}
    section: dict[str, Any] = {
        "checked": True,
        "frames": fingerprint.details.get("frames", 0),
        "match": fingerprint.found,
    }
    if fingerprint.id is not None:
        section |= {
            "watermark_id": fingerprint.id,
            "matched_frames": fingerprint.details.get("matched_frames"),
            "median_distance": fingerprint.details.get("median_distance"),
            "threshold_bits": fingerprint.details.get("threshold_bits"),
        }
        if fingerprint.details.get("crop") is not None:
            section["crop"] = fingerprint.details["crop"]  # scale, left, top of the original
    return section


def read_watermark(path: Path) -> dict[str, Any]:
    """The watermark section of the report for one file (the generator reads its own output
    back before releasing it)."""
    chosen = [m for m in marks(watermark_key()) if m.name in ("video_watermark", "audio_watermark")]
    return _watermark_section(detect_marks(chosen, _decode_for_marks(path, chosen)))


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
    elif c2pa.state == "unsupported":
        head = "Unsupported format: content credentials cannot be read from it"
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
        if record.get("consent", {}).get("state") == "withdrawn":
            head += "; consent for a cameo in it was WITHDRAWN since (revoked)"
    elif c2pa.digital_source_type and "trainedAlgorithmicMedia" in c2pa.digital_source_type:
        head += "; declared AI-generated by its producer"
    return head + "."


class SegmentOut(BaseModel):
    start: float
    end: float
    found: bool
    id: str | None
    sync_z: float


class WatermarkSection(BaseModel):
    """Our invisible watermarks: `found`/`id` say whether either carried our id; `confidence`
    is the statistic of the mark that found it; per 5 s segment for video."""

    checked: bool
    found: bool = False
    id: str | None = None
    found_in: list[str] = Field(default_factory=list)
    confidence: dict[str, float] | None = None
    frames: int | None = None
    crop: list[float] | None = None
    segments: list[SegmentOut] | None = None
    audio: dict[str, Any] | None = None
    conflict: str | None = None
    reason: str | None = None


class FingerprintSection(BaseModel):
    checked: bool
    frames: int | None = None
    match: bool = False
    watermark_id: str | None = None
    matched_frames: int | None = None
    median_distance: float | None = None
    threshold_bits: int | None = None
    crop: list[float] | None = Field(
        default=None,
        description="Matched as a crop (provenance.crop_search): the share of each side kept,"
        " and the left and top of the crop as shares of the original's width and height",
    )
    reason: str | None = None


class VerifyReport(BaseModel):
    """The auditor's report (fields absent when they do not apply)."""

    file: dict[str, Any] = Field(description="bytes, sha256, and the type read from the bytes")
    c2pa: dict[str, Any] = Field(description="present, state, status codes, signer, actions...")
    watermark: WatermarkSection
    fingerprint: FingerprintSection
    marks: list[dict[str, Any]] = Field(description="Every mark's detection, as found")
    record: dict[str, Any] | None
    record_source: str | None = Field(description="c2pa, watermark or fingerprint")
    verdict: str


@dataclass(frozen=True)
class Credentials:
    """What a file says of itself, read without decoding it: its type and digest, its C2PA
    manifest, and the generation record a valid manifest names."""

    size: int
    sha256: str
    mime: str | None
    c2pa: C2paReport
    record: ProvenanceRecord | None


def read_credentials(path: Path) -> Credentials:
    mime = sniff_file(path)
    if mime is None or not c2pa_reads(mime):
        c2pa = C2paReport(
            present=False,
            state="unsupported",
            error=f"unsupported format ({mime or 'not recognised'}): content credentials of"
            " this type cannot be read",
        )
    else:
        with path.open("rb") as fh:
            c2pa = read_manifest(fh, trust_anchors(), mime)
    record = None
    generation_id = (c2pa.generation or {}).get("generation_id")
    if c2pa.state in ("Trusted", "Valid") and generation_id:
        with session_scope() as session:
            record = records.find(session, generation_id=generation_id)
            if record is not None:
                session.expunge(record)
    return Credentials(path.stat().st_size, file_sha256(path), mime, c2pa, record)


def marks_needed(credentials: Credentials, thorough: bool) -> bool:
    """False when a trusted manifest names a generation on record and the caller is not
    thorough (the feed): the manifest's hard binding already proves the bytes are that output,
    and the mark searches cost most of the time."""
    trusted_record = credentials.c2pa.state == "Trusted" and credentials.record is not None
    return thorough or not trusted_record


def verify_file(path: Path, *, full_record: bool, thorough: bool = True) -> dict[str, Any]:
    """The whole report. Never raises on bad media: problems are part of the report."""
    credentials = read_credentials(path)
    detections = None
    if marks_needed(credentials, thorough):
        chosen = marks(watermark_key())
        detections = detect_marks(chosen, _decode_for_marks(path, chosen))
    return assemble_report(credentials, detections, full_record)


def assemble_report(
    credentials: Credentials, detections: dict[str, Detection] | None, full_record: bool
) -> dict[str, Any]:
    """The report from what the file says and what the marks found (None: the searches were
    skipped), with the record either one points to."""
    c2pa = credentials.c2pa
    if detections is None:
        skipped = {"checked": False, "reason": "skipped: a trusted manifest names a generation"}
        watermark, fingerprint = dict(skipped), dict(skipped)
    else:
        watermark = _watermark_section(detections)
        fingerprint = _fingerprint_section(detections["fingerprint"])
    record_row, source = credentials.record, "c2pa" if credentials.record is not None else None
    with session_scope() as session:
        if record_row is None and watermark.get("found"):
            record_row = records.find(session, watermark_id=int(watermark["id"], 16))
            source = "watermark"
        if record_row is None and fingerprint.get("match"):
            record_row = records.find(session, watermark_id=int(fingerprint["watermark_id"], 16))
            source = "fingerprint"
        record = records.as_dict(record_row, full_record) if record_row is not None else None
        if record is not None and record_row is not None:
            record["consent"] = _consent_section(list(record_row.cameo_ids or []), full_record)
    report = {
        "file": {"bytes": credentials.size, "sha256": credentials.sha256, "type": credentials.mime},
        "c2pa": {
            k: v
            for k, v in asdict(c2pa).items()
            if v not in (None, [], {}) or k in ("present", "state")
        },
        "watermark": watermark,
        "fingerprint": fingerprint,
        "marks": [asdict(d) for d in (detections or {}).values()],
        "record": record,
        "record_source": source if record is not None else None,
        "verdict": _verdict(c2pa, watermark, fingerprint, record),
    }
    if c2pa.generation is not None:
        report["c2pa"]["assertion"] = GENERATION_ASSERTION
    return report
