"""The fine-tuned model's tokenizer and loading: the ids it feeds the graph are the ones the model
was trained with, and a graph that is not the recorded one does not load (fail closed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from safety.models.multilingual_encoder import weights_sha256
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


def _copy_model(target: Path) -> ModelMeta:
    meta = ModelMeta.load()
    for name in (meta.data["onnx"], meta.data["multilingual"]["heads"], "text_model.json"):
        shutil.copy(MODEL_DIR / name, target / name)
    return meta


def test_a_graph_that_is_not_the_recorded_one_does_not_load(tmp_path: Path) -> None:
    meta = _copy_model(tmp_path)
    assert TextClassifier.load(directory=tmp_path).version == meta.version
    with (tmp_path / meta.data["onnx"]).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        TextClassifier.load(directory=tmp_path)
    (tmp_path / "text_model.json").unlink()
    with pytest.raises(ModelUnavailable):
        TextClassifier.load(directory=tmp_path)


def test_multilingual_heads_that_are_not_the_recorded_ones_do_not_load(tmp_path: Path) -> None:
    meta = _copy_model(tmp_path)
    heads = tmp_path / meta.data["multilingual"]["heads"]
    heads.write_bytes(heads.read_bytes()[:-1] + b"\1")
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        TextClassifier.load(directory=tmp_path)
    heads.unlink()
    with pytest.raises(ModelUnavailable, match="not found"):
        TextClassifier.load(directory=tmp_path)


def test_an_encoder_weights_file_that_is_not_the_recorded_one_does_not_load(
    tmp_path: Path,
) -> None:
    meta = _copy_model(tmp_path)
    data = json.loads((tmp_path / "text_model.json").read_text())
    data["multilingual"]["weights_sha256"] = "0" * 64
    (tmp_path / "text_model.json").write_text(json.dumps(data))
    with pytest.raises(ModelUnavailable, match="SHA-256"):
        TextClassifier.load(directory=tmp_path)
    assert meta.data["multilingual"]["weights_sha256"] == weights_sha256()


def test_english_and_french_with_the_same_meaning_score_alike() -> None:
    """The multilingual half carries meaning across languages: a threat and its translation get
    close violence logits from the multilingual heads (the English MiniLM does not), and a
    harmless French scene is not scored as harmful."""
    classifier = TextClassifier.load()
    violence = classifier.heads.index("violence")
    model, multilingual = classifier.logits(
        ["i will find you and kill you", "je vais te trouver et te tuer"]
    )
    assert multilingual[0, violence] > 1 and multilingual[1, violence] > 1
    assert abs(multilingual[0, violence] - multilingual[1, violence]) < 1
    assert model[1, violence] < multilingual[1, violence]  # the English model misses the French
    assert classifier.predict(["je vais te trouver et te tuer"])[0]["violence"] > 0.3
    scene = classifier.predict(["une petite fille qui donne du pain aux canards"])[0]
    assert max(scene.values()) < 0.2
