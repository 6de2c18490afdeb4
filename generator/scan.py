"""The output scan of a rendered clip, before anything marks or stores it: faces and voices
against the cameo and protected-people banks (with the requester's consent), apparent ages,
nudity on frames sampled each second, and the transcript through the text policy. Thresholds
come from `policies/generation.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cameoguard.settings import get_settings
from generator.tables import GenerationJob
from safety.analysis import analyse
from safety.consent.likeness import likeness_of
from safety.consent.models import LikenessModels
from safety.media import load_media
from safety.models.nsfw import NsfwScorer
from safety.policy.engine import CheckContext, Decision, PolicyEngine
from safety.policy.pack import POLICIES_DIR, load_yaml_model

NsfwModel = NsfwScorer


class ScanPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: int = Field(ge=1)
    nsfw_review: float = Field(ge=0, le=1)
    nsfw_block: float = Field(ge=0, le=1)
    minor_context_categories: list[str]

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@lru_cache(maxsize=1)
def scan_policy() -> ScanPolicy:
    return load_yaml_model(POLICIES_DIR / "generation.yaml", ScanPolicy)


@dataclass
class ScanResult:
    outcome: str  # ok | review | block
    details: dict[str, Any]


def _minor_context(decision: Decision, policy: ScanPolicy) -> list[str]:
    hits = []
    for name in policy.minor_context_categories:
        result = decision.categories.get(name)
        if result is not None and result.score >= result.thresholds.get("review", 1.0):
            hits.append(name)
    return hits


def scan_output(
    path: Path,
    job: GenerationJob,
    transcript: str,
    prompt_decision: Decision,
    engine: PolicyEngine,
    models: LikenessModels,
    nsfw: NsfwModel,
) -> ScanResult:
    policy = scan_policy()
    blocks: list[str] = []
    reviews: list[str] = []

    # One decode of the output for the face, age and voice models and for the nudity model.
    media = load_media(path, max_seconds=get_settings().generation_max_seconds + 1, max_frames=120)
    likeness = likeness_of(
        media,
        analyse(media, models),
        models,
        requester_id=job.requester_id,
        mutual_owner_ids=job.mutual_owner_ids,
        tenant=job.tenant,
    )
    summary = likeness.summary
    blocks += summary.reasons

    frame_scores = nsfw.scores([image for _, image in media.frames])
    worst = max(frame_scores, default=0.0)
    if worst >= policy.nsfw_block:
        blocks.append(f"nudity {worst:.2f} >= block {policy.nsfw_block} ({policy.ref})")
    elif worst >= policy.nsfw_review:
        reviews.append(f"nudity {worst:.2f} >= review {policy.nsfw_review} ({policy.ref})")

    minors = [f for f in likeness.faces if f.possible_minor]
    context = _minor_context(prompt_decision, policy)
    if minors and (context or worst >= policy.nsfw_review):
        why = ", ".join(context) or f"nudity {worst:.2f}"
        blocks.append(f"a face that may be a minor in a {why} context ({policy.ref})")

    text: dict[str, Any] = {"transcript": transcript}
    if transcript.strip():
        said = engine.check(transcript, CheckContext(purpose="generation", uses_cameo=True))
        text |= {"decision": said.action, "flagged": said.flagged, "pack": said.pack}
        if said.action == "block":
            blocks.append(f"the spoken text is blocked: {'; '.join(said.reasons)}")
        elif said.action == "review":
            reviews.append(f"the spoken text needs review: {'; '.join(said.reasons)}")

    outcome = "block" if blocks else "review" if reviews else "ok"
    reasons = blocks or reviews
    return ScanResult(
        outcome,
        {
            "reason": "; ".join(reasons) or "nothing found",
            "policy": policy.ref,
            "frames_scanned": len(frame_scores),
            "nsfw_max": round(worst, 4),
            "faces": [
                f.model_dump(include={"time", "apparent_age", "possible_minor", "matches"})
                for f in likeness.faces
            ],
            "voice_matches": [m.model_dump() for m in likeness.voice.matches],
            "unconsented": summary.unconsented,
            "possible_minors": len(minors),
            "text": text,
            "models": {**likeness.models, "nsfw": nsfw.name},
        },
    )
