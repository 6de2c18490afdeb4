"""Per-category precision, recall and AUPRC of the prompt policy on the held-out test split of
`../shared/datasets/` (never seen by training or calibration), English and French separately.

    python bench/moderation_quality.py [--quick]

`system` columns are the full decision (rules + calibrated classifier + pack thresholds, adult
account): a category counts as flagged when its action is review or block. Prompt-like sources
(I2P, the LLM safety suites, Parti, VBench, COCO captions) are checked as generation prompts;
social posts (Davidson, MLMA, HateCheck) as comments. `model AUPRC` ranks by the classifier
heads alone, without rules.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.metrics import average_precision_score

from bench._machine import describe
from safety.policy.engine import CheckContext, get_engine
from safety.policy.normalize import clean
from safety.policy.training_data import load_split

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
    "misinformation": ["misinformation/elections"],
    "illicit": ["illicit", "illicit/violent"],
}
SOCIAL_SOURCES = {"davidson", "mlma_en", "mlma_fr", "mlma_ar", "hatecheck_en", "mhc_fr"}
HEAD_OF = {
    "sexual": "sexual",
    "sexual_minors": "sexual_minors",
    "harassment": "harassment",
    "hate": "hate",
    "violence": "violence",
    "violence_graphic": "violence_graphic",
    "self_harm": "self_harm",
    "real_person": "real_person",
    "misinformation": "misinformation",
    "illicit": "illicit",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1,500-row sample, under a minute")
    args = parser.parse_args()
    examples = [e for e in load_split("test") if e.lang in ("en", "fr")]
    if args.quick:
        examples = examples[:: max(1, len(examples) // 1500)]
    engine = get_engine()
    started = time.time()
    decisions, heads = [], []
    batch = 64
    prompt = CheckContext(age_group="adult", purpose="generation")
    comment = CheckContext(age_group="adult", purpose="comment")
    order = sorted(range(len(examples)), key=lambda i: examples[i].source in SOCIAL_SOURCES)
    examples = [examples[i] for i in order]
    for start in range(0, len(examples), batch):
        chunk = examples[start : start + batch]
        for social in (False, True):
            part = [e for e in chunk if (e.source in SOCIAL_SOURCES) == social]
            if part:
                context = comment if social else prompt
                decisions.extend(engine.check_many([e.text for e in part], context))
        heads.extend(engine.classifier.predict([clean(e.text) for e in chunk]))
    elapsed = time.time() - started
    print(f"machine: {describe()}")
    print(f"pack {engine.pack.ref}, model {engine.classifier.version}")
    print(f"test split: {len(examples)} rows (en+fr), scored in {elapsed:.0f}s")
    print()
    print(
        f"{'lang':4} {'label':17} {'pos':>5} {'neg':>6} {'precision':>9} {'recall':>7} "
        f"{'system AUPRC':>12} {'model AUPRC':>11}"
    )
    summary: dict[str, list[float]] = defaultdict(list)
    for lang in ("en", "fr"):
        rows = [i for i, e in enumerate(examples) if e.lang == lang]
        for label, categories in LABEL_CATEGORIES.items():
            y = np.array([label in examples[i].heads for i in rows], dtype=int)
            positives = int(y.sum())
            if positives == 0:
                continue
            flagged = np.array(
                [
                    any(decisions[i].categories[c].action != "allow" for c in categories)
                    for i in rows
                ]
            )
            system_score = np.array(
                [max(decisions[i].categories[c].score for c in categories) for i in rows]
            )
            model_score = np.array([heads[i][HEAD_OF[label]] for i in rows])
            tp = int((flagged & (y == 1)).sum())
            precision = tp / max(1, int(flagged.sum()))
            recall = tp / positives
            system_ap = average_precision_score(y, system_score)
            model_ap = average_precision_score(y, model_score)
            summary[lang].append(system_ap)
            print(
                f"{lang:4} {label:17} {positives:5d} {len(y) - positives:6d} {precision:9.3f} "
                f"{recall:7.3f} {system_ap:12.3f} {model_ap:11.3f}"
            )
    print()
    rates = {}
    for name, social in (("generation prompts", False), ("social posts", True)):
        benign = [
            i
            for i, e in enumerate(examples)
            if not e.heads and (e.source in SOCIAL_SOURCES) == social
        ]
        false_flags = sum(decisions[i].action != "allow" for i in benign)
        rates[name] = false_flags / max(1, len(benign))
        print(
            f"benign {name} flagged (review or block): {false_flags}/{len(benign)} "
            f"({rates[name]:.1%})"
        )
    means = {lang: float(np.mean(v)) for lang, v in summary.items()}
    print(
        "headline: mean system AUPRC "
        + ", ".join(f"{lang} {value:.3f}" for lang, value in means.items())
        + f"; benign prompts flagged {rates['generation prompts']:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
