"""The text classifier: the fine-tuned policy model (`safety.models.text_policy_model`) with one
Platt-calibrated probability per head, calibrated per language where the data allowed.

`python -m safety.policy.train` writes the int8 ONNX graph and `text_model.json` (its SHA-256,
training recipe, data digest and calibration) into `safety/policy/model/`. A graph that does not
match its recorded SHA-256, or a missing file, is a ModelUnavailable (checks fail closed).
Scores are a function of the text alone: the model runs every text by itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from safety.models.text_embedder import ModelUnavailable
from safety.models.text_policy_model import PolicyTextModel
from safety.policy.language import detect_language

MODEL_DIR = Path(__file__).resolve().parent / "model"
META_FILE = "text_model.json"


class ModelMeta:
    """What `text_model.json` records about the committed model."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def version(self) -> str:
        return str(self.data.get("version", "unknown"))

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.data["heads"])

    def save(self, directory: Path) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (directory / META_FILE).write_text(text)

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> ModelMeta:
        path = directory / META_FILE
        try:
            return cls(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"text model record {path} is unreadable: {exc}") from exc


def platt(logit: np.ndarray, a: float, b: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(logit * a + b)))


class TextClassifier:
    """Calibrated probabilities per head for a batch of normalised texts."""

    def __init__(self, model: PolicyTextModel, meta: ModelMeta) -> None:
        self.model = model
        self.meta = meta
        heads = meta.heads
        calibration = meta.data["calibration"]
        # (a, b) per language per head; a language without its own falls back to "all".
        self._platt = {
            lang: (
                np.array([calibration[h].get(lang, calibration[h]["all"])[0] for h in heads]),
                np.array([calibration[h].get(lang, calibration[h]["all"])[1] for h in heads]),
            )
            for lang in ("en", "fr", "all")
        }

    @classmethod
    def load(cls, threads: int | None = None, directory: Path = MODEL_DIR) -> TextClassifier:
        meta = ModelMeta.load(directory)
        model = PolicyTextModel(directory / meta.data["onnx"], threads, meta.data.get("sha256"))
        return cls(model, meta)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def heads(self) -> tuple[str, ...]:
        return self.meta.heads

    def calibrated(self, logits: np.ndarray, texts: list[str]) -> np.ndarray:
        out = np.empty_like(logits, dtype=np.float64)
        for row, text in enumerate(texts):
            lang = detect_language(text)
            a, b = self._platt[lang if lang in ("en", "fr") else "all"]
            out[row] = platt(logits[row], a, b)
        return out

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probs = self.calibrated(self.model.logits(texts), texts)
        return [{name: float(p) for name, p in zip(self.heads, row, strict=True)} for row in probs]
