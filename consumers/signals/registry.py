"""The feed's signals: one line each. Everything else derives from this table: the consumer
groups and their topics, the values the score messages may carry, the feed policy's known
signals and default thresholds, `cameoguard worker score NAME`, the end-to-end wiring, the
benchmarks and what reviewers see."""

from __future__ import annotations

from consumers.signals.base import FeedSignal
from consumers.signals.deepfake import DeepfakeSignal
from consumers.signals.harassment import HarassmentSignal
from consumers.signals.hashbank import HashBankSignal
from consumers.signals.minors import MinorsSignal

SIGNALS: dict[str, type[FeedSignal]] = {
    signal.name: signal
    for signal in (DeepfakeSignal, MinorsSignal, HarassmentSignal, HashBankSignal)
}
