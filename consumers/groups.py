"""The feed's scoring consumer groups, derived from the signal registry: one per signal (it
reads `content.published`), and `signals` for a worker that runs every signal in one process.
The reactions worker's group is the assembly's (it reads what the areas react to)."""

from __future__ import annotations

from cameoguard.contracts import CONTENT_PUBLISHED
from consumers.signals.registry import SIGNALS

ALL_SIGNALS_GROUP = "signals"


def scoring_groups() -> dict[str, list[str]]:
    return {name: [CONTENT_PUBLISHED] for name in [*SIGNALS, ALL_SIGNALS_GROUP]}


def topic_names(topics: list[str], prefix: str) -> list[str]:
    """Topics as named on the broker (with the deployment's prefix)."""
    return [prefix + topic for topic in topics]
