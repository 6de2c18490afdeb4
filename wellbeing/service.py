"""The selfie part of age assurance: the media read by the face and age models (no HTTP, no
database), for the route to call outside its transaction."""

from __future__ import annotations

from pathlib import Path

from cameoguard import media_store
from cameoguard.errors import RefusalKind
from cameoguard.settings import get_settings
from safety.consent.models import require_models
from wellbeing.age import AgeError, Evidence, selfie_evidence
from wellbeing.faces import analyse_path
from wellbeing.policy import WellbeingPolicy

SELFIE_MAX_SECONDS = 30.0


def selfie_path(location: str) -> Path:
    try:
        return media_store.resolve(location)
    except media_store.MediaLocationError as exc:
        raise AgeError(RefusalKind.invalid, "bad_media_location", str(exc)) from exc
    except FileNotFoundError as exc:
        raise AgeError(RefusalKind.invalid, "media_not_found", str(exc)) from exc


def read_selfie(path: Path, policy: WellbeingPolicy) -> Evidence:
    """The challenge-25 evidence of a selfie video (or photo) at `path`."""
    models = require_models()
    rules = policy.age_assurance
    seconds = min(get_settings().likeness_max_seconds, SELFIE_MAX_SECONDS)
    found = analyse_path(
        path, models, max_seconds=seconds, fps=rules.frames_per_second, max_frames=rules.max_frames
    )
    frames = max((len(p.ages) for p in found), default=0)
    return selfie_evidence(found, frames, rules)
