"""Helpers for tests that run the feed's signals: a scoring handler over registered signals,
and one item scored by chosen signals, through the same code the workers run."""

from __future__ import annotations

from typing import Any

from cameoguard.contracts import ContentPublished, ContentScores
from cameoguard.settings import get_settings
from consumers.feed_policy import feed_policy
from consumers.runner import Handler
from consumers.scoring import score_item, scoring_handler
from consumers.signals.base import SignalTools
from consumers.signals.registry import SIGNALS


def signal_tools(**overrides: Any) -> SignalTools:
    """Tools for signals; `engine=` or `models=` replace the process's own, any other keyword
    changes a setting (e.g. `minor_age_margin=40`)."""
    shared = {k: overrides.pop(k) for k in ("engine", "models") if k in overrides}
    settings = get_settings().model_copy(update=overrides) if overrides else get_settings()
    return SignalTools(settings=settings, feed_policy=feed_policy(), _overrides=shared)


def scorer(*names: str, **overrides: Any) -> Handler:
    tools = signal_tools(**overrides)
    return scoring_handler([SIGNALS[name](tools) for name in names], tools)


def score(name: str, item: ContentPublished, **overrides: Any) -> ContentScores:
    tools = signal_tools(**overrides)
    return score_item(item, [SIGNALS[name](tools)], tools)[0]
