"""Who may use a cameo, and for what: the owner's permission mode and free-text restrictions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

PERMISSION_MODES = ("only_me", "approved", "mutuals", "everyone")
MINOR_MODES = ("only_me", "approved")
MAX_RESTRICTIONS = 20
MAX_RESTRICTION_CHARS = 200


class Permission(StrEnum):
    only_me = "only_me"
    approved = "approved"
    mutuals = "mutuals"
    everyone = "everyone"


class PermissionError_(ValueError):
    """An owner's settings that cannot be accepted (message for the caller)."""


def validate_settings(
    permission: str, approved: list[str], restrictions: list[str], owner_is_minor: bool
) -> None:
    if permission not in PERMISSION_MODES:
        raise PermissionError_(f"permission must be one of {', '.join(PERMISSION_MODES)}")
    if owner_is_minor and permission not in MINOR_MODES:
        raise PermissionError_(
            f"an owner under 18 may only choose {' or '.join(MINOR_MODES)} (asked: {permission})"
        )
    if permission == "approved" and not approved:
        raise PermissionError_("permission 'approved' needs at least one approved user id")
    if len(restrictions) > MAX_RESTRICTIONS:
        raise PermissionError_(f"at most {MAX_RESTRICTIONS} restrictions")
    for r in restrictions:
        if not r.strip() or len(r) > MAX_RESTRICTION_CHARS:
            raise PermissionError_(f"each restriction is 1-{MAX_RESTRICTION_CHARS} characters")


@dataclass(frozen=True)
class Access:
    granted: bool
    reason: str


def who_may_use(
    *,
    owner_id: str,
    owner_is_minor: bool,
    permission: str,
    approved: list[str],
    requester_id: str,
    requester_is_mutual: bool,
) -> Access:
    """The permission mode alone (restrictions are checked against the prompt separately)."""
    if requester_id == owner_id:
        return Access(True, "requester is the cameo's owner")
    if owner_is_minor and permission not in MINOR_MODES:
        # Settings are validated on write; this keeps an old or edited row from opening up.
        return Access(False, "the owner is under 18: only the owner or approved users")
    if permission == "only_me":
        return Access(False, "the owner allows only themself (only_me)")
    if permission == "approved":
        if requester_id in approved:
            return Access(True, "requester is on the owner's approved list")
        return Access(False, "requester is not on the owner's approved list")
    if permission == "mutuals":
        if requester_is_mutual:
            return Access(True, "requester and owner are mutuals (as the platform says)")
        return Access(False, "the owner allows mutuals only and the requester is not one")
    if permission == "everyone":
        return Access(True, "the owner allows everyone")
    return Access(False, f"unknown permission {permission!r}")


# --- restrictions -----------------------------------------------------------------------------

_NEGATION = re.compile(
    r"^\s*(?:please\s+)?(?:no|nothing|never|not|none|don'?t|do not|without|avoid|"
    r"pas de|pas d'|aucune?|rien de|rien d'|jamais de|jamais|sans|ne pas)\s+",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"\b(?:content|contents|videos?|stuff|things?|scenes?|contenu|vidéos?|scènes?)\b", re.I
)


@dataclass(frozen=True)
class Topic:
    """A common restriction topic, curated: the policy categories whose classifier score counts
    as a match, words that match outright, and example scenes that widen the semantic match
    (a one-word topic alone is a weak anchor for a sentence embedding)."""

    categories: tuple[str, ...]
    words: tuple[str, ...]
    examples: tuple[str, ...]


_POLITICAL = Topic(
    ("misinformation/elections",),
    (
        "politic",
        "election",
        "vote",
        "voting",
        "voter",
        "campaign",
        "candidate",
        "senator",
        "president",
        "parliament",
        "congress",
        "ballot",
        "élection",
        "électeur",
        "candidat",
        "député",
        "scrutin",
    ),
    (
        "a campaign rally for a candidate",
        "voting in an election",
        "a speech by a politician",
        "endorsing a political party",
        "a protest march about a law",
    ),
)
_ROMANTIC = Topic(
    ("sexual",),
    (
        "kiss",
        "date",
        "dating",
        "romantic",
        "romance",
        "lover",
        "flirt",
        "cuddle",
        "wedding",
        "honeymoon",
        "baiser",
        "bisou",
        "amoureux",
        "rendez-vous",
    ),
    (
        "a couple kissing",
        "a candlelit dinner date",
        "holding hands with a lover",
        "a romantic scene in bed",
        "a marriage proposal",
    ),
)
_VIOLENT = Topic(
    ("violence", "violence/graphic"),
    (
        "fight",
        "punch",
        "kill",
        "shoot",
        "stab",
        "blood",
        "weapon",
        "gun",
        "knife",
        "war",
        "bagarre",
        "tuer",
        "arme",
    ),
    ("a fist fight", "shooting a gun at someone", "a bloody battle", "stabbing someone"),
)
_ALCOHOL = Topic(
    ("illicit",),
    (
        "alcohol",
        "beer",
        "wine",
        "vodka",
        "drunk",
        "cocktail",
        "bar",
        "alcool",
        "bière",
        "vin",
        "ivre",
    ),
    ("drinking beer at a party", "getting drunk at a bar", "doing shots of vodka"),
)
_DRUGS = Topic(
    ("illicit",),
    ("drug", "weed", "cocaine", "smoking", "cigarette", "vape", "drogue", "fumer"),
    ("smoking weed", "taking drugs at a party", "smoking a cigarette"),
)
_MOCKING = Topic(
    ("harassment",),
    ("mock", "humiliat", "embarrass", "prank", "ridicul", "insult", "moquer", "humili"),
    ("making fun of someone", "a humiliating prank", "someone being laughed at"),
)
TOPICS: dict[str, Topic] = {
    "political": _POLITICAL,
    "politics": _POLITICAL,
    "politique": _POLITICAL,
    "election": _POLITICAL,
    "elections": _POLITICAL,
    "romantic": _ROMANTIC,
    "romance": _ROMANTIC,
    "romantique": _ROMANTIC,
    "dating": _ROMANTIC,
    "sexual": _ROMANTIC,
    "sexy": _ROMANTIC,
    "kissing": _ROMANTIC,
    "violent": _VIOLENT,
    "violence": _VIOLENT,
    "fighting": _VIOLENT,
    "weapons": _VIOLENT,
    "alcohol": _ALCOHOL,
    "drinking": _ALCOHOL,
    "alcool": _ALCOHOL,
    "drugs": _DRUGS,
    "smoking": _DRUGS,
    "mocking": _MOCKING,
    "humiliating": _MOCKING,
    "pranks": _MOCKING,
}

RESTRICTION_SIMILARITY = 0.28  # adult owners (set on a small dev list; see README)
MINOR_RESTRICTION_SIMILARITY = 0.24  # owners under 18: stricter
CATEGORY_SCORE = 0.30  # classifier probability for a topic's mapped category


def restriction_topic(text: str) -> str:
    topic = _NEGATION.sub("", text.strip().rstrip(".!"))
    topic = _FILLER.sub(" ", topic)
    return re.sub(r"\s+", " ", topic).strip() or text.strip()


def topics_of(restriction: str) -> list[Topic]:
    words = re.findall(r"[\w']+", restriction_topic(restriction).lower())
    found: list[Topic] = []
    for w in words:
        topic = TOPICS.get(w)
        if topic is not None and topic not in found:
            found.append(topic)
    return found


def anchor_texts(restriction: str) -> list[str]:
    """What a prompt is compared with: the restriction's topic and its topics' examples."""
    return [
        restriction_topic(restriction),
        *(e for t in topics_of(restriction) for e in t.examples),
    ]


def _words_hit(prompt: str, topics: list[Topic]) -> list[str]:
    words = re.findall(r"[\w'-]+", prompt.lower())
    # Stems of four letters or more match as prefixes ("kiss" -> "kissing"); shorter ones
    # only whole ("bar" is not "barbecue").
    return sorted(
        {
            w
            for t in topics
            for w in words
            for stem in t.words
            if w == stem or (len(stem) >= 4 and w.startswith(stem))
        }
    )


@dataclass(frozen=True)
class RestrictionHit:
    restriction: str
    similarity: float
    threshold: float
    categories: dict[str, float]  # mapped category -> classifier score, when over CATEGORY_SCORE
    words: list[str]  # the topic's words found in the prompt

    def reason(self) -> str:
        parts = [f"similarity {self.similarity:.2f} (threshold {self.threshold:.2f})"]
        parts += [f"topic words {', '.join(self.words)}"] if self.words else []
        parts += [f"{c} score {s:.2f} ≥ {CATEGORY_SCORE:.2f}" for c, s in self.categories.items()]
        return f"prompt conflicts with the owner's restriction {self.restriction!r}: " + "; ".join(
            parts
        )


def match_restrictions(
    restrictions: list[str],
    prompt: str,
    prompt_vector: np.ndarray,
    anchor_vectors: list[np.ndarray],
    prompt_scores: dict[str, float],
    owner_is_minor: bool,
) -> list[RestrictionHit]:
    """Restrictions the prompt conflicts with: by meaning (the best embedding similarity
    between the prompt and the restriction's anchors, see `anchor_texts`), by the topic's
    curated words, or by the policy classifier's score for the topic's categories
    ("nothing romantic" -> sexual). `anchor_vectors[i]` holds restriction i's anchors."""
    threshold = MINOR_RESTRICTION_SIMILARITY if owner_is_minor else RESTRICTION_SIMILARITY
    hits = []
    for text, anchors in zip(restrictions, anchor_vectors, strict=True):
        topics = topics_of(text)
        similarity = float(np.max(anchors @ prompt_vector))
        categories = {
            c: round(prompt_scores.get(c, 0.0), 3)
            for t in topics
            for c in t.categories
            if prompt_scores.get(c, 0.0) >= CATEGORY_SCORE
        }
        words = _words_hit(prompt, topics)
        if similarity >= threshold or categories or words:
            hits.append(RestrictionHit(text, round(similarity, 3), threshold, categories, words))
    return hits
