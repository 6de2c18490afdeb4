"""The event contracts between areas, in one neutral place: topics and their message schemas,
JSON objects with a `schema_version`, validated with pydantic on the way out (the relay) and on
the way in (the workers). Keys are item ids (or cameo ids for consent events), so one item's
messages stay in one partition, in order. Producers build these models (never hand-made dicts);
each event's reactions are named by the areas that react (see the assembly)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTENT_PUBLISHED = "content.published"
CONTENT_SCORES = "content.scores"
CONTENT_DECISIONS = "content.decisions"
CONSENT_REVOKED = "consent.revoked"
# Wellbeing events for the platform (delivered to it as webhooks): keyed by the teen's account.
GUARDIAN_NOTIFICATIONS = "wellbeing.guardian_notifications"
CRISIS_CASES = "wellbeing.crisis_cases"
# Likeness rights after publication (rights/): a cameo owner is told of each use of their
# cameo, and a use the owner took down is announced (the platform's webhook gets both).
LIKENESS_USED = "likeness.used"
LIKENESS_TAKEDOWN = "likeness.takedown"
# A likeness match's case changed: opened (the feed or a re-scan found an enrolled person in an
# item without consent), confirmed by the cameo's owner (the item is taken down) or dismissed.
LIKENESS_MATCHES = "likeness.matches"
# A generation job changed state (queued, held, running, done, blocked, failed, cancelled): for
# platforms that follow jobs by webhook rather than by polling.
GENERATION_STATE = "generation.state"
TOPICS = (
    CONTENT_PUBLISHED,
    CONTENT_SCORES,
    CONTENT_DECISIONS,
    CONSENT_REVOKED,
    GUARDIAN_NOTIFICATIONS,
    CRISIS_CASES,
    LIKENESS_USED,
    LIKENESS_TAKEDOWN,
    GENERATION_STATE,
    LIKENESS_MATCHES,
)


def dead_letter_topic(group: str) -> str:
    """One dead-letter topic per consumer group."""
    return f"dead-letter.{group}"


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1


class ConsentRevoked(Message):
    cameo_id: str = Field(min_length=1, max_length=40)
    cameo_version: int = Field(ge=1)
    # `suspended`: the cameo's face or voice is a protected person's (checked again when one is
    # added); its uses are held for review and its jobs cancelled until a reviewer decides.
    reason: Literal["revoked", "permissions_changed", "suspended"]
    status: Literal["active", "revoked"]
    permission: str
    approved_user_ids: list[str]
    at: datetime


class ProvenanceSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    watermark_id: str | None = None
    generation_id: str | None = None
    c2pa_state: str | None = None


class ContentPublished(Message):
    item_id: str = Field(min_length=1, max_length=64)
    media_location: str
    caption: str = Field(default="", max_length=10_000)
    author_id: str
    author_age_group: Literal["adult", "teen", "unknown"] = "unknown"
    audience_age_group: Literal["all", "adult", "teen"] = "all"
    cameo_ids: list[str] = Field(default_factory=list)
    provenance: ProvenanceSummary = Field(default_factory=ProvenanceSummary)
    published_at: datetime
    tenant: str = Field(default="", max_length=64, description="The platform tenant's item")
    remix_of: str | None = Field(default=None, description="The item this one derives from")


class LikenessUsed(Message):
    """A new use of a cameo (an item that declares it, inherits it from the item it remixes, or
    a generation with it), for the cameo's owner: `digest` when it sums up a day of uses."""

    cameo_id: str = Field(min_length=1, max_length=40)
    owner_id: str
    uses: list[dict[str, str]] = Field(
        description="Each use: usage (item:<id> | generation:<id>), made_by, state"
    )
    digest: bool = False
    tenant: str = Field(default="", max_length=64)
    at: datetime


class LikenessTakedown(Message):
    """A use of a cameo taken down by its owner (or by a rights decision), with every item that
    derives from it: the feed has removed them, their media is no longer served."""

    cameo_id: str = Field(min_length=1, max_length=40)
    usage: str
    items: list[str]
    generations: list[str]
    by: str
    reason: str
    tenant: str = Field(default="", max_length=64)
    at: datetime


class LikenessMatchChanged(Message):
    """A likeness match's case, keyed by the item: `open` when found (by the feed's check of a
    published item or by a re-scan after an enrollment), then `confirmed` (the cameo's owner
    says it is her: the item is taken down) or `dismissed` (not her: suppressed from then on).
    A protected person's match has no owner: a reviewer decides its item."""

    match_id: str = Field(min_length=1, max_length=40)
    item_id: str = Field(min_length=1, max_length=64)
    cameo_id: str | None = None
    protected_person_id: str | None = None
    owner_id: str | None = None
    modality: Literal["face", "voice"]
    score: float
    threshold: float
    state: Literal["open", "confirmed", "dismissed"]
    found_by: Literal["feed", "rescan"]
    by: str
    tenant: str = Field(default="", max_length=64)
    at: datetime


class GenerationStateChanged(Message):
    """A generation job's new state, with why (the job's reason); fetch the job for its steps."""

    generation_id: str = Field(min_length=1, max_length=40)
    state: Literal["queued", "running", "held", "blocked", "failed", "cancelled", "done"]
    reason: str | None = None
    requester_id: str
    tenant: str = Field(default="", max_length=64)
    at: datetime


class ContentScores(Message):
    """One feed signal's scores for an item (`classifier` names the signal; the feed checks it
    against its registry). `scores["risk"]` is what the feed policy thresholds."""

    item_id: str
    classifier: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    version: str
    scores: dict[str, float]
    evidence: list[dict[str, Any]] = Field(default_factory=list)
    cameos_seen: list[str] = Field(default_factory=list)


class ContentDecision(Message):
    item_id: str
    decision_version: int = Field(ge=1)
    action: Literal["publish", "age_restrict", "remove", "review"]
    priority: int | None = None
    reasons: list[str]
    # Who decided: the aggregator (versions count per item) or a reviewer (versions count the
    # item's review decisions; `case_id` names the case).
    source: Literal["aggregator", "review", "takedown"] = "aggregator"
    case_id: str | None = None
    tenant: str = Field(default="", max_length=64, description="The platform tenant's item")


class GuardianNotification(Message):
    """A safety notice to a teen's guardian for acute risk only: the kind of event and what to
    do, never the content."""

    notification_id: str = Field(min_length=1, max_length=40)
    teen_id: str = Field(min_length=1, max_length=200)
    guardian_id: str = Field(min_length=1, max_length=200)
    kind: Literal["self_harm_risk", "imminent_risk"]
    locale: str = Field(max_length=10)
    what_to_do: str = Field(max_length=2_000)
    at: datetime
    tenant: str = Field(default="", max_length=64)


class CrisisCaseOpened(Message):
    """An imminent-risk case opened in the crisis review queue at the highest priority."""

    case_id: str = Field(min_length=1, max_length=40)
    account_id: str = Field(min_length=1, max_length=200)
    surface: Literal["prompt", "caption", "comment"]
    severity: int = Field(ge=0, le=5)
    queue: str
    at: datetime
    tenant: str = Field(default="", max_length=64)


@dataclass(frozen=True)
class Reaction:
    """A named reaction of an area to an event: the area owns `handle`, which must be
    idempotent (events are delivered at least once). The assembly collects every area's
    reactions; the reactions worker runs them for the events it reads."""

    name: str  # "<area>.<what it does>", e.g. "generator.cancel_jobs_of_revoked_cameo"
    topic: str
    handle: Callable[[Message], None]


@dataclass(frozen=True)
class FeedItemRequest:
    """An item to publish into the feed (the platform's request, or a finished generation)."""

    item_id: str
    author_id: str
    media_location: str
    caption: str = ""
    author_age_group: str = "unknown"
    audience_age_group: str = "all"
    cameo_ids: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    tenant: str = ""
    remix_of: str | None = None


SCHEMAS: dict[str, type[Message]] = {
    CONSENT_REVOKED: ConsentRevoked,
    CONTENT_PUBLISHED: ContentPublished,
    CONTENT_SCORES: ContentScores,
    CONTENT_DECISIONS: ContentDecision,
    GUARDIAN_NOTIFICATIONS: GuardianNotification,
    CRISIS_CASES: CrisisCaseOpened,
    LIKENESS_USED: LikenessUsed,
    LIKENESS_TAKEDOWN: LikenessTakedown,
    GENERATION_STATE: GenerationStateChanged,
    LIKENESS_MATCHES: LikenessMatchChanged,
}


def validate(topic: str, payload: dict[str, Any]) -> Message:
    """The payload as its topic's schema, or a pydantic ValidationError."""
    schema = SCHEMAS.get(topic)
    if schema is None:
        raise ValueError(f"unknown topic {topic!r}")
    return schema.model_validate(payload)
