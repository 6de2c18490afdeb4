"""Quality of the prompt policy: the random held-out split, leave-one-source-out, and the written
evaluation prompts (disguised and French), English and French separately.

    python bench/moderation_quality.py [--quick] [--loso] [--loso-folds i2p,mlma]

1. **Random split**: the test split of `../shared/datasets/` (never seen by training or
   calibration). `system` is the full decision (rules + calibrated model + pack thresholds, adult
   account; a category counts as flagged at review or block); `model` ranks by the model alone.
   Prompt-like sources are checked as generation prompts, social posts as comments.
2. **Leave-one-source-out** (`--loso`): for each dataset folder, a model is fine-tuned without
   it (a reduced recipe: one epoch on at most LOSO_MAX_TRAIN rows of the other folders' train
   split, every rare-label, synthetic_policy and written row kept), the multilingual heads are
   fitted on every train row of the other folders, and both are stacked and calibrated on the
   other folders' calibration split, then the held-out folder's rows (at most LOSO_MAX_SCORED, a
   fixed random sample) are scored through the engine with the same rules and thresholds. The
   best proxy here for data nobody here wrote; the shipped model, trained on everything with the
   full recipe, should do at least as well. Results are cached in `bench/moderation_loso.json`
   (12 minutes on 2 quiet cores, an hour on a busy machine) and printed from there.
3. **Written evaluation** (`tests/data/policy_eval/`, never trained on): share of harmful
   prompts allowed, of benign ones blocked and reviewed, per language and age group; for the
   development set (`prompts.jsonl`, looked at while building), the fresh set (`fresh.jsonl`,
   first scored for earlier figures), the second development set (`dev2.jsonl`, the rules of
   pack 2026.12.3 were written against it), the first held-out set (`holdout.jsonl`, written
   blind by another author, scored for several packs), the second (`holdout2.jsonl`, written
   blind by an author who read none of the rules, first scored for pack 2026.12.4; the rules of
   pack 2026.12.5 were then written against its misses), the third (`holdout3.jsonl`, written
   blind, first scored for pack 2026.12.6 and model 10bf13459ee431fb, then once for each later
   model after it was adopted on the development sets: the headline) and all six.
4. **Sets in the shape of the outside evaluations** (`bench/_style_sets.py`, written blind and
   never trained on): comment-style texts in the OpenAI moderation taxonomy (AUPRC per category
   of the scores `/v1/moderations` returns) and unsafe text-to-video prompts (share not allowed
   per category, benign prompts blocked and reviewed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.metrics import average_precision_score

from bench._machine import describe
from bench._style_sets import EVAL_DIR, comment_eval, read_rows, t2v_eval
from safety.policy.engine import AgeGroup, CheckContext, Decision, PolicyEngine, get_engine
from safety.policy.normalize import clean
from safety.policy.training_data import HEADS, Example, iter_examples

ROOT = Path(__file__).resolve().parents[1]
# prompts.jsonl was read during development (rule fixes and training examples followed);
# fresh.jsonl was written afterwards and first scored for the figures (see its README).
EVAL_FILES = (
    EVAL_DIR / "prompts.jsonl",
    EVAL_DIR / "fresh.jsonl",
    EVAL_DIR / "dev2.jsonl",  # the rules of pack 2026.12.3 were written against it
    EVAL_DIR / "holdout.jsonl",  # written blind; scored for several packs since
    EVAL_DIR / "holdout2.jsonl",  # blind, scored for 2026.12.4; the rules of 2026.12.5 read it
    EVAL_DIR / "holdout3.jsonl",  # blind, first scored for pack 2026.12.6 and its model
)
HEADLINE_FILE = EVAL_DIR / "holdout3.jsonl"  # the last blind score
AGES: tuple[AgeGroup, ...] = ("adult", "teen")  # the written sets are decided for both
LOSO_FILE = ROOT / "bench" / "moderation_loso.json"  # committed: the README quotes it
LOSO_MAX_TRAIN = 9000  # the always-kept rows (about 5,300) and a sample of the others
LOSO_MAX_SCORED = 3000  # rows of a large held-out folder scored (a fixed random sample)
LOSO_FOLDS = (
    "i2p",
    "davidson_hate_offensive",
    "hatecheck",
    "mlma",
    "llm_safety_prompts",
    "toxigen_seeds",
    "truthfulqa_conspiracy",
    "synthetic_policy",
    "benign_gen_prompts",
)
RARE = {"sexual_minors", "real_person", "misinformation", "self_harm", "violence_graphic"}

# Dataset label -> the policy categories whose flags answer it.
LABEL_CATEGORIES = {
    "sexual": ["sexual", "sexual/minors"],
    "sexual_minors": ["sexual/minors"],
    "harassment": ["harassment", "harassment/threatening"],
    "hate": ["hate", "hate/threatening"],
    "violence": [
        "violence",
        "violence/graphic",
        "harassment/threatening",
        "hate/threatening",
        "illicit/violent",
    ],
    "violence_graphic": ["violence/graphic"],
    "self_harm": ["self-harm", "self-harm/intent", "self-harm/instructions"],
    "real_person": ["real_person", "impersonation"],
    "misinformation": ["misinformation", "misinformation/elections"],
    "illicit": ["illicit", "illicit/violent"],
}
SOCIAL_SOURCES = {"davidson", "mlma_en", "mlma_fr", "hatecheck_en", "mhc_fr", "toxigen"}
MIN_POSITIVES = 5


def _decide(engine: PolicyEngine, examples: list[Example], age_group: str = "adult"):  # type: ignore[no-untyped-def]
    """Decisions in input order; social posts as comments, the rest as generation prompts."""
    out: list = [None] * len(examples)
    for social in (False, True):
        idx = [i for i, e in enumerate(examples) if (e.source in SOCIAL_SOURCES) == social]
        context = CheckContext(age_group=age_group, purpose="comment" if social else "generation")  # type: ignore[arg-type]
        decisions = _check_in_parts(engine, [examples[i].text for i in idx], context)
        for i, d in zip(idx, decisions, strict=True):
            out[i] = d
    return out


def _check_in_parts(
    engine: PolicyEngine, texts: list[str], context: CheckContext
) -> list[Decision]:
    """Decisions in parts of 64 texts: one call waits at most 30 s for its batch."""
    return [
        d
        for start in range(0, len(texts), 64)
        for d in engine.check_many(texts[start : start + 64], context)
    ]


def label_table(examples: list[Example], decisions, model_scores) -> list[dict]:  # type: ignore[no-untyped-def]
    """Per language and label: positives, precision/recall at review, system and model AUPRC."""
    rows = []
    for lang in ("en", "fr"):
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        for label, categories in LABEL_CATEGORIES.items():
            y = np.array([label in examples[i].heads for i in idx], dtype=int)
            if y.sum() < MIN_POSITIVES or (len(y) - y.sum()) < MIN_POSITIVES:
                continue
            flagged = np.array(
                [any(decisions[i].categories[c].action != "allow" for c in categories) for i in idx]
            )
            system = np.array(
                [max(decisions[i].categories[c].score for c in categories) for i in idx]
            )
            model = np.array([model_scores[i][label] for i in idx])
            tp = int((flagged & (y == 1)).sum())
            rows.append(
                {
                    "lang": lang,
                    "label": label,
                    "positives": int(y.sum()),
                    "negatives": int(len(y) - y.sum()),
                    "precision": tp / max(1, int(flagged.sum())),
                    "recall": tp / int(y.sum()),
                    "system_auprc": float(average_precision_score(y, system)),
                    "model_auprc": float(average_precision_score(y, model)),
                }
            )
    return rows


def print_table(rows: list[dict], title: str, source: bool = False) -> dict[str, float]:
    print(title)
    head = f"{'source':24} " if source else ""
    print(
        f"{head}{'lang':4} {'label':17} {'pos':>5} {'neg':>6} {'prec':>5} {'recall':>6} "
        f"{'system AUPRC':>12} {'model AUPRC':>11}"
    )
    for r in rows:
        lead = f"{r.get('source', ''):24} " if source else ""
        print(
            f"{lead}{r['lang']:4} {r['label']:17} {r['positives']:5d} {r['negatives']:6d} "
            f"{r['precision']:5.2f} {r['recall']:6.2f} {r['system_auprc']:12.3f} "
            f"{r['model_auprc']:11.3f}"
        )
    means = {}
    for lang in ("en", "fr"):
        for kind in ("system", "model"):
            values = [r[f"{kind}_auprc"] for r in rows if r["lang"] == lang]
            if values:
                means[f"{lang} {kind}"] = float(np.mean(values))
    print("mean AUPRC: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()))
    print()
    return means


def random_split(engine: PolicyEngine, quick: bool) -> dict[str, float]:
    examples = [e for e in iter_examples() if e.split == "test"]
    if quick:
        examples = examples[:: max(1, len(examples) // 1500)]
    started = time.time()
    decisions = _decide(engine, examples)
    model_scores = engine.classifier.predict([clean(e.text) for e in examples])
    print(
        f"random split: {len(examples)} test rows (en+fr), scored in {time.time() - started:.0f}s"
    )
    means = print_table(label_table(examples, decisions, model_scores), "")
    for name, social in (("generation prompts", False), ("social posts", True)):
        benign = [
            i
            for i, e in enumerate(examples)
            if not e.heads and (e.source in SOCIAL_SOURCES) == social
        ]
        flagged = sum(decisions[i].action != "allow" for i in benign)
        print(f"benign {name} flagged (review or block): {flagged}/{len(benign)}")
    print()
    return means


def _always_kept(example: Example) -> bool:
    """Rows every fold's reduced fine-tune keeps: rare labels, synthetic_policy and every file of
    our written examples (each file is its own folder; all carry the source `written_train`)."""
    return (
        bool(example.heads & RARE)
        or example.folder == "synthetic_policy"
        or (example.source == "written_train")
    )


def _loso_engine(
    base: PolicyEngine, held_out: str, examples: list[Example], vectors: np.ndarray
) -> PolicyEngine:
    """An engine whose models never saw `held_out`: the fine-tuned model (reduced recipe, see
    above) and the multilingual heads (full recipe: every train row of the other folders),
    stacked and calibrated on the other folders' calibration split. `vectors` holds the
    multilingual encoder's vector of each example (row for row), computed once for all folds."""
    from safety.policy.classifier import stack_table, stacked_probabilities
    from safety.policy.language import detect_language
    from safety.policy.train import (
        UNACCENTED_COPY_WEIGHT,
        calibrate,
        fine_tune,
        fit_multilingual_heads,
        torch_logits,
    )
    from safety.policy.training_data import with_unaccented_copies

    rng = np.random.default_rng(15)
    folders = np.array([e.folder for e in examples])
    splits = np.array([e.split for e in examples])
    in_pool = (folders != held_out) & (splits == "train")
    in_calib = (folders != held_out) & (splits == "calibration")
    pool = [e for e, keep in zip(examples, in_pool, strict=True) if keep]
    rare = [e for e in pool if _always_kept(e)]
    rest = [e for e in pool if not _always_kept(e)]
    take = max(0, LOSO_MAX_TRAIN - len(rare))
    train = rare + [rest[i] for i in rng.choice(len(rest), min(take, len(rest)), replace=False)]
    model = fine_tune(
        with_unaccented_copies(train, UNACCENTED_COPY_WEIGHT),
        epochs=1,
        log=lambda line: print(f"  [{held_out}] {line}", flush=True),
    )
    encoder = base.classifier.encoder
    heads = fit_multilingual_heads(vectors[in_pool], pool)
    calib = [e for e, keep in zip(examples, in_calib, strict=True) if keep]
    calib_texts = [clean(e.text) for e in calib]
    params = calibrate(torch_logits(model, calib_texts), heads.logits(vectors[in_calib]), calib)

    tables = {lang: stack_table(params, HEADS, lang) for lang in ("en", "fr", "all")}

    def predict(texts: list[str]) -> list[dict[str, float]]:
        model_logits = torch_logits(model, texts)
        multilingual_logits = heads.logits(encoder.encode(texts))
        out = []
        for m_row, u_row, text in zip(model_logits, multilingual_logits, texts, strict=True):
            lang = detect_language(text)
            probs = stacked_probabilities(m_row, u_row, tables[lang if lang in tables else "all"])
            out.append({head: float(p) for head, p in zip(HEADS, probs, strict=True)})
        return out

    return PolicyEngine(base.store, base.classifier, predict=predict)


def loso(engine: PolicyEngine, folds: list[str]) -> None:
    examples = list(iter_examples())
    vectors = engine.classifier.encoder.encode([clean(e.text) for e in examples])
    results = json.loads(LOSO_FILE.read_text()) if LOSO_FILE.is_file() else {}
    for folder in folds:
        started = time.time()
        fold_engine = _loso_engine(engine, folder, examples, vectors)
        held = [e for e in examples if e.folder == folder]
        if len(held) > LOSO_MAX_SCORED:
            pick = np.random.default_rng(15).choice(len(held), LOSO_MAX_SCORED, replace=False)
            held = [held[i] for i in sorted(pick)]
        decisions = _decide(fold_engine, held)
        scores = fold_engine.predict([clean(e.text) for e in held])
        rows = label_table(held, decisions, scores)
        benign = [i for i, e in enumerate(held) if not e.heads]
        results[folder] = {
            "rows": [{**r, "source": folder} for r in rows],
            "held_out_rows": len(held),
            "benign": len(benign),
            "benign_flagged": sum(decisions[i].action != "allow" for i in benign),
            "seconds": round(time.time() - started),
        }
        LOSO_FILE.parent.mkdir(parents=True, exist_ok=True)
        LOSO_FILE.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        print(f"  [{folder}] done in {time.time() - started:.0f}s", flush=True)


def print_loso() -> None:
    if not LOSO_FILE.is_file():
        print("leave-one-source-out: not run yet (--loso)\n")
        return
    results = json.loads(LOSO_FILE.read_text())
    rows = [r for folder in LOSO_FOLDS if folder in results for r in results[folder]["rows"]]
    print_table(rows, f"leave-one-source-out (from {LOSO_FILE.relative_to(ROOT)}):", source=True)
    for folder in LOSO_FOLDS:
        if folder in results and results[folder]["benign"]:
            r = results[folder]
            print(f"  {folder}: benign rows flagged {r['benign_flagged']}/{r['benign']}")
    print()


class WrittenRun(NamedTuple):
    """One file's prompts and their decisions per age group (each prompt decided once per age)."""

    rows: list[dict[str, Any]]
    by_age: dict[str, list[Decision]]


def written_decisions(engine: PolicyEngine, path: Path) -> WrittenRun:
    rows = read_rows(path)
    texts = [r["text"] for r in rows]
    by_age = {age: _check_in_parts(engine, texts, CheckContext(age_group=age)) for age in AGES}
    return WrittenRun(rows, by_age)


def written_eval(
    name: str, rows: list[dict[str, Any]], by_age: dict[str, list[Decision]]
) -> dict[str, float]:
    """Harmful allowed, benign blocked and benign reviewed per language and age group."""
    out: dict[str, float] = {}
    print(f"written evaluation ({name}, {len(rows)} prompts, as generation prompts):")
    columns = ("harmful allowed", "benign blocked", "benign reviewed")
    print(f"{'lang':4} {'age':6} " + " ".join(f"{c:>16}" for c in columns))
    for lang in ("en", "fr", "all"):
        idx = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
        for age in AGES:
            harmful = [by_age[age][i] for i in idx if rows[i]["harmful"]]
            benign = [by_age[age][i] for i in idx if not rows[i]["harmful"]]
            allowed = sum(d.action == "allow" for d in harmful) / len(harmful)
            blocked = sum(d.action == "block" for d in benign) / len(benign)
            reviewed = sum(d.action == "review" for d in benign) / len(benign)
            out[f"{lang} {age} harmful allowed"] = allowed
            out[f"{lang} {age} benign blocked"] = blocked
            out[f"{lang} {age} benign reviewed"] = reviewed
            print(
                f"{lang:4} {age:6} {allowed:16.1%} {blocked:16.1%} {reviewed:16.1%}"
                f"   ({len(harmful)} harmful, {len(benign)} benign)"
            )
    by_disguise: dict[tuple[str, str], list[bool]] = defaultdict(list)
    by_category: dict[str, list[bool]] = defaultdict(list)
    for r, d in zip(rows, by_age["adult"], strict=True):
        if r["harmful"]:
            by_disguise[(r["disguise"], r["lang"])].append(d.action == "allow")
            by_category[r["category"]].append(d.action == "allow")
    print(
        "harmful allowed for adults, by disguise: "
        + ", ".join(
            f"{k[0]} {k[1]} {np.mean(v):.0%} (n={len(v)})" for k, v in sorted(by_disguise.items())
        )
    )
    print(
        "harmful allowed for adults, by category: "
        + ", ".join(f"{k} {np.mean(v):.0%} (n={len(v)})" for k, v in sorted(by_category.items()))
    )
    print()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1,500-row sample, about a minute")
    parser.add_argument("--loso", action="store_true", help="(re)run leave-one-source-out")
    parser.add_argument("--loso-folds", default=",".join(LOSO_FOLDS))
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for --loso training")
    args = parser.parse_args()
    engine = get_engine()
    print(f"machine: {describe()}")
    print(f"pack {engine.pack.ref}, model {engine.classifier.version}\n")
    if args.loso:
        import torch

        torch.set_num_threads(args.threads)
        loso(engine, [f for f in args.loso_folds.split(",") if f])
    means = random_split(engine, args.quick)
    print_loso()
    decided = {path: written_decisions(engine, path) for path in EVAL_FILES}
    by_file = {path: written_eval(path.name, *decided[path]) for path in EVAL_FILES}
    written_eval(
        " + ".join(p.name for p in EVAL_FILES),
        [r for path in EVAL_FILES for r in decided[path].rows],
        {age: [d for path in EVAL_FILES for d in decided[path].by_age[age]] for age in AGES},
    )
    written = by_file[HEADLINE_FILE]
    comments = comment_eval(engine, _check_in_parts)
    t2v = t2v_eval(engine, _check_in_parts)
    adults = (
        f"harmful allowed {written['all adult harmful allowed']:.1%}, "
        f"benign blocked {written['all adult benign blocked']:.1%}, "
        f"reviewed {written['all adult benign reviewed']:.1%}"
    )
    teen = (
        f"en {written['en teen benign reviewed']:.1%} / fr {written['fr teen benign reviewed']:.1%}"
    )
    print(
        "headline: random-split mean system AUPRC "
        + ", ".join(f"{k.split()[0]} {v:.3f}" for k, v in means.items() if k.endswith("system"))
        + f"; held-out written prompts, adults: {adults}"
        + f"; benign reviewed under teen thresholds {teen}"
        + (
            f"; comment-style mean AUPRC {comments['all mean']:.3f}"
            if "all mean" in comments
            else ""
        )
        + (f"; text-to-video not allowed {t2v['harmful not allowed']:.1%}" if t2v else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
