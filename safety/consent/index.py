"""1:N search over enrolled embeddings, behind one small interface.

`ExactIndex` keeps the unit vectors as one float32 matrix and answers with a matrix-vector
product: exact, and fast enough for the embedded default (see bench/face_match.py).
`FaissIndex` uses FAISS's HNSW graph (inner product) for large registries: approximate, with the
same answers as exact search on nearly every query at a fraction of the time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Hit:
    key: str
    score: float  # cosine similarity


class EmbeddingIndex(Protocol):
    dim: int

    def __len__(self) -> int: ...

    def search(self, query: np.ndarray, k: int) -> list[Hit]: ...


def _as_matrix(vectors: np.ndarray, dim: int) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.clip(norms, 1e-12, None)


class ExactIndex:
    def __init__(self, keys: list[str], vectors: np.ndarray, dim: int) -> None:
        self.dim = dim
        self.keys = list(keys)
        self.matrix = _as_matrix(vectors, dim) if keys else np.zeros((0, dim), np.float32)

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        if not self.keys:
            return []
        scores = self.matrix @ _as_matrix(query, self.dim)[0]
        k = min(k, len(self.keys))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [Hit(self.keys[i], float(scores[i])) for i in top]


class FaissIndex:
    def __init__(
        self, keys: list[str], vectors: np.ndarray, dim: int, m: int = 16, ef_search: int = 128
    ) -> None:
        import faiss

        self.dim = dim
        self.keys = list(keys)
        self.index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 40
        self.index.hnsw.efSearch = ef_search
        if keys:
            self.index.add(_as_matrix(vectors, dim))

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: np.ndarray, k: int) -> list[Hit]:
        if not self.keys:
            return []
        scores, ids = self.index.search(_as_matrix(query, self.dim), min(k, len(self.keys)))
        return [
            Hit(self.keys[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]


def build_index(kind: str, keys: list[str], vectors: np.ndarray, dim: int) -> EmbeddingIndex:
    if kind == "exact":
        return ExactIndex(keys, vectors, dim)
    if kind == "faiss":
        return FaissIndex(keys, vectors, dim)
    raise ValueError(f"unknown index kind {kind!r} (exact or faiss)")
