"""Face and voice matching quality on the corpus scripts/build_identity_set.py rebuilds offline.

    python bench/identity_quality.py [--quick] [--cache DIR]

For each modality and backend: balanced accuracy at the backend's service threshold
(`match_threshold`, chosen on the dev split), EER, FNMR at FMR 1% and 0.1%, on the dev split and
on the held-out test split (other sources and speakers). Voices also with a 3-utterance
enrollment template and with cohort s-norm on top; the clone set (every installable TTS engine's
voices: does the matcher keep synthetic voices apart and recognise each one again?); the
synthetic-voice classifier on its held-out engine; the face quality gate; and the cost per photo
and per second of audio. The headline is the last line. `--quick` uses the small corpus (built on
first use, about a minute) and finishes in about a minute once built.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._identity_metrics import Rates, auc, rates
from bench._machine import describe
from safety.media import load_media
from safety.models.scoring import face_quality_issue, template

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path(
    os.environ.get("CAMEOGUARD_IDENTITY_CACHE", Path.home() / ".cache" / "cameoguard" / "identity")
)
TEMPLATE_SIZE = 3
HEADER = (
    f"{'modality':8s} {'backend':24s} {'split':5s} {'mode':16s} {'genuine':>8s} {'impostor':>9s} "
    f"{'thr':>6s} {'acc@thr':>8s} {'FNMR':>6s} {'FMR':>7s} {'EER':>6s} {'thrEER':>6s} "
    f"{'FNMR@1%':>8s} {'FNMR@.1%':>8s}"
)


def row(modality: str, backend: str, split: str, mode: str, r: Rates) -> str:
    return (
        f"{modality:8s} {backend:24s} {split:5s} {mode:16s} {r.genuine:8d} {r.impostor:9d} "
        f"{r.threshold:6.3f} {r.accuracy:8.4f} {r.fnmr:6.4f} {r.fmr:7.5f} {r.eer:6.4f} "
        f"{r.eer_threshold:6.3f} "
        f"{r.fnmr_at_fmr_1:8.4f} {r.fnmr_at_fmr_01:8.4f}"
    )


def load_manifest(cache: Path, quick: bool) -> tuple[Path, dict]:
    folder = cache / ("quick" if quick else "full")
    if not (folder / "manifest.json").exists():
        cmd = [
            sys.executable,
            str(ROOT / "scripts" / "build_identity_set.py"),
            "--cache",
            str(cache),
        ]
        subprocess.run([*cmd, "--quick"] if quick else cmd, check=True)
    return folder, json.loads((folder / "manifest.json").read_text())


def read_audio(path: Path) -> np.ndarray:
    import wave

    with wave.open(str(path), "rb") as fh:
        return np.frombuffer(fh.readframes(fh.getnframes()), dtype="<i2").astype(np.float32) / 32767


# --- embeddings (cached per model name) ----------------------------------------------------------


def embed_all(folder: Path, items: list[dict], name: str, dim: int, embed) -> np.ndarray:
    """One row per item (zeros where the model found no face / too little speech)."""
    path = folder / f"embeddings-{name.replace(':', '_').replace('/', '_')}.npz"
    keys = [item["path"] for item in items]
    if path.exists():
        saved = np.load(path, allow_pickle=False)
        if list(saved["keys"]) == keys:
            return saved["vectors"]
    vectors = np.zeros((len(items), dim), np.float32)
    for i, item in enumerate(items):
        vector = embed(folder / item["path"])
        if vector is not None:
            vectors[i] = vector
    np.savez(path, keys=np.array(keys), vectors=vectors)
    return vectors


def largest_face(backend, rgb: np.ndarray):
    faces = backend.faces(rgb)
    return max(faces, key=lambda f: f.size) if faces else None


# --- pairs ---------------------------------------------------------------------------------------


def pair_scores(items: list[dict], vectors: np.ndarray, enroll_mask, probe_mask):
    """Genuine and impostor cosine scores: enrollment items (single samples) against probes of
    another recording or photo (`group`). A probe without an embedding scores -1 (a miss)."""
    enroll = [i for i, it in enumerate(items) if enroll_mask(it)]
    probe = [i for i, it in enumerate(items) if probe_mask(it)]
    if not enroll or not probe:
        return np.zeros(0), np.zeros(0)
    scores = vectors[enroll] @ vectors[probe].T
    missing = ~vectors[probe].any(axis=1)
    scores[:, missing] = -1.0
    scores[~vectors[enroll].any(axis=1)] = -1.0
    ids_e = np.array([items[i]["identity"] for i in enroll])
    ids_p = np.array([items[i]["identity"] for i in probe])
    grp_e = np.array([items[i]["identity"] + items[i]["group"] for i in enroll])
    grp_p = np.array([items[i]["identity"] + items[i]["group"] for i in probe])
    same = ids_e[:, None] == ids_p[None]
    other_recording = grp_e[:, None] != grp_p[None]
    return scores[same & other_recording], scores[~same]


def snorm_block(raw, enroll_vecs, enroll_ids, probe_vecs, probe_ids, cohort, cohort_ids, k=100):
    """Adaptive s-norm of `raw` (n_enroll x n_probe) with the cohort members of the two
    identities in each pair left out (so a dev cohort can serve dev pairs)."""
    se, sp = enroll_vecs @ cohort.T, probe_vecs @ cohort.T
    out = np.empty_like(raw)
    for a in np.unique(enroll_ids):
        rows = enroll_ids == a
        for b in np.unique(probe_ids):
            cols = probe_ids == b
            keep = (cohort_ids != a) & (cohort_ids != b)
            kk = min(k, int(keep.sum()))
            te = np.sort(se[rows][:, keep], axis=1)[:, -kk:]
            tp = np.sort(sp[cols][:, keep], axis=1)[:, -kk:]
            me, de = te.mean(1), np.maximum(te.std(1), 1e-6)
            mp, dp = tp.mean(1), np.maximum(tp.std(1), 1e-6)
            block = raw[np.ix_(rows, cols)]
            out[np.ix_(rows, cols)] = 0.5 * (
                (block - me[:, None]) / de[:, None] + (block - mp[None]) / dp[None]
            )
    return out


def enrollment_scores(
    items, vectors, enroll_mask, probe_mask, size=1, views=("clean",), cohort=None, cohort_ids=None
):
    """Genuine and impostor scores of voice enrollments against probes.

    Each identity's recordings (`group`s, sorted) are cut into enrollments of `size` recordings
    (a template of their embeddings, safety.models.scoring.template); each enrollment holds one
    template per channel in `views` (the same recordings as heard through that channel) and a
    probe's score is the best over the views, s-normed per view first when a cohort is given.
    Probes: every item of `probe_mask` (all channels); genuine pairs never share a recording.
    """
    records = defaultdict(dict)
    for i, it in enumerate(items):
        if enroll_mask(it) and vectors[i].any():
            records[(it["identity"], it["group"])][it["variant"]] = i
    by_identity = defaultdict(list)
    for (identity, group), found in sorted(records.items()):
        if all(v in found for v in views):
            by_identity[identity].append(group)
    enrollments = []  # (identity, groups, {view: template})
    for identity, groups in by_identity.items():
        for start in range(0, len(groups) - size + 1, size):
            chunk = groups[start : start + size]
            if len(groups) <= size:
                continue  # nothing left to probe with
            temps = {
                v: template(vectors[[records[(identity, g)][v] for g in chunk]]) for v in views
            }
            enrollments.append((identity, set(chunk), temps))
    probe = [i for i, it in enumerate(items) if probe_mask(it)]
    probe_vecs = vectors[probe]
    probe_ids = np.array([items[i]["identity"] for i in probe])
    probe_groups = np.array([items[i]["group"] for i in probe])
    enroll_ids = np.array([e[0] for e in enrollments])
    best = np.full((len(enrollments), len(probe)), -np.inf)
    for v in views:
        enroll_vecs = np.stack([e[2][v] for e in enrollments])
        raw = enroll_vecs @ probe_vecs.T
        if cohort is not None:
            raw = snorm_block(
                raw, enroll_vecs, enroll_ids, probe_vecs, probe_ids, cohort, cohort_ids
            )
        best = np.maximum(best, raw)
    best[:, ~probe_vecs.any(axis=1)] = -np.inf  # no speech found: a miss
    same = enroll_ids[:, None] == probe_ids[None]
    own = np.array([[g in e[1] for g in probe_groups] for e in enrollments])
    return best[same & ~own], best[~same]


def voice_section(folder, manifest, lines, costs):
    from safety.models.voice import VoiceEmbedder

    embedder = VoiceEmbedder()
    items = [it for it in manifest["items"] if it["modality"] == "voice"]

    def embed(path):
        result = embedder.embed(read_audio(path))
        return None if result is None else result.embedding

    vectors = embed_all(folder, items, embedder.name, embedder.dim, embed)
    sample = [it for it in items if it["split"] == "test" and it["kind"] == "real"][:40]
    seconds = sum(it["seconds"] for it in sample)
    t0 = time.process_time()
    for it in sample:
        embedder.embed(read_audio(folder / it["path"]))
    per_second = (time.process_time() - t0) / seconds * 1000
    from safety.models.voice_channels import channel_views

    t0 = time.process_time()
    for it in sample[:10]:
        channel_views(read_audio(folder / it["path"]))
    views_per_second = (time.process_time() - t0) / sum(it["seconds"] for it in sample[:10]) * 1000
    costs.append(
        f"voice {embedder.name}: {per_second:.0f} ms CPU per second of audio (VAD + embedding, "
        f"1 thread); multi-condition enrollment adds the channel simulations "
        f"({views_per_second:.0f} ms per second of audio) and 3 more embeddings"
    )

    def real(split):
        return lambda it: it["kind"] == "real" and it["split"] == split

    cohort_rows = np.array(
        [i for i, it in enumerate(items) if real("dev")(it) and vectors[i].any()]
    )
    cohort = vectors[cohort_rows]
    cohort_ids = np.array([items[i]["identity"] for i in cohort_rows])
    channels = tuple(manifest["voice_variants"])
    modes = [
        ("single", dict(size=1), embedder.match_threshold),
        ("multi-condition", dict(size=1, views=channels), embedder.multi_condition_threshold),
        ("mc+template3", dict(size=3, views=channels), embedder.multi_condition_template_threshold),
        (
            "mc+template3+sn",
            dict(size=3, views=channels, cohort=cohort, cohort_ids=cohort_ids),
            embedder.snorm_threshold,
        ),
    ]
    results = {}
    for split in ("dev", "test"):
        for mode, kwargs, threshold in modes:
            g, i = enrollment_scores(items, vectors, real(split), real(split), **kwargs)
            results[(split, mode)] = rates(g, i, threshold)
            lines.append(row("voice", embedder.name, split, mode, results[(split, mode)]))
        for variant in channels:
            for mode, kwargs, threshold in modes[:2]:
                g, i = enrollment_scores(
                    items,
                    vectors,
                    real(split),
                    lambda it, s=split, v=variant: real(s)(it) and it["variant"] == v,
                    **kwargs,
                )
                lines.append(
                    row(
                        "voice",
                        embedder.name,
                        split,
                        f" {mode[:6]} {variant}",
                        rates(g, i, threshold),
                    )
                )

    # Clones: every TTS voice is a claimed identity; another sentence of the same voice, through
    # any channel, must match it; other synthetic voices and the real test speakers must not.
    def tts(it):
        return it["kind"] == "tts"

    def clone_probe(it):
        return tts(it) or real("test")(it)

    for mode, kwargs, threshold in modes:
        g, i = enrollment_scores(items, vectors, tts, clone_probe, **kwargs)
        results[("clones", mode)] = rates(g, i, threshold)
        lines.append(row("clones", embedder.name, "all", mode, results[("clones", mode)]))
    per_engine = []
    for engine in sorted({it["engine"] for it in items if tts(it)}):
        g, i = enrollment_scores(
            items,
            vectors,
            lambda it, e=engine: it["engine"] == e,
            lambda it, e=engine: it["engine"] == e,
        )
        r = rates(g, i, embedder.match_threshold)
        per_engine.append(f"{engine}: acc {r.accuracy:.3f} (FMR {r.fmr:.3f})")
    lines.append("clones within one engine, single: " + "; ".join(per_engine))
    return results


def synthetic_section(folder, manifest, lines, costs):
    from safety.models.synthetic_voice import load_model, synthetic_voice_score

    model = load_model()
    items = [it for it in manifest["items"] if it["modality"] == "voice" and it["split"] == "test"]
    scores = {"real": [], "tts": []}
    per_engine = defaultdict(list)
    seconds, t0 = 0.0, time.process_time()
    for it in items:
        audio = read_audio(folder / it["path"])
        seconds += audio.size / 16_000
        try:
            s = synthetic_voice_score(audio)
        except ValueError:
            continue
        scores[it["kind"]].append(s)
        per_engine[(it["kind"], it["variant"])].append(s)
        if it["kind"] == "tts":
            per_engine[("voice", it["identity"])].append(s)
    costs.append(
        f"synthetic-voice score: {(time.process_time() - t0) / seconds * 1000:.1f} ms CPU "
        "per second of audio"
    )
    real, fake = np.array(scores["real"]), np.array(scores["tts"])
    lines.append(
        f"synthetic-voice score, test split (Flite voices never seen in training vs KLettres "
        f"speakers): AUC {auc(fake, real):.3f}; at 0.5: synthetic flagged "
        f"{np.mean(fake >= 0.5):.3f} of {fake.size}, real flagged {np.mean(real >= 0.5):.3f} of "
        f"{real.size} (trained on {model['training']['summary']})"
    )
    by_variant = []
    for variant in manifest["voice_variants"]:
        f, r = np.array(per_engine[("tts", variant)]), np.array(per_engine[("real", variant)])
        if f.size and r.size:
            by_variant.append(f"{variant} AUC {auc(f, r):.3f}")
    lines.append("  by channel: " + "; ".join(by_variant))
    flagged = [
        f"{key[1].split(':', 1)[1]} {np.mean(np.array(v) >= 0.5):.2f}"
        for key, v in sorted(per_engine.items())
        if key[0] == "voice"
    ]
    lines.append("  synthetic clips flagged at 0.5, by voice: " + "; ".join(flagged))
    return auc(fake, real)


def face_section(folder, manifest, lines, costs, backend, gate=True):
    items = [it for it in manifest["items"] if it["modality"] == "face"]
    issues: dict[str, str | None] = {}

    def embed(path):
        rgb = load_media(path, max_seconds=1).frames[0][1]
        face = largest_face(backend, rgb)
        if face is None:
            issues[str(path)] = "no_face"
            return None
        issues[str(path)] = face_quality_issue(rgb, face.box, face.landmarks)
        return face.embedding

    vectors = embed_all(folder, items, backend.name, backend.dim, embed)
    if not issues:  # embeddings came from the cache: the gate still needs the faces
        for it in items:
            embed(folder / it["path"])
    originals = [folder / it["path"] for it in items if it["variant"] == "original"]
    t0 = time.process_time()
    for path in originals:
        backend.faces(load_media(path, max_seconds=1).frames[0][1])
    costs.append(
        f"face {backend.name}: {(time.process_time() - t0) / len(originals) * 1000:.0f} "
        "ms CPU per photo (HOG detection + landmarks + embedding, up to 800 px)"
    )
    if not gate:  # another backend: the same pairs, no second report on the gate
        return {
            split: rates(
                *pair_scores(
                    items,
                    vectors,
                    lambda it, s=split: (
                        (s == "all" or it["split"] == s) and it["variant"] == "original"
                    ),
                    lambda it, s=split: s == "all" or it["split"] == s,
                ),
                backend.match_threshold,
            )
            for split in ("dev", "test", "all")
        }
    thr = backend.match_threshold
    results = {}
    for split in ("dev", "test", "all"):

        def mask(it, s=split):
            return s == "all" or it["split"] == s

        g, i = pair_scores(
            items, vectors, lambda it, m=mask: m(it) and it["variant"] == "original", mask
        )
        results[split] = rates(g, i, thr)
        lines.append(row("face", backend.name, split, "single", results[split]))
    misses = [it for it in items if not vectors[items.index(it)].any()]
    lines.append(
        f"faces not found (probe scored as a miss): {len(misses)} of {len(items)} images: "
        + ", ".join(f"{it['group']}/{it['variant']}" for it in misses)
    )
    g, i = pair_scores(
        items,
        vectors,
        lambda it: it["variant"] == "original",
        lambda it: issues.get(str(folder / it["path"])) is None,
    )
    lines.append(row("face", backend.name, "all", "gate-passed", rates(g, i, thr)))
    flagged = defaultdict(list)
    for it in items:
        flagged[it["variant"]].append(issues.get(str(folder / it["path"])) or "ok")
    summary = []
    for variant, reasons in flagged.items():
        counts = {r: reasons.count(r) for r in sorted(set(reasons)) if r != "ok"}
        summary.append(
            f"{variant}: {len(reasons) - sum(counts.values())}/{len(reasons)} pass"
            + (f" {counts}" if counts else "")
        )
    lines.append("face quality gate by condition: " + "; ".join(summary))
    identities = sorted({it["identity"] for it in items})
    lines.append(
        f"faces: {len(identities)} identities ({', '.join(identities)}), "
        f"{len(originals)} photos x {len(manifest['face_variants'])} conditions"
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--insightface-pack", type=Path, help="also measure an operator's insightface pack"
    )
    args = parser.parse_args()
    started = time.time()
    print(f"machine: {describe()}")
    folder, manifest = load_manifest(args.cache, args.quick)
    for name, source in manifest["sources"].items():
        print(f"source {name}: {json.dumps(source)}")
    lines: list[str] = []
    costs: list[str] = []
    from safety.models.face import DlibFaceBackend, InsightFaceBackend

    faces = face_section(folder, manifest, lines, costs, DlibFaceBackend())
    if args.insightface_pack:  # an operator-supplied pack, measured on the same pairs
        backend = InsightFaceBackend(args.insightface_pack, threads=1)
        for split, r in face_section(folder, manifest, [], costs, backend, gate=False).items():
            lines.append(row("face", backend.name[:24], split, "single", r))
    voices = voice_section(folder, manifest, lines, costs)
    synthetic_auc = synthetic_section(folder, manifest, lines, costs)
    print(HEADER)
    for line in lines:
        print(line)
    for line in costs:
        print("cost: " + line)
    print(f"took {time.time() - started:.0f} s")
    f, v, vt = faces["test"], voices[("test", "single")], voices[("test", "mc+template3+sn")]
    c, ct = voices[("clones", "single")], voices[("clones", "mc+template3")]
    print(
        f"headline: test split, each mode at its dev-chosen threshold - faces acc "
        f"{f.accuracy:.4f} EER {f.eer:.4f} ({f.genuine}+{f.impostor} pairs); voices single "
        f"acc {v.accuracy:.4f} EER {v.eer:.4f}, multi-condition template + s-norm acc "
        f"{vt.accuracy:.4f} EER {vt.eer:.4f}; clones single acc {c.accuracy:.4f}, multi-condition "
        f"template acc {ct.accuracy:.4f}; synthetic-voice AUC {synthetic_auc:.3f}"
    )


if __name__ == "__main__":
    main()
