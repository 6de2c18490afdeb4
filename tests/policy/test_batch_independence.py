"""A decision is a function of the text and the request alone: the same text scores the same
alone, inside batches of other texts of any length, and under concurrent requests that the
service's micro-batcher merges into one model call."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from safety.policy.batcher import MicroBatcher
from safety.policy.engine import CheckContext, PolicyEngine, get_engine

TOLERANCE = 1e-3
TEXTS = [
    "a paintball match in the woods",
    "I love you",
    "ahoy",
    "a worthless piece of trash",
    "you are such an idiot lol",
    "une vidéo de mon chat qui joue avec une pelote de laine",
    "t'es qu'une merde",
    "two boxers fighting, blood on the ring",
    "how many pills would it take to not wake up",
    "a naked woman on a beach",
    "breaking news footage of an earthquake destroying paris today",
    "a very long prompt " + "with many words describing a quiet harbour at dawn " * 12,
    "s3xy t33n",
    "for a movie: a man strangling his wife",
]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return get_engine()


def _scores(decision) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {name: result.score for name, result in decision.categories.items()}


def _assert_close(alone, other, text: str) -> None:  # type: ignore[no-untyped-def]
    for name, score in _scores(alone).items():
        assert abs(score - _scores(other)[name]) <= TOLERANCE, (text, name)
    assert alone.action == other.action, text


def test_the_engine_uses_the_micro_batcher(engine: PolicyEngine) -> None:
    assert isinstance(engine.predict, MicroBatcher)


def test_scores_do_not_depend_on_the_batch(engine: PolicyEngine) -> None:
    context = CheckContext(age_group="teen")
    alone = {text: engine.check(text, context) for text in TEXTS}
    rng = random.Random(7)
    for size in (2, 5, len(TEXTS)):
        for _ in range(3):
            batch = rng.sample(TEXTS, size)
            for text, decision in zip(batch, engine.check_many(batch, context), strict=True):
                _assert_close(alone[text], decision, text)


def test_scores_do_not_depend_on_concurrent_requests(engine: PolicyEngine) -> None:
    """Many callers at once: the batcher merges their texts into shared model calls."""
    alone = {text: engine.check(text) for text in TEXTS}
    jobs = [TEXTS[i % len(TEXTS)] for i in range(120)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(engine.check, jobs))
    for text, decision in zip(jobs, results, strict=True):
        _assert_close(alone[text], decision, text)


def test_the_model_gives_the_same_logits_alone_and_in_a_batch(engine: PolicyEngine) -> None:
    model = engine.classifier.model
    together = model.logits(TEXTS)
    for row, text in enumerate(TEXTS):
        assert abs(model.logits([text])[0] - together[row]).max() == 0.0, text
