"""The classifier's input: the sentence embedding (meaning, English-centred) next to hashed
character n-grams (spelling, any language; they carry French, slurs and obfuscations that the
English embedding model sees poorly). Training and inference share this one function."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

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


def build_features(embeddings: np.ndarray, texts: list[str]) -> sparse.csr_matrix:
    """[embedding | n-grams] as one sparse row per text."""
    grams = _ngrams.transform(texts)
    return sparse.hstack([sparse.csr_matrix(embeddings), grams], format="csr", dtype=np.float32)
