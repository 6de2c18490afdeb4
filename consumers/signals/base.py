"""The shape every feed signal has: a name and a version, what it needs of an item (caption,
frames, audio, faces, voice, provenance), its default thresholds, and `score(item, media)`
giving a risk with typed evidence and the cameos it saw.

A signal is built once per process with the tools it may use (`SignalTools`, each loaded on
first use, so a caption-only signal never loads the face models) and scores one item at a time
from the item's `AnalysedMedia`: the media is decoded and analysed once per item, whatever
signals read it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from cameoguard.contracts import ContentPublished
    from cameoguard.settings import Settings
    from consumers.analysed import AnalysedMedia
    from consumers.feed_policy import FeedPolicy
    from safety.consent.models import LikenessModels
    from safety.policy.engine import PolicyEngine

Need = Literal["caption", "frames", "audio", "faces", "voice", "provenance"]


class Thresholds(BaseModel):
    """Where a signal's risk (0..1) turns into an action; `priority` orders review (1 first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    age_restrict: float | None = Field(None, ge=0, le=1)
    review: float = Field(ge=0, le=1)
    remove: float | None = Field(None, ge=0, le=1)
    priority: int = Field(ge=1, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.remove is not None and self.remove < self.review:
            raise ValueError("remove must be at least review")
        if self.age_restrict is not None and self.age_restrict > self.review:
            raise ValueError("age_restrict must be at most review")
        return self

    @property
    def lowest(self) -> float:
        return min(x for x in (self.age_restrict, self.review, self.remove) if x is not None)


class Evidence(BaseModel):
    """One piece of evidence behind a score: its kind (face, voice, rule, provenance, ...) and
    the fields that kind carries, shown to reviewers as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(min_length=1, max_length=40)


class SignalResult(BaseModel):
    """What a signal says of one item: the risk the feed policy thresholds, the detailed scores,
    the evidence, and every cameo it saw (declared, on record or matched), which a consent
    revocation is matched against later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    risk: float = Field(ge=0, le=1)
    scores: dict[str, float] = Field(default_factory=dict)
    evidence: list[Evidence] = Field(default_factory=list)
    cameos_seen: list[str] = Field(default_factory=list)


@dataclass
class SignalTools:
    """What signals may use, loaded on first use and shared by every signal of the process."""

    settings: Settings
    feed_policy: FeedPolicy
    _overrides: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def engine(self) -> PolicyEngine:
        if "engine" in self._overrides:
            return self._overrides["engine"]  # type: ignore[no-any-return]
        from safety.policy.engine import get_engine

        return get_engine()

    @cached_property
    def models(self) -> LikenessModels:
        if "models" in self._overrides:
            return self._overrides["models"]  # type: ignore[no-any-return]
        from safety.consent.models import get_models

        return get_models()


class FeedSignal(ABC):
    """Subclass it in a module of `consumers/signals/`, and add the class to the registry."""

    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[frozenset[Need]]
    thresholds: ClassVar[Thresholds]  # the default; policies/feed.yaml may override them

    def __init__(self, tools: SignalTools) -> None:
        self.tools = tools

    @abstractmethod
    def score(self, item: ContentPublished, media: AnalysedMedia) -> SignalResult:
        """The risk of one item. Raise consumers.runner.PermanentError for an item that can
        never be scored (it is dead-lettered); any other error is retried."""

    def full_version(self) -> str:
        """The version stored with the scores: the signal's own and what it depends on."""
        return self.version
