"""The micro-batcher: every caller gets its own results, in order, with several model workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from safety.policy.batcher import MicroBatcher


def test_callers_get_their_own_results_with_two_workers() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def predict(texts: list[str]) -> list[dict[str, float]]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)  # the model releases the GIL; another worker may run meanwhile
        with lock:
            running -= 1
        return [{"n": float(t)} for t in texts]

    batcher = MicroBatcher(predict, workers=2)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda n: batcher([str(n), str(n + 1)]), range(200)))
    assert results == [[{"n": float(n)}, {"n": float(n + 1)}] for n in range(200)]
    assert most == 2  # both workers ran model calls at the same time


def test_a_model_error_reaches_every_waiting_caller() -> None:
    def predict(texts: list[str]) -> list[dict[str, float]]:
        raise RuntimeError("model failed")

    batcher = MicroBatcher(predict, workers=2)
    with pytest.raises(RuntimeError, match="model failed"):
        batcher(["a"])
    with pytest.raises(ValueError):
        MicroBatcher(predict, workers=0)
