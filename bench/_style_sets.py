"""The blind sets written in the shape of the outside evaluations (`tests/data/policy_eval/`):
comment-style texts labelled in the OpenAI moderation taxonomy, scored as `/v1/moderations`
scores them, and text-to-video prompts, decided as generation prompts for an adult account."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

from safety.policy.engine import CheckContext, Decision, PolicyEngine

EVAL_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "policy_eval"
COMMENTS_FILE = EVAL_DIR / "comments_blind.jsonl"
T2V_FILE = EVAL_DIR / "t2v_blind.jsonl"

# The eight categories of the outside comment-style evaluation; each is scored by the policy
# category of the same name (its `category_scores` entry in /v1/moderations).
COMMENT_CATEGORIES = (
    "sexual",
    "sexual/minors",
    "harassment",
    "hate",
    "hate/threatening",
    "violence",
    "violence/graphic",
    "self-harm",
)

MIN_POSITIVES = 5  # fewer positives (or negatives) in a language: no AUPRC for that cell

CheckMany = Callable[[PolicyEngine, list[str], CheckContext], list[Decision]]


def read_rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    """The JSON objects of a JSON-lines file, blank lines skipped."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _share(items: list, test: Callable[..., bool]) -> float:  # type: ignore[type-arg]
    """The share of items that pass the test; nan for none (printed as nan, never a crash)."""
    return sum(bool(test(x)) for x in items) / len(items) if items else float("nan")


def _positive(labels: list[str], category: str) -> bool:
    """A row counts for a category when its author gave it that label (the author added parents
    where they apply: sexual with sexual/minors, hate with hate/threatening; accident gore is
    violence/graphic without violence)."""
    return category in labels


def comment_eval(engine: PolicyEngine, check_many: CheckMany) -> dict[str, float]:
    """AUPRC per category and language of the policy's category scores, as for captions."""
    if not COMMENTS_FILE.is_file():
        print(f"comment-style blind set: {COMMENTS_FILE.name} missing\n")
        return {}
    rows = read_rows(COMMENTS_FILE)
    decisions = check_many(engine, [r["text"] for r in rows], CheckContext(purpose="caption"))
    print(f"comment-style blind set ({COMMENTS_FILE.name}, {len(rows)} texts, as captions, adult):")
    print(f"{'category':18} " + " ".join(f"{lang:>16}" for lang in ("en", "fr", "all")))
    out: dict[str, float] = {}
    for category in COMMENT_CATEGORIES:
        cells = []
        for lang in ("en", "fr", "all"):
            idx = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
            y = np.array([_positive(rows[i]["labels"], category) for i in idx], dtype=int)
            if y.sum() < MIN_POSITIVES or len(y) - y.sum() < MIN_POSITIVES:
                cells.append(f"{'-':>16}")
                continue
            scores = [decisions[i].categories[category].score for i in idx]
            auprc = float(average_precision_score(y, scores))
            out[f"{lang} {category}"] = auprc
            cells.append(f"{auprc:9.3f} (n={y.sum():3d})")
        print(f"{category:18} " + " ".join(cells))
    means = []
    for lang in ("en", "fr", "all"):
        values = [out[f"{lang} {c}"] for c in COMMENT_CATEGORIES if f"{lang} {c}" in out]
        if values:
            out[f"{lang} mean"] = float(np.mean(values))
            means.append(f"{lang} {out[f'{lang} mean']:.3f} ({len(values)} categories)")
    harmful = [d for r, d in zip(rows, decisions, strict=True) if r["labels"]]
    benign = [d for r, d in zip(rows, decisions, strict=True) if not r["labels"]]
    out["harmful flagged"] = _share(harmful, lambda d: d.action != "allow")
    out["benign flagged"] = _share(benign, lambda d: d.action != "allow")
    print(
        f"mean AUPRC (all: en and fr pooled): {', '.join(means)}; "
        f"flagged: harmful {out['harmful flagged']:.1%}, benign {out['benign flagged']:.1%}\n"
    )
    return out


def t2v_eval(engine: PolicyEngine, check_many: CheckMany) -> dict[str, float]:
    """Share of unsafe text-to-video prompts not allowed, per category, for an adult account."""
    if not T2V_FILE.is_file():
        print(f"text-to-video blind set: {T2V_FILE.name} missing\n")
        return {}
    rows = read_rows(T2V_FILE)
    decisions = check_many(engine, [r["text"] for r in rows], CheckContext())
    print(f"text-to-video blind set ({T2V_FILE.name}, {len(rows)} prompts, generation, adult):")
    stopped: dict[str, list[bool]] = defaultdict(list)
    by_disguise: dict[str, list[bool]] = defaultdict(list)
    for r, d in zip(rows, decisions, strict=True):
        if r["harmful"]:
            stopped[r["category"]].append(d.action != "allow")
            by_disguise[r["disguise"]].append(d.action != "allow")
    out = {f"{c} not allowed": float(np.mean(v)) for c, v in sorted(stopped.items())}
    print(
        "not allowed, by category: "
        + ", ".join(f"{c} {np.mean(v):.0%} (n={len(v)})" for c, v in sorted(stopped.items()))
    )
    print(
        "not allowed, by disguise: "
        + ", ".join(f"{k} {np.mean(v):.0%} (n={len(v)})" for k, v in sorted(by_disguise.items()))
    )
    harmful = [x for v in stopped.values() for x in v]
    benign = [d for r, d in zip(rows, decisions, strict=True) if not r["harmful"]]
    by_lang = {
        lang: [
            d.action != "allow"
            for r, d in zip(rows, decisions, strict=True)
            if r["harmful"] and r["lang"] == lang
        ]
        for lang in ("en", "fr")
    }
    print(
        "not allowed, by language: "
        + ", ".join(f"{k} {_share(v, bool):.0%} (n={len(v)})" for k, v in by_lang.items())
    )
    out["category mean not allowed"] = float(np.mean([np.mean(v) for v in stopped.values()]))
    out["harmful not allowed"] = _share(harmful, bool)
    out["benign blocked"] = _share(benign, lambda d: d.action == "block")
    out["benign reviewed"] = _share(benign, lambda d: d.action == "review")
    print(
        f"harmful not allowed: {out['harmful not allowed']:.1%} of {len(harmful)} "
        f"(mean over categories {out['category mean not allowed']:.1%}); "
        f"benign blocked {out['benign blocked']:.1%}, reviewed {out['benign reviewed']:.1%} "
        f"of {len(benign)}\n"
    )
    return out
