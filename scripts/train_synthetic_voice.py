"""Trains the synthetic-voice classifier (safety/models/synthetic_voice_model.json).

    python scripts/build_identity_set.py            # the corpus, once
    python scripts/train_synthetic_voice.py [--cache DIR]

Recipe: the dev split of the identity corpus only. Real speech: the KDE KTuberling volunteers and
the LibriVox reader; synthetic: espeak-ng and Festival voices (sentences, and words joined with
gaps like the real utterances); every clip under each channel (clean, phone AMR-NB, Opus 16k,
noisy MP3). Features: safety.models.synthetic_voice.voice_features, chosen by their
leave-one-engine-out AUC on the dev split (train on one engine and half the real speakers, test
on the other engine and the other half; also stored in the JSON). Model: standardisation +
L2 logistic regression with balanced classes, C chosen by 5-fold cross-validation grouped by
speaker/voice (no speaker in both folds). The held-out test split (KLettres speakers, Flite
voices: an engine never seen in training) gives the figures stored in the JSON beside the digest
of the training files (sha256 over their paths and contents).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._identity_metrics import auc
from bench.identity_quality import DEFAULT_CACHE, read_audio
from safety.models.synthetic_voice import MODEL_PATH, voice_features


def dataset(
    folder: Path, items: list[dict]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    rows, labels, groups, engines = [], [], [], []
    digest = hashlib.sha256()
    for it in sorted(items, key=lambda it: it["path"]):
        raw = (folder / it["path"]).read_bytes()
        digest.update(it["path"].encode() + hashlib.sha256(raw).digest())
        try:
            rows.append(voice_features(read_audio(folder / it["path"])))
        except ValueError:
            continue
        labels.append(1 if it["kind"] == "tts" else 0)
        groups.append(it["identity"])
        engines.append(it["engine"])
    return np.array(rows), np.array(labels), np.array(groups), np.array(engines), digest.hexdigest()


def leave_one_engine_out(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, engines: np.ndarray, c: float
) -> dict[str, float]:
    """AUC on each synthetic engine when trained on the other one (and on half the real
    speakers, tested on the other half): does the model know synthetic speech, or the engines?"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    speakers = sorted(set(groups[y == 0]))
    half = np.isin(groups, speakers[::2])
    out = {}
    for held in sorted(set(engines[y == 1])):
        train = ((y == 0) & half) | ((y == 1) & (engines != held))
        test = ((y == 0) & ~half) | (engines == held)
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        model.fit(scaler.transform(x[train]), y[train])
        p = model.predict_proba(scaler.transform(x[test]))[:, 1]
        out[held] = round(auc(p[y[test] == 1], p[y[test] == 0]), 4)
    return out


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()
    folder = args.cache / "full"
    manifest = json.loads((folder / "manifest.json").read_text())
    voices = [it for it in manifest["items"] if it["modality"] == "voice"]
    x, y, groups, engines, digest = dataset(folder, [it for it in voices if it["split"] == "dev"])
    xt, yt, _, _, test_digest = dataset(folder, [it for it in voices if it["split"] == "test"])
    scaler = StandardScaler().fit(x)
    xs, xts = scaler.transform(x), scaler.transform(xt)
    best = None
    for c in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0):
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        p = cross_val_predict(
            model, xs, y, groups=groups, cv=GroupKFold(5), method="predict_proba"
        )[:, 1]
        score = auc(p[y == 1], p[y == 0])
        print(f"C={c}: grouped-CV AUC {score:.4f}")
        if best is None or score > best[0]:
            best = (score, c)
    assert best is not None
    loeo = leave_one_engine_out(x, y, groups, engines, best[1])
    print(f"leave-one-engine-out AUC on dev: {loeo}")
    model = LogisticRegression(C=best[1], class_weight="balanced", max_iter=5000).fit(xs, y)
    pt = model.predict_proba(xts)[:, 1]
    test = {
        "auc": round(auc(pt[yt == 1], pt[yt == 0]), 4),
        "synthetic_flagged_at_0.5": round(float(np.mean(pt[yt == 1] >= 0.5)), 4),
        "real_flagged_at_0.5": round(float(np.mean(pt[yt == 0] >= 0.5)), 4),
        "synthetic": int(yt.sum()),
        "real": int((yt == 0).sum()),
    }
    print(f"chosen C={best[1]}; test: {test}")
    engines = sorted({it["engine"] for it in voices if it["split"] == "dev" and it["engine"]})
    out = {
        "model": "standardised features + logistic regression (sklearn), balanced classes",
        "features": int(x.shape[1]),
        "mean": scaler.mean_.round(6).tolist(),
        "scale": scaler.scale_.round(6).tolist(),
        "coef": model.coef_[0].round(6).tolist(),
        "intercept": round(float(model.intercept_[0]), 6),
        "training": {
            "summary": f"{int((y == 0).sum())} real clips of {len(set(groups[y == 0]))} speakers "
            f"vs {int(y.sum())} synthetic clips of {len(set(groups[y == 1]))} voices "
            f"({', '.join(engines)})",
            "data_sha256": digest,
            "C": best[1],
            "grouped_cv_auc": round(best[0], 4),
            "leave_one_engine_out_auc": loeo,
            "date": date.today().isoformat(),
        },
        "test": {
            **test,
            "data_sha256": test_digest,
            "what": "KLettres speakers vs Flite voices, all channels",
        },
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
