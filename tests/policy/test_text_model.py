"""The fine-tuned model's tokenizer and loading: the ids it feeds the graph are the ones the model
was trained with, and a graph that is not the recorded one does not load (fail closed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from safety.models.text_embedder import MAX_TOKENS, ModelUnavailable, packaged_model_dir
from safety.models.text_policy_model import load_tokenizer
from safety.policy.classifier import MODEL_DIR, ModelMeta, TextClassifier
from safety.policy.training_data import load_split


def test_the_tokenizer_encodes_as_the_transformers_one() -> None:
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(packaged_model_dir()), local_files_only=True)
    mine = load_tokenizer()
    texts = [e.text for e in load_split("test")[:200]] + ["", "é" * 500, "mot " * 200, "ça va"]
    for text, encoding in zip(texts, mine.encode_batch(texts), strict=True):
        expected = reference(text, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        assert encoding.ids == expected  # one text, no padding


def test_the_consent_embedder_tokenizer_pads_as_the_transformers_one() -> None:
    """`safety.consent` embeds prompts with TextEmbedder (batched, padded)."""
    from transformers import AutoTokenizer

    from safety.models.text_embedder import TextEmbedder

    reference = AutoTokenizer.from_pretrained(str(packaged_model_dir()), local_files_only=True)
    core = TextEmbedder()._tokenizer
    batch = ["a cat", "a much longer sentence about a dog in a park", "ça va très bien"]
    expected = reference(batch, padding=True, truncation=True, max_length=MAX_TOKENS)
    got = core.encode_batch(batch)
    np.testing.assert_array_equal([e.ids for e in got], expected["input_ids"])
    np.testing.assert_array_equal([e.attention_mask for e in got], expected["attention_mask"])


def test_a_graph_that_is_not_the_recorded_one_does_not_load(tmp_path: Path) -> None:
    meta = ModelMeta.load()
    for name in (meta.data["onnx"], "text_model.json"):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    assert TextClassifier.load(directory=tmp_path).version == meta.version
    with (tmp_path / meta.data["onnx"]).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        TextClassifier.load(directory=tmp_path)
    (tmp_path / "text_model.json").unlink()
    with pytest.raises(ModelUnavailable):
        TextClassifier.load(directory=tmp_path)


def test_french_is_calibrated_on_its_own_where_the_data_allows() -> None:
    calibration = ModelMeta.load().data["calibration"]
    assert "fr" in calibration["harassment"] and "fr" in calibration["hate"]
