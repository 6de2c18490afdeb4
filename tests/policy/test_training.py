"""The committed classifier heads come from the public data by the repo's training script, and the
splits that keep the test set honest are disjoint and stable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safety.models.text_embedder import LAYERS, MAX_TOKENS, MODEL_LAYERS, PRECISION
from safety.policy.classifier import Heads
from safety.policy.train import _data_digest, train
from safety.policy.training_data import DATASETS_DIR, HEADS, iter_examples, load_split


@pytest.fixture(scope="module")
def examples():
    return list(iter_examples())


def test_committed_heads_were_trained_on_this_data(examples) -> None:
    heads = Heads.load()
    train_and_calibration = [e for e in examples if e.split != "test"]
    depth = "" if LAYERS == MODEL_LAYERS else f"-l{LAYERS}"
    expected = f"text-heads-{_data_digest(train_and_calibration)}-{PRECISION}-t{MAX_TOKENS}{depth}"
    assert heads.version == expected
    assert heads.meta["embedding_precision"] == PRECISION
    assert heads.meta["embedding_layers"] == LAYERS
    assert heads.names == HEADS
    assert heads.meta["train_examples"] == sum(e.split == "train" for e in examples)


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


@pytest.mark.slow
def test_training_is_deterministic(tmp_path: Path) -> None:
    """Trains twice on a small sample of the real data: the same data gives the same heads."""
    sample = tmp_path / "datasets"
    for folder in ("hatecheck", "llm_safety_prompts", "i2p"):
        (sample / folder).mkdir(parents=True)
        lines = (DATASETS_DIR / folder / "data.jsonl").read_text().splitlines()
        (sample / folder / "data.jsonl").write_text("\n".join(lines[::12]) + "\n")
    first = train(sample, tmp_path / "a.npz")
    second = train(sample, tmp_path / "b.npz")
    assert first.version == second.version
    np.testing.assert_array_equal(
        Heads.load(tmp_path / "a.npz").weights, Heads.load(tmp_path / "b.npz").weights
    )
    assert len(load_split("test", sample)) > 0
