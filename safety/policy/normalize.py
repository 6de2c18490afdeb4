# ruff: noqa: RUF001  (the homoglyph table is made of look-alike letters on purpose)
"""Text normalisation before matching, so that obfuscated text meets the same rules.

`normalize` returns the forms the rules and the classifier see:
- `base`: invisible and control characters removed, Unicode NFKC (full-width, ligatures and
  mathematical letters become plain ones), case folded. The classifier reads this form.
- `folded`: `base` with look-alike letters mapped to Latin (Cyrillic, Greek), typographic
  apostrophes to "'", accents stripped,
  leetspeak decoded inside words, spaced or punctuated single letters joined ("s e x",
  "k.i.l.l"), and runs of three or more identical letters cut to two ("kiiiill" -> "kiill").
  Rule terms are compiled to tolerate repeated letters (see rules.py), so "kiill" meets "kill".

`squeeze` (every run of a letter cut to one) groups near-duplicates in the training data.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

MAX_TEXT_CHARS = 20_000

# Zero-width, bidi controls, soft hyphen, word joiners, BOM, variation selectors, tag characters.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "и": "u", "й": "u", "к": "k",
        "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y",
        "х": "x", "ь": "b", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q",
        "ԝ": "w", "ӏ": "l", "һ": "h", "ɡ": "g",
        # Greek
        "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k",
        "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u",
        "χ": "x", "ω": "w",
        # Latin look-alikes and symbols
        "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
    }
)  # fmt: skip

# Typographic apostrophes (phone keyboards type them) for the rules, which are written with "'".
# Applied by `normalize` only: `fold` also keys the training data's split, which must not move.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "+": "t", "|": "l", "€": "e", "£": "l"}
)  # fmt: skip
_LEET_CHARS = "0134578 9@$!+|€£".replace(" ", "")
# A "word" that mixes letters with leet characters, e.g. s3x, k1ll, @ss, $uicide.
_LEET_WORD = re.compile(rf"(?<![\w{re.escape(_LEET_CHARS)}])[\w{re.escape(_LEET_CHARS)}]+")
# Three or more single letters separated by spaces or punctuation: "s e x", "k.i.l.l", "s-e-x".
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W\d_][\s.\-_*·,|/\\:;~'\"]{1,3}){2,}[^\W\d_](?![^\W_])")
_SEPARATORS = re.compile(r"[\s.\-_*·,|/\\:;~'\"]+")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")
_RUN2 = re.compile(r"([^\W\d_])\1+")
_SPACES = re.compile(r"\s+")
# A handle: "@" then three or more word characters ("@ss" is leetspeak, "@user" a mention).
_MENTION = re.compile(r"(?<![\w@])@\w{3,}")


class InvalidText(ValueError):
    """Text that cannot be checked (not a string, too long); the caller answers 4xx."""


@dataclass(frozen=True)
class NormalizedText:
    original: str
    base: str
    folded: str

    @cached_property  # read by the engine twice per check; fold() is not free
    def obfuscated(self) -> bool:
        """True when deobfuscation changed more than the accents and @mentions: worth a second
        classifier look. A mention ("@user") folds to "auser" like leetspeak would, but the
        classifier reads it the same either way; the rules still see the folded form ("@ss")."""
        if strip_accents(self.base).translate(_APOSTROPHES) == self.folded:
            return False
        without_mentions = _MENTION.sub(" ", self.base)
        return strip_accents(without_mentions) != fold(without_mentions)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    )


def _decode_leet(match: re.Match[str]) -> str:
    word = match.group(0)
    has_letter = any(ch.isalpha() for ch in word)
    has_leet = any(ch in _LEET_CHARS for ch in word)
    if not (has_letter and has_leet) or word.isdigit():
        return word
    return word.translate(_LEET)


def _join_spaced(match: re.Match[str]) -> str:
    return _SEPARATORS.sub("", match.group(0))


def clean(text: str) -> str:
    """Invisible and control characters removed, NFKC, case folded, spaces collapsed."""
    if not isinstance(text, str):
        raise InvalidText(f"text must be a string, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidText(f"text longer than {MAX_TEXT_CHARS} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON's "\ud800" escapes decode to lone surrogates
        raise InvalidText(
            f"text is not valid Unicode: a lone surrogate code point at {exc.start}"
        ) from exc
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = unicodedata.normalize("NFKC", text).casefold()
    # NFKC can produce new invisible characters from compatibility forms; remove them again.
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip()


def squeeze(text: str) -> str:
    return _RUN2.sub(r"\1", text)


def fold(base: str) -> str:
    text = strip_accents(base.translate(HOMOGLYPHS))
    text = _LEET_WORD.sub(_decode_leet, text)
    text = _SPACED.sub(_join_spaced, text)
    return _RUN3.sub(r"\1\1", text)


def normalize(text: str) -> NormalizedText:
    base = clean(text)
    return NormalizedText(original=text, base=base, folded=fold(base).translate(_APOSTROPHES))
