"""The review policy (`policies/review.yaml`): queues and who may take them, report reasons,
and the reason codes of each decision. Pure: no database."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safety.policy.pack import POLICIES_DIR, load_yaml_model

ACTIONS = ("approve", "remove", "age_restrict", "escalate")
KINDS = ("content", "report", "appeal", "cameo_complaint", "generation", "escalation", "crisis")


class Queue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z_]{1,40}$")
    signals: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list)
    roles: list[str] = Field(default_factory=list)

    def matches(self, kind: str, signals: list[str]) -> bool:
        if not self.signals and not self.kinds:
            return True  # a catch-all
        return kind in self.kinds or bool(set(signals) & set(self.signals))


class ReportReason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str
    severity: int = Field(ge=1, le=5)


class Placement(NamedTuple):
    queue: str
    roles: frozenset[str]

    @property
    def roles_text(self) -> str:
        """The roles as stored on the case: sorted, comma-separated ('' for none)."""
        return roles_text(self.roles)


def roles_text(roles: frozenset[str] | set[str]) -> str:
    return ",".join(sorted(roles))


def role_sets(roles: frozenset[str]) -> list[str]:
    """Every `roles_text` a reviewer holding `roles` satisfies (the subsets of their roles)."""
    ordered = sorted(roles)
    return [
        roles_text({r for i, r in enumerate(ordered) if mask >> i & 1})
        for mask in range(1 << len(ordered))
    ]


class ReviewPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: int = Field(ge=1)
    lease_seconds: int = Field(ge=10, le=86_400)
    queues: list[Queue] = Field(min_length=1)
    report_reasons: dict[str, ReportReason]
    appeal_severity: int = Field(ge=1, le=5)
    reason_codes: dict[str, list[str]]
    notify_cameo_owner: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ReviewPolicy:
        if not self.queues[-1].matches("content", []):
            raise ValueError("the last queue must be a catch-all (no signals, no kinds)")
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ValueError("queue names must be unique")
        for queue in self.queues:
            unknown = set(queue.kinds) - set(KINDS)
            if unknown:
                raise ValueError(f"queue {queue.name}: unknown kinds {sorted(unknown)}")
        if set(self.reason_codes) != set(ACTIONS):
            raise ValueError(f"reason_codes needs exactly the actions {list(ACTIONS)}")
        every = {code for codes in self.reason_codes.values() for code in codes}
        missing = set(self.notify_cameo_owner) - every
        if missing:
            raise ValueError(f"notify_cameo_owner names unknown reason codes {sorted(missing)}")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def route(self, kind: str, signals: list[str]) -> Queue:
        return next(q for q in self.queues if q.matches(kind, signals))

    def roles_for_signals(self, signals: list[str]) -> frozenset[str]:
        """Roles a case needs because of what it carries, wherever it sits: a queue that takes a
        signal (child_safety takes `minors`) lends its roles to every case with that signal."""
        carried = set(signals)
        return frozenset(r for q in self.queues if carried & set(q.signals) for r in q.roles)

    def place(self, kind: str, signals: list[str], escalated: bool) -> Placement:
        """Where a case goes and the roles a reviewer needs to see it: its queue's roles and the
        roles its signals need. An escalated case stays with the escalation queue (its signals
        still add their roles: an escalated minors case needs senior and child_safety)."""
        queue = self.route("escalation", []) if escalated else self.route(kind, signals)
        return Placement(queue.name, frozenset(queue.roles) | self.roles_for_signals(signals))

    @property
    def escalation_queue(self) -> str:
        return self.route("escalation", []).name

    def queue(self, name: str) -> Queue | None:
        return next((q for q in self.queues if q.name == name), None)

    def queues_for(self, roles: frozenset[str]) -> list[str]:
        """The queues a reviewer with these roles may take cases from."""
        return [q.name for q in self.queues if set(q.roles) <= roles]


def load_review_policy(path: Path | None = None) -> ReviewPolicy:
    return load_yaml_model(path or POLICIES_DIR / "review.yaml", ReviewPolicy)


@lru_cache(maxsize=1)
def review_policy() -> ReviewPolicy:
    """The shipped review policy, loaded once per process."""
    return load_review_policy()
