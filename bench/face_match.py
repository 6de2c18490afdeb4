"""Face and voice matching: 1:N search time over 1k, 100k and 1M enrolled embeddings (synthetic
unit vectors), model time per face / per second of speech, and verification figures on the
real photos in tests/data/faces and on espeak-ng voices.

python bench/face_match.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe
from safety.consent.index import ExactIndex, FaissIndex
from safety.media import load_media
from safety.models.age import AgeEstimator
from safety.models.face import DlibFaceBackend
from safety.models.voice import VoiceEmbedder
from tests.media_factory import speech

FACES = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces"
VOICES_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "voices"
VOICES = ["en-us", "en-gb", "en-us+f3", "en+m7", "fr", "de", "es", "it"]
SENTENCES = [
    "four seven one nine three eight",
    "the quick brown fox jumps over the lazy dog near the river",
    "please verify that this is really my own voice today",
]


def search_times(sizes: list[int], queries: int, dim: int = 128) -> list[str]:
    rng = np.random.default_rng(0)
    lines = []
    for n in sizes:
        vectors = rng.normal(size=(n, dim)).astype(np.float32)
        keys = [str(i) for i in range(n)]
        probe = vectors[rng.integers(0, n, queries)] + 0.2 * rng.normal(size=(queries, dim))
        exact = ExactIndex(keys, vectors, dim)
        started = time.perf_counter()
        truth = [exact.search(q, 1)[0].key for q in probe]
        exact_ms = (time.perf_counter() - started) / queries * 1000
        started = time.perf_counter()
        approx = FaissIndex(keys, vectors, dim)
        build_s = time.perf_counter() - started
        started = time.perf_counter()
        found = [approx.search(q, 1)[0].key for q in probe]
        faiss_ms = (time.perf_counter() - started) / queries * 1000
        recall = np.mean([a == b for a, b in zip(found, truth, strict=True)])
        lines.append(
            f"1:N {n:>9,} x {dim}-d: exact {exact_ms:8.2f} ms/query | "
            f"faiss HNSW {faiss_ms:6.3f} ms/query (build {build_s:5.1f} s, recall@1 {recall:.3f})"
        )
        print(lines[-1], flush=True)
        del exact, approx, vectors
    return lines


def face_figures(repeats: int) -> tuple[str, float]:
    backend, ages = DlibFaceBackend(), AgeEstimator()
    images = {
        p.name: load_media(p, max_seconds=1).frames[0][1] for p in sorted(FACES.glob("*.jpg"))
    }
    embeddings, per_face, per_age = {}, [], []
    for name, rgb in images.items():
        for _ in range(repeats):
            started = time.perf_counter()
            faces = backend.faces(rgb)
            per_face.append(time.perf_counter() - started)
        started = time.perf_counter()
        estimate = ages.estimate(rgb, [faces[0].box])[0]
        per_age.append(time.perf_counter() - started)
        embeddings[name] = faces[0].embedding
        print(f"  {name:26s} {rgb.shape[1]}x{rgb.shape[0]} apparent age {estimate.years}")
    genuine, impostor = [], []
    for a, b in itertools.combinations(sorted(embeddings), 2):
        score = float(embeddings[a] @ embeddings[b])
        (genuine if a[:5] == b[:5] else impostor).append(score)
    t = backend.match_threshold
    fnmr = np.mean([s < t for s in genuine])
    fmr = np.mean([s >= t for s in impostor])
    print(
        f"face detect+embed: {np.median(per_face) * 1000:.0f} ms per photo (<=800 px, 1 face); "
        f"age: {np.median(per_age) * 1000:.0f} ms per face"
    )
    line = (
        f"face verification (real photos, {len(genuine)} genuine / {len(impostor)} impostor pairs, "
        f"threshold {t}): FNMR {fnmr:.2f}, FMR {fmr:.2f}; genuine min {min(genuine):.3f}, "
        f"impostor max {max(impostor):.3f}"
    )
    print(line)
    return line, float(np.median(per_face))


def voice_figures(voices: list[str]) -> str:
    embedder = VoiceEmbedder()
    prints: dict[tuple[str, int], np.ndarray] = {}
    seconds, spent = 0.0, 0.0
    for voice in voices:
        for i, sentence in enumerate(SENTENCES):
            audio = speech(sentence, voice)
            started = time.perf_counter()
            result = embedder.embed(audio)
            spent += time.perf_counter() - started
            seconds += audio.size / 16_000
            assert result is not None
            prints[(voice, i)] = result.embedding
    genuine, impostor = [], []
    for a, b in itertools.combinations(sorted(prints), 2):
        score = float(prints[a] @ prints[b])
        (genuine if a[0] == b[0] else impostor).append(score)
    t = embedder.match_threshold
    fnmr, fmr = np.mean([s < t for s in genuine]), np.mean([s >= t for s in impostor])
    print(f"voice embed: {spent / seconds * 1000:.0f} ms per second of audio")
    line = (
        f"voice verification (espeak-ng synthetic voices, {len(genuine)} genuine / "
        f"{len(impostor)} impostor pairs, threshold {t}): "
        f"FNMR {fnmr:.2f}, FMR {fmr:.2f}"
    )
    print(line)
    return line


def real_voice_figures() -> str:
    """LibriVox-LibriVox pairs are genuine; LibriVox-CMU pairs impostors (tests/data/voices)."""
    embedder = VoiceEmbedder()
    prints = {}
    for path in sorted(VOICES_DIR.glob("*.wav")):
        audio = load_media(path, max_seconds=60).audio
        assert audio is not None
        result = embedder.embed(audio)
        if result is not None:
            prints[path.stem] = result.embedding
    reader = [k for k in prints if k.startswith("librivox")]
    others = [k for k in prints if not k.startswith("librivox")]
    genuine = [float(prints[a] @ prints[b]) for a, b in itertools.combinations(reader, 2)]
    impostor = [float(prints[a] @ prints[b]) for a in reader for b in others]
    t = embedder.match_threshold
    line = (
        f"voice verification (real speech, {len(genuine)} genuine / {len(impostor)} impostor "
        f"pairs, threshold {t}): FNMR {np.mean([s < t for s in genuine]):.2f}, "
        f"FMR {np.mean([s >= t for s in impostor]):.2f}; genuine min {min(genuine):.3f} "
        f"median {np.median(genuine):.3f}, impostor max {max(impostor):.3f}"
    )
    print(line)
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 100k only, fewer voices")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    sizes = [1_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    lines = search_times(sizes, queries=50 if args.quick else 200)
    _, per_face = face_figures(repeats=1 if args.quick else 3)
    voice_figures(VOICES[:4] if args.quick else VOICES)
    real_voice_figures()
    exact_ms = lines[-1].split("exact")[1].split("ms")[0].strip()
    faiss_ms = lines[-1].split("HNSW")[1].split("ms")[0].strip()
    print(
        f"headline: 1:N over {sizes[-1]:,} faces: exact {exact_ms} ms, HNSW {faiss_ms} ms per "
        f"query; face detect+embed {per_face * 1000:.0f} ms per photo"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
