"""Policy packs: YAML files in `policies/`, validated at load.

A broken pack is refused with the file, the line and the reason; `PackStore` keeps serving the
last good pack when a reload fails.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

log = logging.getLogger("cameoguard.policy")
ModelT = TypeVar("ModelT", bound=BaseModel)

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"

# The OpenAI moderation taxonomy, plus the video-specific categories.
OPENAI_CATEGORIES = (
    "sexual",
    "sexual/minors",
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "violence",
    "violence/graphic",
)
# `misinformation` is general (fabricated news, disasters, hoaxes); `misinformation/elections` is
# its stricter sub-category (false voting procedures, fabricated fraud, fake results).
VIDEO_CATEGORIES = ("real_person", "misinformation", "misinformation/elections", "impersonation")
CATEGORIES = OPENAI_CATEGORIES + VIDEO_CATEGORIES

Action = Literal["allow", "review", "block"]
Purpose = Literal["generation", "caption", "comment"]
PURPOSES: tuple[str, ...] = ("generation", "caption", "comment")
ACTION_RANK: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """Calibrated probabilities at or above which a category asks for review or a block."""

    review: float = Field(ge=0.0, le=1.0)
    block: float = Field(ge=0.0, le=1.0)
    model_action: Action | None = Field(
        None,
        description=(
            "Overrides the category's `model_action` where this set applies (when several"
            " apply, the one that lets the model do most wins: a teen set can let the model"
            " block where adults get a review)"
        ),
    )

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.block:
            raise ValueError(f"review threshold {self.review} is above block {self.block}")
        return self


class CategoryPolicy(_Strict):
    description: str
    thresholds: Thresholds
    generation: Thresholds | None = Field(
        None,
        description=(
            "Stricter thresholds for generation prompts (a video is made from them and"
            " published), beside the default that captions and comments use"
        ),
    )
    teen: Thresholds | None = Field(None, description="Stricter thresholds for teen accounts")
    cameo: Thresholds | None = Field(None, description="Stricter thresholds when a cameo is used")
    action: Action = Field("block", description="The strongest action this category can take")
    model_action: Action = Field(
        "block",
        description=(
            "The strongest action the classifier alone can take here; a rule can go up to"
            " `action` (misinformation: the model learns the topic, not the falsity, so alone"
            " it asks for review)"
        ),
    )
    applies_to: list[Purpose] = Field(
        default_factory=lambda: list(PURPOSES),
        description="Texts this category is checked on (real people: generation prompts only)",
    )


class Rule(_Strict):
    """A curated rule. It matches when any `patterns` regex matches, or when every group in
    `all_of` and at least one in `any_of` has a term in the text (groups are `term_groups`)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._/-]*$")
    category: str
    effect: Literal["block", "review", "signal"]
    score: float = Field(1.0, ge=0.0, le=1.0, description="Score floor the rule sets")
    lang: Literal["en", "fr", "any"] = "any"
    any_of: list[str] = Field(default_factory=list)
    all_of: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from exc
        return patterns

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not (self.any_of or self.all_of or self.patterns):
            raise ValueError(f"rule {self.id} has no condition (any_of, all_of or patterns)")
        return self


class Escalation(_Strict):
    """When every listed category is at least at review, the decision becomes `action`."""

    id: str
    when: list[str] = Field(min_length=2)
    action: Action
    description: str = ""


class Gate(_Strict):
    """A category whose classifier score counts fully only when a term group matches."""

    category: str
    group: str
    otherwise: float = Field(ge=0.0, le=1.0, description="Factor applied when the group is absent")


class Damper(_Strict):
    """A category whose classifier score is multiplied by `factor` when the `when` term group is
    present and the `unless` group is not (a known confusion of the model, e.g. school words
    read as sexual when nothing sexual is said). Rules are not affected."""

    category: str
    when: str
    unless: str
    factor: float = Field(ge=0.0, le=1.0)


class SupportResource(_Strict):
    """A helpline or service the platform can show next to a decision."""

    name: str
    contact: str
    url: str | None = None
    hours: str | None = None


class SupportResources(_Strict):
    """Help shown beside a decision when one of `categories` is not allowed (self-harm): a
    message and resources per locale. Operators replace them with their own (their country's
    lines, their own support flow)."""

    note: str = ""
    categories: list[str] = Field(min_length=1)
    default_locale: str
    message: dict[str, str]
    locales: dict[str, list[SupportResource]]

    @model_validator(mode="after")
    def _complete(self) -> SupportResources:
        if self.default_locale not in self.locales:
            raise ValueError(f"default locale {self.default_locale!r} has no resources")
        missing = set(self.locales) - set(self.message)
        if missing:
            raise ValueError(f"support locales without a message: {sorted(missing)}")
        return self


class PolicyPack(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str = Field(pattern=r"^[0-9A-Za-z.+-]+$")
    description: str
    languages: list[str]
    categories: dict[str, CategoryPolicy]
    term_groups: dict[str, list[str]]
    rules: list[Rule]
    escalations: list[Escalation] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    dampers: list[Damper] = Field(default_factory=list)
    support_resources: SupportResources | None = None
    restriction_threshold: float = Field(
        0.45, ge=0, le=1, description="Similarity at which a prompt breaks a cameo restriction"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PolicyPack:
        missing = set(CATEGORIES) - set(self.categories)
        if missing:
            raise ValueError(f"categories missing from the pack: {sorted(missing)}")
        unknown = set(self.categories) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories: {sorted(unknown)}")
        ids = [rule.id for rule in self.rules]
        duplicates = {i for i in ids if ids.count(i) > 1}
        if duplicates:
            raise ValueError(f"duplicate rule ids: {sorted(duplicates)}")
        for rule in self.rules:
            if rule.category not in self.categories:
                raise ValueError(f"rule {rule.id}: unknown category {rule.category!r}")
            for group in rule.any_of + rule.all_of:
                if group not in self.term_groups:
                    raise ValueError(f"rule {rule.id}: unknown term group {group!r}")
        for escalation in self.escalations:
            for category in escalation.when:
                if category not in self.categories:
                    raise ValueError(f"escalation {escalation.id}: unknown category {category!r}")
        for gate in self.gates:
            if gate.category not in self.categories or gate.group not in self.term_groups:
                raise ValueError(f"gate on {gate.category}: unknown category or term group")
        for damper in self.dampers:
            if damper.category not in self.categories or not {
                damper.when,
                damper.unless,
            } <= set(self.term_groups):
                raise ValueError(f"damper on {damper.category}: unknown category or term group")
        if self.support_resources is not None:
            for category in self.support_resources.categories:
                if category not in self.categories:
                    raise ValueError(f"support_resources: unknown category {category!r}")
        for name, terms in self.term_groups.items():
            if not terms or any(not t.strip() for t in terms):
                raise ValueError(f"term group {name!r} is empty or has an empty term")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


class PackError(ValueError):
    """A pack that does not load: `file`, `line` (1-based, when known) and `reason`."""

    def __init__(self, file: Path, line: int | None, reason: str) -> None:
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {reason}")
        self.file, self.line, self.reason = file, line, reason


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int | None:
    """The line of the YAML node at a pydantic error location (the deepest one found)."""
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        else:
            child = None
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def load_pack(path: Path) -> PolicyPack:
    """Loads and validates one pack; raises PackError naming the file, line and reason."""
    return load_yaml_model(path, PolicyPack)


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """Any YAML file in `policies/` validated by `model`; PackError with file, line, reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(path, None, f"cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PackError(path, line, f"invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict) or node is None:
        raise PackError(path, 1, "a pack is a YAML mapping")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first.get("loc", ()))
        where = ".".join(str(p) for p in loc) or "(top level)"
        raise PackError(path, _line_of(node, loc), f"{where}: {first['msg']}") from exc


def pack_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class PackStore:
    """Holds the active pack; `reload` swaps it only when the new file loads cleanly."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pack = load_pack(path)
        self.last_error: PackError | None = None

    @property
    def pack(self) -> PolicyPack:
        return self._pack

    def reload(self) -> PolicyPack:
        try:
            fresh = load_pack(self.path)
        except PackError as exc:
            self.last_error = exc
            log.error("policy pack refused; keeping %s", self._pack.ref, extra={"error": str(exc)})
            raise
        with self._lock:
            self._pack, self.last_error = fresh, None
        log.info("policy pack loaded", extra={"pack": fresh.ref})
        return fresh
