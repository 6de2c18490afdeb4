"""Compiled policy rules: term groups and regex patterns matched on the normalised forms."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from safety.policy.normalize import NormalizedText, clean, fold
from safety.policy.pack import PolicyPack, Rule


def _word_regex(word: str) -> str:
    """Each letter may repeat ("kiiill" matches kill) but none may vanish ("ten" is not teen)."""
    return "".join(re.escape(ch) + "+" if ch.isalpha() else re.escape(ch) for ch in word)


def _term_regex(terms: list[str]) -> re.Pattern[str]:
    """Whole-word alternation over the folded terms; plural endings (s, es, x) allowed."""
    forms = sorted({fold(clean(t)) for t in terms}, key=len, reverse=True)
    parts = [r"[\s-]+".join(_word_regex(w) for w in form.split()) for form in forms]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?:s|es|x)?(?!\w)")


@dataclass(frozen=True)
class RuleHit:
    rule_id: str
    category: str
    effect: str
    score: float
    matched: tuple[str, ...]  # the matched words, as normalised


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    any_of: tuple[str, ...]
    all_of: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]


class RuleSet:
    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack
        # Names this exact pack (names included): a worker process keeps the rules compiled
        # from it under this key instead of compiling them for every request.
        self.key = hashlib.sha256(pack.model_dump_json().encode()).hexdigest()[:32]
        self.groups = {name: _term_regex(terms) for name, terms in pack.term_groups.items()}
        self.rules = [
            _Compiled(
                rule=rule,
                any_of=tuple(rule.any_of),
                all_of=tuple(rule.all_of),
                patterns=tuple(re.compile(p) for p in rule.patterns),
            )
            for rule in pack.rules
        ]

    def group_hits(self, text: NormalizedText) -> dict[str, tuple[str, ...]]:
        hits: dict[str, tuple[str, ...]] = {}
        for name, regex in self.groups.items():
            found = tuple(dict.fromkeys(m.group(0) for m in regex.finditer(text.folded)))
            if found:
                hits[name] = found[:5]
        return hits

    def match(self, text: NormalizedText) -> tuple[list[RuleHit], dict[str, tuple[str, ...]]]:
        groups = self.group_hits(text)
        hits: list[RuleHit] = []
        for compiled in self.rules:
            matched: list[str] = []
            for pattern in compiled.patterns:
                for form in (text.base, text.folded):
                    m = pattern.search(form)
                    if m:
                        matched.append(m.group(0))
                        break
                if matched:
                    break
            if not matched and (compiled.all_of or compiled.any_of):
                all_ok = all(g in groups for g in compiled.all_of)
                any_ok = not compiled.any_of or any(g in groups for g in compiled.any_of)
                if all_ok and any_ok:
                    for g in compiled.all_of + compiled.any_of:
                        matched.extend(groups.get(g, ()))
            if matched:
                rule = compiled.rule
                hits.append(
                    RuleHit(
                        rule_id=rule.id,
                        category=rule.category,
                        effect=rule.effect,
                        score=rule.score,
                        matched=tuple(dict.fromkeys(matched))[:5],
                    )
                )
        return hits, groups
