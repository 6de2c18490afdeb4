"""Inference scores each text without scikit-learn's sparse pipeline; it must compute exactly
what the training's feature matrix gives the same heads."""

from __future__ import annotations

import numpy as np

from safety.policy.classifier import Heads
from safety.policy.features import NGRAM_FEATURES, build_features, linear_scores, ngram_columns
from safety.policy.normalize import normalize
from safety.policy.training_data import load_split


def test_linear_scores_equal_the_training_features() -> None:
    heads = Heads.load()
    texts = [normalize(e.text).base or " " for e in load_split("test")[:400]]
    texts += ["", " ", "é à ç œ", "s e x", "👍🏽 emoji", "x" * 2000]
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(texts), 384)).astype(np.float32)
    expected = build_features(embeddings, texts) @ heads.weights + heads.bias
    got = linear_scores(embeddings, texts, heads.weights, heads.bias)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_ngram_columns_match_the_hashing_vectorizer() -> None:
    from safety.policy.features import _ngrams

    for text in ["a cat playing piano", "k.i.l.l", "ça va très bien", ""]:
        row = _ngrams.transform([text])
        columns, values = ngram_columns(text)
        dense = np.zeros(NGRAM_FEATURES, dtype=np.float32)
        dense[columns] = values
        np.testing.assert_allclose(dense, row.toarray()[0], rtol=1e-6, atol=1e-7)


def test_the_shared_tokenizer_encodes_as_the_transformers_one() -> None:
    """The embedder tokenizes with a fixed copy of the Rust tokenizer (thread-safe); it must give
    the ids, masks and padding that the transformers call the heads were trained with gives."""
    from transformers import AutoTokenizer

    from safety.models.text_embedder import MAX_TOKENS, TextEmbedder, packaged_model_dir

    reference = AutoTokenizer.from_pretrained(str(packaged_model_dir()), local_files_only=True)
    mine = TextEmbedder()._tokenizer
    texts = [e.text for e in load_split("test")[:300]] + ["", "é" * 500, "mot " * 200]
    for start in range(0, len(texts), 7):
        batch = texts[start : start + 7]
        expected = reference(
            batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np"
        )
        encodings = mine.encode_batch(batch)
        for name, attribute in [
            ("input_ids", "ids"),
            ("attention_mask", "attention_mask"),
            ("token_type_ids", "type_ids"),
        ]:
            got = np.array([getattr(e, attribute) for e in encodings])
            np.testing.assert_array_equal(got, expected[name])


def test_a_shallow_graph_embeds_as_the_first_layers_of_the_model() -> None:
    """The heads read the first LAYERS transformer layers: the exported graph must give the
    mean-pooled output of exactly those layers of the packaged model."""
    import pytest
    import torch
    from transformers import AutoModel, AutoTokenizer

    from safety.models.text_embedder import (
        LAYERS,
        MAX_TOKENS,
        ModelUnavailable,
        TextEmbedder,
        packaged_model_dir,
    )

    assert Heads.load().meta["embedding_layers"] == LAYERS
    with pytest.raises(ModelUnavailable, match="1 to 6 layers"):
        TextEmbedder(layers=7)
    texts = [e.text for e in load_split("test")[:40]] + ["a cat playing piano", "ça va"]
    got = TextEmbedder(precision="fp32", layers=LAYERS).encode(texts)
    directory = str(packaged_model_dir())
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModel.from_pretrained(directory, local_files_only=True).eval()
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )
    with torch.inference_mode():
        hidden = model(**batch, output_hidden_states=True).hidden_states[LAYERS]
    mask = batch["attention_mask"][..., None].float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=1).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4)
