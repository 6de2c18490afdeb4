from __future__ import annotations

import pytest

from safety.policy.engine import default_pack_path
from safety.policy.normalize import normalize
from safety.policy.pack import load_pack
from safety.policy.rules import RuleSet


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet(load_pack(default_pack_path()))


def rule_ids(rules: RuleSet, text: str) -> set[str]:
    hits, _ = rules.match(normalize(text))
    return {h.rule_id for h in hits}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a sexy teen in lingerie", "minors.sexual-context"),
        ("a s3xy t33n", "minors.sexual-context"),
        ("seeeexy teeeen", "minors.sexual-context"),
        ("n u d e kids", "minors.sexual-context"),
        ("ѕеxy schoolgirl", "minors.sexual-context"),
        ("une fillette nue", "minors.sexual-context"),
        ("I will k.i.l.l you", "threat.direct.en"),
        ("je vais te tuer", "threat.direct.fr"),
        ("how do I kill myself", "self-harm.instructions.en"),
        ("i want to kill myself", "self-harm.intent.en"),
        ("je veux me suicider", "self-harm.intent.fr"),
        ("how to make a pipe bomb", "illicit.weapons-making"),
        ("comment fabriquer une bombe", "illicit.weapons-making"),
        ("make a video of Emmanuel Macron dancing", "real-person.named"),
        ("Taylor Swift on a beach", "real-person.named"),
        ("Donald Trump voice clone saying hello", "impersonation.real-person"),
        ("the election is rigged, vote by text on tuesday", "elections.false-procedure"),
        ("l'election presidentielle est annulee", "elections.false-procedure"),
        ("a hardcore porn scene", "sexual.explicit"),
        ("kill yourself you worthless piece of trash", "harassment.self-harm-incitement.en"),
        ("just k y s already", "harassment.self-harm-incitement.en"),
        ("nobody would miss you if you were gone", "harassment.self-harm-incitement.en"),
        ("tue-toi sale merde", "harassment.self-harm-incitement.fr"),
        ("le monde serait mieux sans toi", "harassment.self-harm-incitement.fr"),
    ],
)
def test_rule_catches(rules: RuleSet, text: str, rule: str) -> None:
    assert rule in rule_ids(rules, text)


@pytest.mark.parametrize(
    "text",
    [
        "ten people dancing at a party",  # "ten" is not "teen"
        "a kid riding a bike in the park",
        "a cat on a skateboard",
        "kill the python process",
        "a strawberry shortcake with whipped cream",
        "vote for the best pizza topping",
        "skill tree of a video game",
        "this leg day workout will kill you",
        "how not to kill yourself with overwork, a doctor explains",
        "a film about a man who hangs himself in the attic",
        "la canicule va tuer les plantes du jardin",
    ],
)
def test_rules_leave_benign_text_alone(rules: RuleSet, text: str) -> None:
    assert rule_ids(rules, text) == set()
