"""The text classifier: two models over the policy's heads, stacked into one calibrated
probability per head, calibrated per language where the data allowed.

- the fine-tuned policy model (`safety.models.text_policy_model`): MiniLM's first layers with a
  multi-label head, trained end to end on the labelled data (strong on what it was trained on,
  English-centred);
- linear heads over the multilingual sentence encoder (`safety.models.multilingual_encoder`,
  USE multilingual v3): they carry what English examples teach over to French and hold up
  better on sources they never saw (see README, leave-one-source-out).

Per head and language, p = sigmoid(a * model_logit + c * multilingual_logit + b), the three
numbers fitted on the calibration split (`text_model.json`, `calibration`).

`python -m safety.policy.train` writes the int8 ONNX graph, the multilingual heads and
`text_model.json` (their SHA-256, the encoder's weights SHA-256, training recipe, data digest
and calibration) into `safety/policy/model/`. A file that does not match its recorded SHA-256,
or a missing file, is a ModelUnavailable (checks fail closed). Scores are a function of the text
alone: the fine-tuned model runs every text by itself, the encoder computes each text from its
own tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from safety.models.multilingual_encoder import MultilingualEncoder
from safety.models.text_embedder import ModelUnavailable, file_sha256
from safety.models.text_policy_model import PolicyTextModel
from safety.policy.language import detect_language

MODEL_DIR = Path(__file__).resolve().parent / "model"
META_FILE = "text_model.json"
LANGUAGE_KEYS = ("en", "fr", "all")


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


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def stack_table(
    calibration: dict[str, dict[str, list[float]]], heads: tuple[str, ...], lang: str
) -> np.ndarray:
    """(a, c, b) per head for one language key ("en", "fr", "all"); a language without its own
    falls back to "all"."""
    rows = [calibration[h].get(lang, calibration[h]["all"]) for h in heads]
    if any(len(row) != 3 for row in rows):
        raise ModelUnavailable("text model calibration is not a stacked (a, c, b) triple")
    return np.array(rows, dtype=np.float64)


def stacked_probabilities(
    model_logits: np.ndarray, multilingual_logits: np.ndarray, table: np.ndarray
) -> np.ndarray:
    """sigmoid(a * model + c * multilingual + b) per head, for one text's two logit rows."""
    return sigmoid(table[:, 0] * model_logits + table[:, 1] * multilingual_logits + table[:, 2])


class MultilingualHeads:
    """One linear head per policy head over the encoder's vectors (`multilingual_heads.npz`)."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        if weights.ndim != 2 or bias.shape != (weights.shape[0],):
            raise ModelUnavailable(f"multilingual heads have shapes {weights.shape}, {bias.shape}")
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        return vectors @ self.weights.T + self.bias

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, weights=self.weights, bias=self.bias)

    @classmethod
    def load(cls, path: Path, sha256: str | None) -> MultilingualHeads:
        if not path.is_file():
            raise ModelUnavailable(f"multilingual heads not found at {path}")
        if sha256 is not None and file_sha256(path) != sha256:
            raise ModelUnavailable(f"{path} does not match its recorded SHA-256")
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(data["weights"], data["bias"])
        except (OSError, KeyError, ValueError) as exc:
            raise ModelUnavailable(f"cannot read {path}: {exc}") from exc


class TextClassifier:
    """Calibrated probabilities per head for a batch of normalised texts."""

    def __init__(
        self,
        model: PolicyTextModel,
        encoder: MultilingualEncoder,
        heads: MultilingualHeads,
        meta: ModelMeta,
    ) -> None:
        self.model = model
        self.encoder = encoder
        self.multilingual_heads = heads
        self.meta = meta
        if heads.weights.shape[0] != len(meta.heads):
            raise ModelUnavailable("multilingual heads do not match the recorded heads")
        self._stack = {
            lang: stack_table(meta.data["calibration"], meta.heads, lang) for lang in LANGUAGE_KEYS
        }

    @classmethod
    def load(cls, threads: int | None = None, directory: Path = MODEL_DIR) -> TextClassifier:
        meta = ModelMeta.load(directory)
        model = PolicyTextModel(directory / meta.data["onnx"], threads, meta.data.get("sha256"))
        multilingual = meta.data.get("multilingual")
        if not isinstance(multilingual, dict):
            raise ModelUnavailable("text model record has no multilingual part")
        encoder = MultilingualEncoder(threads or 1, multilingual.get("weights_sha256"))
        heads = MultilingualHeads.load(
            directory / multilingual["heads"], multilingual.get("heads_sha256")
        )
        return cls(model, encoder, heads, meta)

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def heads(self) -> tuple[str, ...]:
        return self.meta.heads

    def logits(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The fine-tuned model's logits and the multilingual heads' logits, (texts, heads) each."""
        return self.model.logits(texts), self.multilingual_heads.logits(self.encoder.encode(texts))

    def calibrated(
        self, model_logits: np.ndarray, multilingual_logits: np.ndarray, texts: list[str]
    ) -> np.ndarray:
        out = np.empty(model_logits.shape, dtype=np.float64)
        for row, text in enumerate(texts):
            lang = detect_language(text)
            table = self._stack[lang if lang in ("en", "fr") else "all"]
            out[row] = stacked_probabilities(model_logits[row], multilingual_logits[row], table)
        return out

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probs = self.calibrated(*self.logits(texts), texts)
        return [{name: float(p) for name, p in zip(self.heads, row, strict=True)} for row in probs]
