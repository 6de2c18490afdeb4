"""The classifier's input: the sentence embedding (meaning, English-centred) next to hashed
character n-grams (spelling, any language; they carry French, slurs and obfuscations that the
English embedding model sees poorly).

Training builds the sparse matrix with scikit-learn (`build_features`); inference scores one text
at a time and computes the same numbers directly (`linear_scores`): hashing a few dozen n-grams
and gathering their weight rows, without scikit-learn's input validation and sparse-matrix
assembly, which cost more than the hashing itself on a single prompt. A test holds the two equal.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32

EMBEDDING_DIM = 384
NGRAM_FEATURES = 2**16

_ngrams = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(2, 4),
    n_features=NGRAM_FEATURES,
    alternate_sign=False,
    norm="l2",
    lowercase=False,  # texts arrive normalised (safety.policy.normalize.clean)
    dtype=np.float32,
)
_analyze = _ngrams.build_analyzer()
# FeatureHasher's column for a hash of -2**31 (whose absolute value overflows int32).
_MIN_INT32_COLUMN = (2147483647 - (NGRAM_FEATURES - 1)) % NGRAM_FEATURES


def build_features(embeddings: np.ndarray, texts: list[str]) -> sparse.csr_matrix:
    """[embedding | n-grams] as one sparse row per text (training)."""
    grams = _ngrams.transform(texts)
    return sparse.hstack([sparse.csr_matrix(embeddings), grams], format="csr", dtype=np.float32)


def ngram_columns(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The text's hashed n-gram columns and their L2-normalised counts, as HashingVectorizer
    (murmurhash3, seed 0, no alternate sign) computes them."""
    counts: dict[int, int] = {}
    for gram in _analyze(text):
        h = murmurhash3_32(gram, seed=0)
        column = _MIN_INT32_COLUMN if h == -2147483648 else abs(h) % NGRAM_FEATURES
        counts[column] = counts.get(column, 0) + 1
    columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    values = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    norm = float(np.sqrt(values @ values))
    if norm > 0:
        values /= norm
    return columns, values


def linear_scores(
    embeddings: np.ndarray, texts: list[str], weights: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """`build_features(embeddings, texts) @ weights + bias`, computed row by row (inference)."""
    scores = embeddings @ weights[:EMBEDDING_DIM] + bias
    for row, text in enumerate(texts):
        columns, values = ngram_columns(text)
        if len(columns):
            scores[row] += values @ weights[EMBEDDING_DIM + columns]
    return scores
