"""The feed's policy (`policies/feed.yaml`) and the decision it gives for an item's risk
scores. Pure: no database, no broker."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from consumers.signals.base import Thresholds
from consumers.signals.registry import SIGNALS
from safety.policy.pack import POLICIES_DIR, load_yaml_model

SEVERITY = {"publish": 0, "age_restrict": 1, "review": 2, "remove": 3}
BankAction = Literal["review", "remove", "escalate"]
FeedStep = Literal["review", "remove"]
# What a hash bank's match does to a feed item by default, per the bank's action (the hash-bank
# signal turns it into a risk at that step's threshold). A child-safety bank's match is always
# removed and escalated, whatever this says.
DEFAULT_BANK_ACTIONS: dict[BankAction, FeedStep] = {
    "review": "review",
    "remove": "remove",
    "escalate": "remove",
}


class FeedPolicy(BaseModel):
    """The feed's policy: which signals must have scored before deciding (default: every
    registered signal), per-signal thresholds overriding the signals' own defaults, and the
    caption words that hint at a minor, and what a hash bank's match does to an item (`review`
    or `remove`, per the bank's action). Signal names are checked against the registry."""

    model_config = ConfigDict(extra="forbid")

    id: str
    version: int = Field(ge=1)
    require: list[str] | None = None
    classifiers: dict[str, Thresholds] = Field(default_factory=dict)
    minor_terms: list[str] = Field(default_factory=list)
    bank_actions: dict[BankAction, FeedStep] = Field(
        default_factory=lambda: dict(DEFAULT_BANK_ACTIONS)
    )

    @field_validator("minor_terms")
    @classmethod
    def _compiles(cls, terms: list[str]) -> list[str]:
        for term in terms:
            try:
                re.compile(term)
            except re.error as exc:
                raise ValueError(f"minor_terms: {term!r} is not a valid pattern: {exc}") from exc
        return terms

    @model_validator(mode="after")
    def _known(self) -> FeedPolicy:
        for name in [*(self.require or []), *self.classifiers]:
            if name not in SIGNALS:
                raise ValueError(f"unknown signal {name!r} (known: {', '.join(SIGNALS)})")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def required(self) -> list[str]:
        return list(self.require) if self.require is not None else list(SIGNALS)

    def bank_step(self, bank_action: str, child_safety: bool) -> FeedStep:
        """The feed's step for a match in a bank with this action: the policy's mapping (an
        action it does not list is removed: fail closed); a child-safety bank's, `remove`."""
        if child_safety:
            return "remove"
        for action, step in self.bank_actions.items():
            if action == bank_action:
                return step
        return "remove"

    def thresholds(self, name: str) -> Thresholds | None:
        """The thresholds of a signal: the policy's own, else the signal's defaults."""
        if name in self.classifiers:
            return self.classifiers[name]
        signal = SIGNALS.get(name)
        return signal.thresholds if signal is not None else None


def load_feed_policy(path: Path | None = None) -> FeedPolicy:
    return load_yaml_model(path or POLICIES_DIR / "feed.yaml", FeedPolicy)


@lru_cache(maxsize=1)
def feed_policy() -> FeedPolicy:
    """The shipped feed policy, loaded once per process."""
    return load_feed_policy()


def signals_of(policy: FeedPolicy, risks: dict[str, float]) -> list[str]:
    """The classifiers whose risk crossed any of their thresholds (they route review cases and
    decide who may see the item)."""
    found = []
    for name, risk in risks.items():
        t = policy.thresholds(name)
        if t is not None and risk >= t.lowest:
            found.append(name)
    return sorted(found)


class Verdict(BaseModel):
    action: str
    priority: int | None
    reasons: list[str]


def decide(policy: FeedPolicy, risks: dict[str, float]) -> Verdict:
    """The most severe action over the signals' risks, with every reason."""
    action, priority, reasons = "publish", None, []
    for name, risk in sorted(risks.items()):
        t = policy.thresholds(name)
        if t is None:
            continue
        step = "publish"
        if t.remove is not None and risk >= t.remove:
            step, limit = "remove", t.remove
        elif risk >= t.review:
            step, limit = "review", t.review
        elif t.age_restrict is not None and risk >= t.age_restrict:
            step, limit = "age_restrict", t.age_restrict
        if step == "publish":
            continue
        reasons.append(f"{name} risk {risk:.2f} >= {step} {limit:.2f} ({policy.ref})")
        if step in ("review", "remove"):
            priority = t.priority if priority is None else min(priority, t.priority)
        if SEVERITY[step] > SEVERITY[action]:
            action = step
    if action == "publish":
        reasons.append(f"every risk under its thresholds ({policy.ref})")
    return Verdict(action=action, priority=priority, reasons=reasons)
