"""The labelled data in `../shared/datasets/` (plus the examples written for this repository in
`safety/policy/data/`), mapped to the classifier's heads, weighted by how far each source's labels
mean what the policy means, and split into train / calibration / test by a hash of each example's
group.

The split is fixed by content, not by a random seed: training, calibration (Platt scaling) and the
quality benchmark always see the same, disjoint rows. Groups keep near duplicates together:
HateCheck cases are grouped by template (the target identity masked), every other row by its
normalised text, so the same sentence in two folders lands in one split.

Source weights (`SOURCE_WEIGHTS`, multiplied into each example's loss) say how much a source's
labels can be trusted for the policy's meaning, so that no single noisy source defines a category:
Davidson's "offensive" is mostly profanity, not harassment of a person (downsampled and weighted
0.25); I2P's categories are collection keywords (rows most raters found inappropriate only, 0.5);
MLMA's tweets were selected by hate keywords and annotated loosely (0.5); the examples written to
the policy's own definitions (synthetic_policy, written_train) count double.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from safety.policy.normalize import clean, fold, squeeze, strip_accents

DATASETS_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets"
# Examples written for this repository (see data/SOURCE.md); a folder like the shared ones.
WRITTEN_DIR = Path(__file__).resolve().parent / "data"

# The classifier's heads. Most map one dataset label; `illicit` is the harmful-but-outside-the-
# taxonomy rows (labels: []); `threatening` is violence aimed at people or groups.
HEADS = (
    "sexual",
    "sexual_minors",
    "harassment",
    "hate",
    "violence",
    "violence_graphic",
    "self_harm",
    "real_person",
    "misinformation",
    "illicit",
    "threatening",
)
LANGUAGES = ("en", "fr")  # Arabic rows (MLMA) are not used: the policy serves en and fr

SPLITS = ("train", "calibration", "test")
# Buckets of a 0..99 hash: 70% train, 10% calibration, 20% test.
_SPLIT_EDGES = ((70, "train"), (80, "calibration"), (100, "test"))

# Downsampling of the very large, skewed sources (see datasets/README.md, "Skew").
_KEEP_PER_10000 = {"davidson_harassment": 1500, "coco_captions": 1000}

# Loss weight per upstream source (see the module docstring).
SOURCE_WEIGHTS = {
    "davidson": 0.25,
    "i2p": 0.5,
    "mlma_en": 0.5,
    "mlma_fr": 0.5,
    "hatecheck_en": 0.7,
    "mhc_fr": 0.7,
    "synthetic_policy": 2.0,
    "written_train": 2.0,
    "truthfulqa": 1.5,
}


@dataclass(frozen=True)
class Example:
    text: str
    lang: str
    source: str
    heads: frozenset[str]  # empty = benign
    split: str
    folder: str = ""  # the dataset folder (leave-one-source-out holds whole folders out)
    weight: float = 1.0


def _bucket(key: str, salt: str = "split") -> int:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000


def _split_of(group: str) -> str:
    bucket = _bucket(group) % 100
    return next(name for edge, name in _SPLIT_EDGES if bucket < edge)


def _group(row: dict) -> str:
    text = row["text"]
    if row.get("source", "").startswith(("hatecheck", "mhc")):
        target = (row.get("source_label") or {}).get("target_ident") or ""
        if target:
            text = text.replace(target, "<t>")
    return squeeze(fold(clean(text)))


def _heads(labels: list[str]) -> frozenset[str] | None:
    """Head targets for a row's labels; None drops the row."""
    if labels == ["benign"]:
        return frozenset()
    if not labels:
        return frozenset({"illicit"})
    heads = set(labels) & set(HEADS)
    if "violence_graphic" in heads:
        heads.add("violence")
    if "sexual_minors" in heads:
        heads.add("sexual")
    if "violence" in heads and heads & {"harassment", "hate"}:
        heads.add("threatening")
    return frozenset(heads)


def _keep(row: dict, labels: list[str]) -> bool:
    source = row.get("source", "")
    if row.get("lang", "en") not in LANGUAGES:
        return False
    if source == "i2p":
        # I2P categories are collection keywords; keep the rows most raters found inappropriate.
        return (row.get("source_label") or {}).get("inappropriate_percentage", 0) >= 50
    if source == "davidson" and labels == ["harassment"]:
        return _bucket(row["text"], "keep") < _KEEP_PER_10000["davidson_harassment"]
    if source == "coco_captions":
        return _bucket(row["text"], "keep") < _KEEP_PER_10000["coco_captions"]
    return True


def _folders(datasets_dir: Path) -> list[Path]:
    return [*sorted(datasets_dir.glob("*/data.jsonl")), *sorted(WRITTEN_DIR.glob("*.jsonl"))]


def iter_examples(datasets_dir: Path = DATASETS_DIR) -> Iterator[Example]:
    if not datasets_dir.is_dir():
        raise FileNotFoundError(f"datasets not found at {datasets_dir}")
    seen: dict[tuple[str, str], Example] = {}
    for path in _folders(datasets_dir):
        folder = path.parent.name if path.name == "data.jsonl" else path.stem
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                labels = row.get("labels", [])
                heads = _heads(labels)
                if heads is None or not _keep(row, labels):
                    continue
                text = row["text"].strip()
                key = (row.get("lang", "en"), text)
                previous = seen.get(key)
                if previous is not None:
                    # The same text in two folders: one example, labels unioned.
                    seen[key] = Example(
                        text,
                        previous.lang,
                        previous.source,
                        previous.heads | heads,
                        previous.split,
                        previous.folder,
                        previous.weight,
                    )
                    continue
                source = row.get("source", folder)
                seen[key] = Example(
                    text=text,
                    lang=row.get("lang", "en"),
                    source=source,
                    heads=heads,
                    split=_split_of(_group(row)),
                    folder=folder,
                    weight=SOURCE_WEIGHTS.get(source, 1.0),
                )
    yield from seen.values()


def with_unaccented_copies(examples: list[Example], weight: float) -> list[Example]:
    """The examples and, for each French one written with accents, a copy without them at
    `weight` times its weight: French typed on a phone or in a hurry often has none, and the
    English word pieces of the fine-tuned model read "tete" and "tête" differently. A copy
    folds to the same group as its original, so it stays in the original's split."""
    copies = []
    for example in examples:
        plain = strip_accents(example.text) if example.lang == "fr" else example.text
        if plain != example.text:
            copies.append(replace(example, text=plain, weight=example.weight * weight))
    return examples + copies


def load_split(split: str, datasets_dir: Path = DATASETS_DIR) -> list[Example]:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    return [e for e in iter_examples(datasets_dir) if e.split == split]
