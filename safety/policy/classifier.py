"""The text classifier: one calibrated linear head per harm over `features.build_features`.

The heads are trained by `python -m safety.policy.train` from the public labelled data and saved
in `safety/policy/model/text_heads.npz` (weights) beside `text_heads.json` (how they were made).
Scores are Platt-calibrated probabilities.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from safety.models.text_embedder import MODEL_LAYERS, ModelUnavailable, TextEmbedder
from safety.policy.features import NGRAM_FEATURES, linear_scores

HEADS_FILE = Path(__file__).resolve().parent / "model" / "text_heads.npz"


@dataclass(frozen=True)
class Heads:
    names: tuple[str, ...]
    weights: np.ndarray  # (features, heads)
    bias: np.ndarray  # (heads,)
    platt_a: np.ndarray
    platt_b: np.ndarray
    meta: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            names=np.array(self.names),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            platt_a=self.platt_a.astype(np.float32),
            platt_b=self.platt_b.astype(np.float32),
        )
        path.with_suffix(".json").write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path = HEADS_FILE) -> Heads:
        if not path.is_file():
            raise ModelUnavailable(f"classifier heads not found at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                heads = cls(
                    names=tuple(str(n) for n in data["names"]),
                    weights=data["weights"].astype(np.float32),
                    bias=data["bias"],
                    platt_a=data["platt_a"],
                    platt_b=data["platt_b"],
                    meta=json.loads(path.with_suffix(".json").read_text()),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(f"classifier heads at {path} are unreadable: {exc}") from exc
        if heads.weights.shape[0] != 384 + NGRAM_FEATURES:
            raise ModelUnavailable(f"heads expect {heads.weights.shape[0]} features")
        return heads


def platt(decision: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(decision * a + b)))


class TextClassifier:
    """Calibrated probabilities per head for a batch of normalised texts."""

    def __init__(self, embedder: TextEmbedder, heads: Heads) -> None:
        self.embedder = embedder
        self.heads = heads

    @classmethod
    def load(cls, threads: int | None = None) -> TextClassifier:
        heads = Heads.load()
        precision = heads.meta.get("embedding_precision", "fp32")
        layers = int(heads.meta.get("embedding_layers", MODEL_LAYERS))
        return cls(TextEmbedder(threads=threads, precision=precision, layers=layers), heads)

    @property
    def version(self) -> str:
        return self.heads.version

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        decision = linear_scores(
            self.embedder.encode(texts), texts, self.heads.weights, self.heads.bias
        )
        probs = platt(decision, self.heads.platt_a, self.heads.platt_b)
        return [
            {name: float(p) for name, p in zip(self.heads.names, row, strict=True)} for row in probs
        ]
