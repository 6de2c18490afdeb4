"""Likeness checks: every face and the voice in a piece of media, matched 1:N against enrolled
cameos and protected people, each match with its score, threshold and the consent status for
the requester. Searches through the API are audited; reviewers and auditors see whether a face
matched, not whose it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cameoguard.audit.log import record as audit
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from safety.analysis import MediaAnalysis, analyse
from safety.consent import permissions as perms
from safety.consent.cameos import in_tenant
from safety.consent.models import LikenessModels, get_models
from safety.consent.registry import Entry, registry
from safety.consent.tables import Cameo, ProtectedPerson
from safety.media import Media, load_media
from safety.models.synthetic_voice import synthetic_voice_score

Consent = Literal["owner", "granted", "not_granted", "revoked", "unknown", "unchecked", "protected"]


class LikenessMatch(BaseModel):
    """One enrolled person a face or the voice matched. Reviewers and auditors get it without
    `id`, `threshold` and `consent` (see `without_identities`)."""

    kind: Literal["cameo", "protected"]
    matched: bool = True
    score: float
    id: str | None = None
    threshold: float | None = None
    consent: Consent | None = None
    name: str | None = None  # a protected person's public name

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id or 'another-tenant'}"


class FaceSeen(BaseModel):
    time: float
    box: list[int]
    apparent_age: int | None
    possible_minor: bool
    matches: list[LikenessMatch]


class VoiceHeard(BaseModel):
    audio_seconds: float
    speech_seconds: float
    matches: list[LikenessMatch]
    # Probability that the speech is synthetic (text-to-speech), from prosody alone: evidence for
    # a reviewer, never a decision (safety/models/synthetic_voice.py). None under 1 s of sound.
    synthetic_voice: float | None = None


class MediaFacts(BaseModel):
    kind: str
    duration: float
    frames_scanned: int


class LikenessSummary(BaseModel):
    faces_found: int
    possible_minor: bool
    matched: list[str]
    unconsented: list[str]
    decision: Literal["allow", "block", "unchecked"]
    reasons: list[str]


class LikenessReport(BaseModel):
    media: MediaFacts
    faces: list[FaceSeen]
    voice: VoiceHeard
    summary: LikenessSummary
    models: dict[str, str]


def consent_status(cameo: Cameo | None, requester_id: str, mutuals: list[str]) -> Consent:
    if cameo is None:
        return "unknown"
    if cameo.status != "active":
        return "revoked"
    if requester_id == cameo.owner_id:
        return "owner"
    access = perms.who_may_use(
        owner_id=cameo.owner_id,
        owner_is_minor=cameo.owner_is_minor,
        permission=cameo.permission,
        approved=list(cameo.approved_user_ids or []),
        requester_id=requester_id,
        requester_is_mutual=cameo.owner_id in mutuals,
    )
    return "granted" if access.granted else "not_granted"


@dataclass(frozen=True)
class AnalysedFile:
    """What a likeness report needs of a media file, computed without the database: plain,
    picklable data (it may come back from a heavy-work process)."""

    kind: str
    duration: float
    analysis: MediaAnalysis
    synthetic_voice: float | None


def analyse_file(
    path: Path,
    models: LikenessModels,
    *,
    max_seconds: float,
    frames_per_second: float = 1.0,
) -> AnalysedFile:
    """Decodes `path` (an image, video or audio file) and finds its faces and voice."""
    media = load_media(
        path, max_seconds=max_seconds, frames_per_second=frames_per_second, max_frames=120
    )
    return AnalysedFile(media.kind, media.duration, analyse(media, models), _synthetic_voice(media))


def analyse_file_in_worker(path: str, max_seconds: float) -> AnalysedFile:
    """`analyse_file` in a heavy-work process (cameoguard.process_pool): the worker loads the
    models once, on its first file."""
    return analyse_file(Path(path), get_models(), max_seconds=max_seconds)


def likeness(
    path: Path,
    models: LikenessModels,
    *,
    requester_id: str | None,
    mutual_owner_ids: list[str] | None = None,
    frames_per_second: float = 1.0,
    tenant: str | None = None,
) -> LikenessReport:
    """Decodes `path` (an image, video or audio file) and reports every likeness in it."""
    seen = analyse_file(
        path,
        models,
        max_seconds=get_settings().likeness_max_seconds,
        frames_per_second=frames_per_second,
    )
    return report_likeness(
        seen, models, requester_id=requester_id, mutual_owner_ids=mutual_owner_ids, tenant=tenant
    )


def _match(
    session: Session,
    entry: Entry,
    score: float,
    threshold: float,
    requester_id: str | None,
    mutuals: list[str],
    tenant: str | None,
) -> LikenessMatch:
    if entry.kind == "protected":
        person = session.get(ProtectedPerson, entry.id)
        licensed = person is not None and requester_id in (person.licensed_user_ids or [])
        return LikenessMatch(
            kind="protected",
            id=entry.id,
            score=round(score, 4),
            threshold=threshold,
            consent="granted" if licensed else "protected",
            name=person.name if person else entry.id,
        )
    cameo = session.get(Cameo, entry.id)
    if cameo is not None and not in_tenant(cameo, tenant):
        # Enrolled through another tenant: their face is theirs everywhere, but who they are
        # and what they allow is not this tenant's to know, and no consent was given here.
        return LikenessMatch(kind="cameo", score=round(score, 4), threshold=threshold,
                             consent="not_granted" if requester_id else "unchecked")  # fmt: skip
    return LikenessMatch(
        kind="cameo",
        id=entry.id,
        score=round(score, 4),
        threshold=threshold,
        consent=consent_status(cameo, requester_id, mutuals) if requester_id else "unchecked",
    )


def _synthetic_voice(media: Media) -> float | None:
    if media.audio is None:
        return None
    try:
        return round(synthetic_voice_score(media.audio), 4)
    except ValueError:  # under a second of sound
        return None


def likeness_of(
    media: Media,
    analysis: MediaAnalysis,
    models: LikenessModels,
    *,
    requester_id: str | None,
    mutual_owner_ids: list[str] | None = None,
    tenant: str | None = None,
) -> LikenessReport:
    """The likeness report of media already decoded and analysed (the feed analyses each item
    once for all its signals), for a requester of `tenant` (None: the operator)."""
    seen = AnalysedFile(media.kind, media.duration, analysis, _synthetic_voice(media))
    return report_likeness(
        seen, models, requester_id=requester_id, mutual_owner_ids=mutual_owner_ids, tenant=tenant
    )


def report_likeness(
    seen: AnalysedFile,
    models: LikenessModels,
    *,
    requester_id: str | None,
    mutual_owner_ids: list[str] | None = None,
    tenant: str | None = None,
) -> LikenessReport:
    """Matches the faces and voice found in `seen` against the registry (the database)."""
    analysis = seen.analysis
    margin = get_settings().minor_age_margin
    mutuals = mutual_owner_ids or []
    face_threshold = models.face.match_threshold
    with session_scope() as session:
        faces = []
        for s in analysis.sightings:
            hits = registry.search(session, "face", models.face.name, s.face.embedding, k=3)
            faces.append(
                FaceSeen(
                    time=round(s.time, 2),
                    box=list(s.face.box),
                    apparent_age=s.age.years if s.age else None,
                    possible_minor=bool(s.age and s.age.possible_minor(margin)),
                    matches=[
                        _match(session, e, sc, face_threshold, requester_id, mutuals, tenant)
                        for e, sc in hits
                        if sc >= face_threshold
                    ],
                )
            )
        voice_matches: list[LikenessMatch] = []
        if analysis.voice is not None:
            hits = registry.search(session, "voice", models.voice.name, analysis.voice.embedding, 3)
            for entry, score in hits:
                threshold = models.voice.threshold_for_enrollment(entry.views, entry.utterances)
                if score >= threshold:
                    voice_matches.append(
                        _match(session, entry, score, threshold, requester_id, mutuals, tenant)
                    )
    voice = VoiceHeard(
        audio_seconds=round(analysis.audio_seconds, 2),
        speech_seconds=round(analysis.speech_seconds, 2),
        matches=voice_matches,
        synthetic_voice=seen.synthetic_voice,
    )
    matches = [m for f in faces for m in f.matches] + voice.matches
    unconsented = sorted({m.ref for m in matches if m.consent not in ("owner", "granted")})
    reasons = [f"likeness of {u} without consent" for u in unconsented] if requester_id else []
    return LikenessReport(
        media=MediaFacts(
            kind=seen.kind,
            duration=round(seen.duration, 2),
            frames_scanned=analysis.frames_scanned,
        ),
        faces=faces,
        voice=voice,
        summary=LikenessSummary(
            faces_found=len(faces),
            possible_minor=any(f.possible_minor for f in faces),
            matched=sorted({m.ref for m in matches}),
            unconsented=unconsented,
            decision=("block" if reasons else "allow") if requester_id else "unchecked",
            reasons=reasons,
        ),
        models={"face": models.face.name, "voice": models.voice.name},
    )


def record_likeness_search(report: LikenessReport, actor: str, requester_id: str | None) -> None:
    """Audits a likeness search made through the API: who searched, when, how many faces and
    matches (never the media, never the matched ids: the audit log is no index of faces)."""
    summary = report.summary
    with session_scope(write=True) as session:
        audit(
            session,
            actor=actor,
            action="likeness.search",
            subject=f"requester:{requester_id}" if requester_id else "likeness",
            reason=f"{len(summary.matched)} match(es) in {summary.faces_found} face(s)",
            details={
                "faces": summary.faces_found,
                "matches": len(summary.matched),
                "unconsented": len(summary.unconsented),
                "media_kind": report.media.kind,
            },
        )


def without_identities(report: LikenessReport) -> LikenessReport:
    """The report as a reviewer or auditor may see it: whether each face or voice matched an
    enrolled person (and a protected person's public name), not which cameo or whose it is."""

    def blind(match: LikenessMatch) -> LikenessMatch:
        return LikenessMatch(kind=match.kind, score=match.score, name=match.name)

    def kinds(refs: list[str]) -> list[str]:
        return sorted(ref.partition(":")[0] for ref in refs)

    return report.model_copy(
        update={
            "faces": [
                face.model_copy(update={"matches": [blind(m) for m in face.matches]})
                for face in report.faces
            ],
            "voice": report.voice.model_copy(
                update={"matches": [blind(m) for m in report.voice.matches]}
            ),
            "summary": report.summary.model_copy(
                update={
                    "matched": kinds(report.summary.matched),
                    "unconsented": kinds(report.summary.unconsented),
                    "reasons": [],
                }
            ),
        }
    )
