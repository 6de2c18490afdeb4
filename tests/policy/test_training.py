"""The committed text model comes from this repository's data by its training script, its file is
the one recorded, and the splits that keep the test sets honest are disjoint and stable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safety.models.multilingual_encoder import MultilingualEncoder
from safety.models.text_policy_model import file_sha256
from safety.policy.classifier import MODEL_DIR, ModelMeta
from safety.policy.train import (
    StaleGraph,
    calibrate,
    data_digest,
    fine_tune,
    fit_multilingual_heads,
    torch_logits,
)
from safety.policy.training_data import DATASETS_DIR, HEADS, iter_examples

EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "policy_eval"


@pytest.fixture(scope="module")
def examples():
    return list(iter_examples())


def test_committed_model_was_trained_on_this_data(examples) -> None:
    meta = ModelMeta.load()
    train_and_calibration = [e for e in examples if e.split != "test"]
    assert meta.data["data"]["digest"] == data_digest(train_and_calibration)
    assert meta.version.startswith(f"text-model-{data_digest(train_and_calibration)}-int8")
    assert meta.heads == HEADS
    assert meta.data["data"]["train_examples"] == sum(e.split == "train" for e in examples)


def test_committed_graph_is_the_recorded_file() -> None:
    meta = ModelMeta.load()
    path = MODEL_DIR / meta.data["onnx"]
    assert path.stat().st_size < 40 * 2**20
    assert file_sha256(path) == meta.data["sha256"]


def test_heads_only_refuses_a_graph_fine_tuned_on_other_data(tmp_path: Path) -> None:
    import shutil

    from safety.policy.train import train

    meta = ModelMeta.load()
    for name in (meta.data["onnx"], "text_model.json"):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    meta.data["data"]["digest"] = "0" * 16
    meta.save(tmp_path)
    with pytest.raises(StaleGraph, match="fine-tuned on other data"):
        train(DATASETS_DIR, tmp_path, heads_only=True)
    assert not (tmp_path / "multilingual_heads.npz").exists()


def test_splits_are_disjoint(examples) -> None:
    by_split: dict[str, set[str]] = {}
    for e in examples:
        by_split.setdefault(e.split, set()).add(e.text.casefold().strip())
    assert not by_split["train"] & by_split["test"]
    assert not by_split["calibration"] & by_split["test"]
    assert len(by_split["test"]) > 5000


def test_hatecheck_templates_do_not_straddle_splits() -> None:
    rows = [
        json.loads(line)
        for line in (DATASETS_DIR / "hatecheck" / "data.jsonl").read_text().splitlines()
    ]
    from safety.policy.training_data import _group, _split_of

    split_of_template: dict[str, set[str]] = {}
    for row in rows:
        split_of_template.setdefault(_group(row), set()).add(_split_of(_group(row)))
    assert all(len(splits) == 1 for splits in split_of_template.values())


def test_the_written_evaluation_set_is_never_trained_on(examples) -> None:
    from safety.policy.normalize import clean

    seen = {clean(e.text) for e in examples}
    rows = [
        json.loads(line)
        for path in sorted(EVAL_DIR.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert len(rows) > 300
    assert not [r["text"] for r in rows if clean(r["text"]) in seen]


def test_source_weights_keep_noisy_sources_from_defining_a_category(examples) -> None:
    davidson = [e for e in examples if e.source == "davidson"]
    assert davidson and all(e.weight < 0.5 for e in davidson)
    assert all(e.lang in ("en", "fr") for e in examples)


@pytest.mark.slow
def test_a_short_fine_tune_learns_and_calibrates(examples) -> None:
    """The training code on a small sample: it runs, learns something, and calibrates."""
    rng = np.random.default_rng(0)
    train = [e for e in examples if e.split == "train" and e.folder == "synthetic_policy"]
    train = [train[i] for i in rng.choice(len(train), 200, replace=False)]
    model = fine_tune(train, epochs=1, log=lambda _: None)
    logits = torch_logits(model, [e.text for e in train[:50]])
    assert logits.shape == (50, len(HEADS)) and np.isfinite(logits).all()
    vectors = MultilingualEncoder().encode([e.text for e in train])
    heads = fit_multilingual_heads(vectors, train)
    multilingual = heads.logits(vectors[:50])
    assert multilingual.shape == (50, len(HEADS)) and np.isfinite(multilingual).all()
    params = calibrate(logits, multilingual, train[:50])
    assert set(params) == set(HEADS) and all("all" in p for p in params.values())
    assert all(len(triple) == 3 for p in params.values() for triple in p.values())


def test_the_multilingual_heads_learn_from_their_training_rows(examples) -> None:
    """On the written examples, the multilingual heads rank a head's positives above the rest."""
    from sklearn.metrics import roc_auc_score

    train = [e for e in examples if e.split == "train" and e.folder == "synthetic_policy"]
    vectors = MultilingualEncoder().encode([e.text for e in train])
    logits = fit_multilingual_heads(vectors, train).logits(vectors)
    y = np.array([["sexual" in e.heads] for e in train], dtype=int)[:, 0]
    assert roc_auc_score(y, logits[:, HEADS.index("sexual")]) > 0.9


def test_accented_french_rows_get_an_unaccented_copy_in_their_own_split() -> None:
    from safety.policy.training_data import Example, _group, _split_of, with_unaccented_copies

    rows = [
        Example("je vais t'encastrer la tête", "fr", "w", frozenset({"violence"}), "train"),
        Example("bonne journee", "fr", "w", frozenset(), "train", weight=2.0),
        Example("a café in paris", "en", "w", frozenset(), "train"),
    ]
    out = with_unaccented_copies(rows, 0.5)
    assert out[:3] == rows and len(out) == 4
    copy = out[3]
    assert copy.text == "je vais t'encastrer la tete" and copy.heads == rows[0].heads
    assert copy.weight == 0.5 and copy.split == rows[0].split
    # A copy's group is its original's, so the hash split puts both in the same split.
    text = {"text": rows[0].text}
    assert _split_of(_group(text)) == _split_of(_group({"text": copy.text}))
