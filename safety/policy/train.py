"""Trains the text classifier's heads from `../shared/datasets/` and writes
`safety/policy/model/text_heads.npz` (+ `.json`). Deterministic: the same data gives the same file.

    python -m safety.policy.train [--datasets ../shared/datasets] [--out PATH]

Per head: logistic regression (liblinear, balanced class weights) on the train split, the
regularisation chosen by average precision on the calibration split, then Platt scaling fitted on
the calibration split (or on 5-fold out-of-fold scores of the train split when the calibration
split has too few positives). The test split is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.progress import Progress
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

from safety.models.text_embedder import (
    LAYERS,
    MAX_TOKENS,
    MODEL_LAYERS,
    MODEL_NAME,
    TextEmbedder,
    depth_suffix,
)
from safety.policy.classifier import HEADS_FILE, Heads
from safety.policy.features import NGRAM_FEATURES, build_features
from safety.policy.normalize import clean
from safety.policy.training_data import DATASETS_DIR, HEADS, Example, load_split

C_GRID = (0.5, 2.0, 8.0)
MIN_CALIBRATION_POSITIVES = 20
MIN_TRAIN_POSITIVES = 3


def embed_all(embedder: TextEmbedder, texts: list[str], progress: Progress) -> np.ndarray:
    task = progress.add_task("embedding", total=len(texts))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    step = 256
    for start in range(0, len(texts), step):
        out[start : start + step] = embedder.encode(texts[start : start + step])
        progress.advance(task, min(step, len(texts) - start))
    return out


def _fit(x, y, c: float) -> LogisticRegression:
    model = LogisticRegression(
        C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=0
    )
    return model.fit(x, y)


def _platt(decision: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    model = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    model.fit(decision.reshape(-1, 1), y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def _data_digest(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.split, e.text)):
        digest.update(f"{e.split}\t{e.lang}\t{','.join(sorted(e.heads))}\t{e.text}\n".encode())
    return digest.hexdigest()[:16]


def train(datasets_dir: Path, out: Path, layers: int = LAYERS) -> Heads:
    started = time.time()
    train_set = load_split("train", datasets_dir)
    calib_set = load_split("calibration", datasets_dir)
    embedder = TextEmbedder(layers=layers)
    texts_train = [clean(e.text) for e in train_set]
    texts_calib = [clean(e.text) for e in calib_set]
    with Progress(transient=False) as progress:
        x_train = build_features(embed_all(embedder, texts_train, progress), texts_train)
        x_calib = build_features(embed_all(embedder, texts_calib, progress), texts_calib)
        task = progress.add_task("heads", total=len(HEADS))
        weights = np.zeros((384 + NGRAM_FEATURES, len(HEADS)), dtype=np.float32)
        bias = np.zeros(len(HEADS), dtype=np.float32)
        platt_a = np.ones(len(HEADS), dtype=np.float32)
        platt_b = np.zeros(len(HEADS), dtype=np.float32)
        report: dict[str, dict] = {}
        for i, head in enumerate(HEADS):
            y_train = np.array([head in e.heads for e in train_set], dtype=np.int8)
            y_calib = np.array([head in e.heads for e in calib_set], dtype=np.int8)
            if int(y_train.sum()) < MIN_TRAIN_POSITIVES:
                # Too few examples to learn anything: the head stays silent (probability ~0) and
                # the category relies on its rules. The report says so.
                bias[i], platt_b[i] = -20.0, -20.0
                report[head] = {"train_positives": int(y_train.sum()), "untrained": True}
                progress.advance(task)
                continue
            enough = int(y_calib.sum()) >= MIN_CALIBRATION_POSITIVES
            best_c, best_ap, model = C_GRID[1], None, None
            if enough:
                for c in C_GRID:
                    candidate = _fit(x_train, y_train, c)
                    ap = average_precision_score(y_calib, candidate.decision_function(x_calib))
                    if best_ap is None or ap > best_ap:
                        best_c, best_ap, model = c, float(ap), candidate
                assert model is not None
                a, b = _platt(model.decision_function(x_calib), y_calib)
                calibrated_on = "calibration split"
            else:
                model = _fit(x_train, y_train, best_c)
                n_splits = min(5, int(y_train.sum()))
                folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0)
                oof = np.zeros(len(y_train), dtype=np.float64)
                for fit_idx, held_idx in folds.split(np.zeros(len(y_train)), y_train):
                    fold_model = _fit(x_train[fit_idx], y_train[fit_idx], best_c)
                    oof[held_idx] = fold_model.decision_function(x_train[held_idx])
                a, b = _platt(oof, y_train)
                calibrated_on = f"{n_splits}-fold out-of-fold scores of the train split"
            weights[:, i] = model.coef_[0]
            bias[i] = model.intercept_[0]
            platt_a[i], platt_b[i] = a, b
            report[head] = {
                "train_positives": int(y_train.sum()),
                "calibration_positives": int(y_calib.sum()),
                "C": best_c,
                "calibration_average_precision": best_ap,
                "platt": [round(a, 6), round(b, 6)],
                "calibrated_on": calibrated_on,
            }
            progress.advance(task)
    all_examples = train_set + calib_set
    meta = {
        "version": (
            f"text-heads-{_data_digest(all_examples)}-{embedder.precision}-t{MAX_TOKENS}"
            f"{depth_suffix(layers)}"
        ),
        "embedding_model": MODEL_NAME,
        "embedding_precision": embedder.precision,
        "embedding_layers": layers,
        "max_tokens": MAX_TOKENS,
        "features": f"embedding(384) + char_wb 2-4 gram hashing ({NGRAM_FEATURES})",
        "heads": report,
        "train_examples": len(train_set),
        "calibration_examples": len(calib_set),
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
        "train_seconds": round(time.time() - started),
    }
    heads = Heads(HEADS, weights, bias, platt_a, platt_b, meta)
    heads.save(out)
    return heads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=HEADS_FILE)
    parser.add_argument(
        "--layers",
        type=int,
        default=LAYERS,
        help=f"transformer layers of the text model to keep (1-{MODEL_LAYERS})",
    )
    args = parser.parse_args(argv)
    heads = train(args.datasets, args.out, args.layers)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB), version {heads.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
