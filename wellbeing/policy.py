"""The wellbeing policy (`policies/wellbeing.yaml`) and the rating policy
(`policies/rating.yaml`), validated. Pure: no database."""

from __future__ import annotations

import re
import unicodedata
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from safety.policy.pack import POLICIES_DIR, load_yaml_model

AgeGroup = Literal["teen", "adult", "unknown"]
Rating = Literal["all", "teen", "mature"]
RATING_ORDER: dict[str, int] = {"all": 0, "teen": 1, "mature": 2}
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgeAssurancePolicy(_Strict):
    challenge_age: int = Field(ge=18, le=40)
    max_young_fraction: float = Field(ge=0, le=1)
    min_frames: int = Field(ge=1, le=60)
    frames_per_second: float = Field(gt=0, le=10)
    max_frames: int = Field(ge=1, le=120)
    behavioural_min_confidence: float = Field(ge=0, le=1)
    teen_min_age: int = Field(ge=0, le=17)


class QuietHours(_Strict):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not HH:MM")
        return value

    def contains(self, moment: time) -> bool:
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        if start <= end:
            return start <= moment < end
        return moment >= start or moment < end  # across midnight


class SessionLimits(_Strict):
    nudge_after_minutes: float | None = Field(None, gt=0)
    opt_in_nudge_minutes: float | None = Field(None, gt=0)
    continuous_limit_minutes: float | None = Field(None, gt=0)
    daily_limit_minutes: float | None = Field(None, gt=0)
    quiet_hours: QuietHours | None = None
    page_items: int = Field(ge=1, le=500)


class SessionPolicy(_Strict):
    teen: SessionLimits
    adult: SessionLimits
    break_minutes: float = Field(gt=0)
    max_gap_seconds: float = Field(gt=0)


class InteractionPolicy(_Strict):
    teen_cameo_default: Literal["nobody", "mutuals"]


class CrisisPolicy(_Strict):
    case_severity: int = Field(ge=0, le=5)
    imminent_terms: dict[str, list[str]]
    guardian_advice: dict[str, str]

    @model_validator(mode="after")
    def _complete(self) -> CrisisPolicy:
        if (
            set(self.imminent_terms) != set(self.guardian_advice)
            or "en" not in self.guardian_advice
        ):
            raise ValueError("imminent_terms and guardian_advice need the same locales, with en")
        return self

    def imminent(self, text: str) -> list[str]:
        """The imminent-risk terms (any language) found in `text`."""
        plain = fold(text)
        return sorted(
            {t for terms in self.imminent_terms.values() for t in terms if fold(t) in plain}
        )

    def advice(self, locale: str) -> tuple[str, str]:
        chosen = locale if locale in self.guardian_advice else "en"
        return chosen, self.guardian_advice[chosen].strip()


class WellbeingPolicy(_Strict):
    id: str
    version: int = Field(ge=1)
    age_assurance: AgeAssurancePolicy
    sessions: SessionPolicy
    interaction: InteractionPolicy
    crisis: CrisisPolicy

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


class SignalLimits(_Strict):
    teen: float = Field(ge=0, le=1)
    mature: float = Field(ge=0, le=1)


class RatingPolicy(_Strict):
    id: str
    version: int = Field(ge=1)
    states: dict[str, Literal["removed", "held", "mature", "rate"]]
    signals: dict[str, SignalLimits]
    mature_reasons: list[str] = Field(default_factory=list)
    adult_audience: Rating = "mature"

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


def fold(text: str) -> str:
    """Lower case, accents and typographic apostrophes removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(plain.split())


def load_wellbeing_policy(path: Path | None = None) -> WellbeingPolicy:
    return load_yaml_model(path or POLICIES_DIR / "wellbeing.yaml", WellbeingPolicy)


def load_rating_policy(path: Path | None = None) -> RatingPolicy:
    return load_yaml_model(path or POLICIES_DIR / "rating.yaml", RatingPolicy)


@lru_cache(maxsize=1)
def wellbeing_policy() -> WellbeingPolicy:
    return load_wellbeing_policy()


@lru_cache(maxsize=1)
def rating_policy() -> RatingPolicy:
    return load_rating_policy()
