"""A small language guess for the decision record (en / fr / other). Rules of every language
always apply, so a wrong guess never weakens a check; it only labels the decision."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-zà-ÿ']+")
_FR = frozenset(
    [
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "et",
        "est",
        "sont",
        "dans",
        "pour",
        "avec",
        "sur",
        "pas",
        "que",
        "qui",
        "ne",
        "ce",
        "cette",
        "mais",
        "ou",
        "je",
        "tu",
        "il",
        "elle",
        "nous",
        "vous",
        "ils",
        "elles",
        "mon",
        "ton",
        "son",
        "ma",
        "ta",
        "sa",
        "au",
        "aux",
        "très",
        "être",
        "avoir",
        "fait",
    ]
)
_EN = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "is",
        "are",
        "in",
        "for",
        "with",
        "on",
        "not",
        "that",
        "who",
        "this",
        "but",
        "or",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "my",
        "your",
        "his",
        "her",
        "of",
        "to",
        "it",
        "be",
        "have",
        "do",
        "at",
        "was",
        "were",
    ]
)


def detect_language(text: str) -> str:
    words = _WORD.findall(text.lower())
    if not words:
        return "und"
    fr = sum(w in _FR for w in words) + sum(ch in text for ch in "éèêàçùœ")
    en = sum(w in _EN for w in words)
    if fr == en == 0:
        if re.search(r"[\u0600-\u06ff]", text):
            return "ar"
        return "und"
    return "fr" if fr > en else "en"
