"""Micro-batching of classifier calls: requests that arrive while the model is busy share its
next forward pass. Greedy by default (`max_wait_s` 0): a request that finds a model worker idle
runs at once, alone, so batching costs no latency at low load and forms by itself under load; a
positive `max_wait_s` also waits that long for company.

`workers` threads take batches from one queue and run them at the same time (the model releases
the GIL), so a request does not wait behind another's forward pass while a core is free. One
worker per core, each model call on one thread, keeps every core busy without oversubscribing."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

Predict = Callable[[list[str]], list[dict[str, float]]]


class MicroBatcher:
    def __init__(
        self, predict: Predict, max_batch: int = 64, max_wait_s: float = 0.0, workers: int = 1
    ) -> None:
        if workers < 1:
            raise ValueError("a batcher needs at least one worker")
        self._predict = predict
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._queue: queue.Queue[tuple[list[str], Future[list[dict[str, float]]]]] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._run, name=f"policy-batcher-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def __call__(self, texts: list[str]) -> list[dict[str, float]]:
        return self.submit(texts).result(timeout=30)

    def submit(self, texts: list[str]) -> Future[list[dict[str, float]]]:
        """Queues the texts for the next forward pass; an event loop can await the future."""
        future: Future[list[dict[str, float]]] = Future()
        self._queue.put((texts, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            pending = [first]
            size = len(first[0])
            deadline = time.monotonic() + self._max_wait_s
            while size < self._max_batch:
                remaining = deadline - time.monotonic()
                try:
                    if remaining > 0:
                        item = self._queue.get(timeout=remaining)
                    else:  # take whatever is already waiting, without waiting for more
                        item = self._queue.get_nowait()
                except queue.Empty:
                    break
                pending.append(item)
                size += len(item[0])
            texts = [t for item_texts, _ in pending for t in item_texts]
            try:
                results = self._predict(texts)
            except Exception as exc:  # every waiting caller gets the error: fail closed
                for _, future in pending:
                    future.set_exception(exc)
                continue
            offset = 0
            for item_texts, future in pending:
                future.set_result(results[offset : offset + len(item_texts)])
                offset += len(item_texts)
