"""Reading long texts in a worker process: normalising and matching the rules is pure Python
that holds the GIL (about 40 ms for 8,000 characters here), so a batch of long texts read in
the API process would starve the event loop answering everyone's light checks. A worker gets
the pack and the texts, and keeps the rules it compiled for the last packs it saw."""

from __future__ import annotations

from safety.policy.engine import TextFacts, read_text
from safety.policy.pack import PolicyPack
from safety.policy.rules import RuleSet

_KEEP = 4
_compiled: dict[str, RuleSet] = {}


def read_texts(key: str, pack: PolicyPack, texts: list[str]) -> list[TextFacts]:
    """`read_text` for each text with the rules of `pack` (compiled once per `key`)."""
    rules = _compiled.get(key)
    if rules is None:
        rules = RuleSet(pack)
        if len(_compiled) >= _KEEP:
            _compiled.pop(next(iter(_compiled)))
        _compiled[key] = rules
    return [read_text(t, rules) for t in texts]
