"""The micro-batcher: every caller gets its own results, in order, with several model workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from safety.policy.batcher import MicroBatcher


def test_callers_get_their_own_results_with_two_workers() -> None:
    def predict(texts: list[str]) -> list[dict[str, float]]:
        time.sleep(0.001)  # the model releases the GIL; another worker may run meanwhile
        return [{"n": float(t)} for t in texts]

    batcher = MicroBatcher(predict, workers=2)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda n: batcher([str(n), str(n + 1)]), range(200)))
    assert results == [[{"n": float(n)}, {"n": float(n + 1)}] for n in range(200)]


def test_a_second_worker_answers_while_the_first_is_busy() -> None:
    first_running, release = threading.Event(), threading.Event()

    def predict(texts: list[str]) -> list[dict[str, float]]:
        if texts == ["slow"]:
            first_running.set()
            release.wait(timeout=10)
        return [{"len": float(len(t))} for t in texts]

    batcher = MicroBatcher(predict, workers=2)
    slow = batcher.submit(["slow"])
    assert first_running.wait(timeout=5)
    # The first worker is held inside the model; only the second can answer this one.
    assert batcher.submit(["quick"]).result(timeout=5) == [{"len": 5.0}]
    assert not slow.done()
    release.set()
    assert slow.result(timeout=5) == [{"len": 4.0}]


def test_a_model_error_reaches_every_waiting_caller() -> None:
    def predict(texts: list[str]) -> list[dict[str, float]]:
        raise RuntimeError("model failed")

    batcher = MicroBatcher(predict, workers=2)
    with pytest.raises(RuntimeError, match="model failed"):
        batcher(["a"])
    with pytest.raises(ValueError):
        MicroBatcher(predict, workers=0)
