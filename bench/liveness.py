"""Enrollment liveness figures: what the digit recogniser hears (espeak-ng voices saying random
six-digit challenges; the recorded speech in tests/data/voices, which says other things), and
the motion and sync measures on synthetic selfies: live (talking), still (the photo moved as a
whole) and dubbed (a talking face with another voice saying other digits, 0.3-1.5 s late).
Only synthetic faces and voices exist here: these figures set the thresholds against our own
media, not against real people (see the README).

python bench/liveness.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe
from cameoguard.settings import get_settings
from safety.analysis import analyse
from safety.consent import liveness as live
from safety.consent.models import LikenessModels, get_models
from safety.media import load_media
from tests.media_factory import DIGIT_WORDS, make_selfie, speech

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
VOICES = ["en-us", "en-gb", "en-us+f3", "en-us+m3", "en-us-nyc", "en-029"]


def _say(digits: list[int]) -> str:
    return " ".join(DIGIT_WORDS[d] for d in digits)


def _load(path: Path, fps: float) -> tuple[np.ndarray, list]:
    media = load_media(path, max_seconds=60, frames_per_second=fps, max_frames=900)
    assert media.audio is not None
    return media.audio, media.frames


def recogniser_on_espeak(per_voice: int, speeds: list[int]) -> list[str]:
    recogniser = live.digit_recogniser()
    lines = [f"digits heard in {per_voice} random six-digit challenges per voice:"]
    for speed in speeds:
        for voice in VOICES:
            rng = np.random.default_rng(5)
            edits, start = [], time.perf_counter()
            for _ in range(per_voice):
                digits = [int(d) for d in rng.integers(0, 10, 6)]
                heard = recogniser.digits(speech(_say(digits), voice, speed=speed), 6)
                edits.append(live.edit_distance(heard, digits))
            e = np.array(edits)
            ms = (time.perf_counter() - start) / per_voice * 1000
            lines.append(
                f"  {voice:10s} {speed} wpm: exact {np.mean(e == 0):.0%}, within 1 edit "
                f"{np.mean(e <= 1):.0%}, within 2 {np.mean(e <= 2):.0%} ({ms:.0f} ms each)"
            )
    return lines


def recogniser_on_real_speech(challenges: int) -> list[str]:
    """What the digit grammar forces out of real speech that says no digits, and how often
    that would pass a random challenge (a false accept of the digits check)."""
    recogniser = live.digit_recogniser()
    rng = np.random.default_rng(9)
    random = [[int(d) for d in rng.integers(0, 10, 6)] for _ in range(challenges)]
    lines = [f"real recorded speech (tests/data/voices), against {challenges} random challenges:"]
    for path in sorted((DATA / "voices").glob("*.wav")):
        audio, _ = _load(path, 0.5)
        heard = recogniser.digits(audio, 6)
        within = [sum(live.edit_distance(heard, c) <= k for c in random) for k in (1, 2)]
        lines.append(
            f"  {path.name:28s} heard {''.join(map(str, heard))}: would pass "
            f"{within[0]}/{challenges} at 1 edit, {within[1]}/{challenges} at 2"
        )
    return lines


def face_measures(path: Path, models: LikenessModels) -> tuple[live.Motion, live.Sync]:
    """As enrollment measures: face boxes at 2 frames per second, grey frames at the track's."""
    media = load_media(path, max_seconds=60, frames_per_second=2.0, max_frames=40)
    sightings = [(s.time, s.face.box) for s in analyse(media, models, with_age=False).sightings]
    audio, dense = _load(path, live.TRACK_FPS)
    grey = ((t, rgb @ np.array([0.299, 0.587, 0.114])) for t, rgb in dense)
    track = live.track_face(grey, sightings)
    motion = live.measure_motion(track, audio)
    max_lag = get_settings().liveness_max_lag_seconds
    return motion, live.measure_sync(track.times, motion.mouth, audio, max_lag)


def motion_and_sync(photos: list[str], voices: list[str]) -> list[str]:
    settings = get_settings()
    models = get_models()
    rng = np.random.default_rng(0)
    rows: dict[str, list[tuple[float, float, float]]] = {"live": [], "still": [], "dub": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, photo in enumerate(photos):
            for j, voice in enumerate(voices):
                digits = [int(d) for d in rng.integers(0, 10, 6)]
                other = [int(d) for d in rng.integers(0, 10, 6)]
                late = float(rng.uniform(0.3, 1.5))
                dub = speech(_say(other), voices[(j + 1) % len(voices)])
                dub = np.concatenate([np.zeros(int(late * 16_000), np.float32), dub])
                kinds = {"live": {"talking": True}, "still": {}}
                kinds["dub"] = {"talking": True, "soundtrack": dub}
                for kind, options in kinds.items():
                    path = Path(tmp) / f"{kind}{i}{j}.mp4"
                    make_selfie(path, [DATA / "faces" / photo], _say(digits), voice=voice,
                                seed=10 * i + j, **options)  # fmt: skip
                    motion, sync = face_measures(path, models)
                    rows[kind].append((motion.score, sync.correlation, sync.elsewhere))
    lines = [
        f"motion and sync on synthetic selfies ({len(photos)} photos x {len(voices)} voices), "
        f"thresholds: motion >= {settings.liveness_min_motion}, sync >= "
        f"{settings.liveness_min_sync} within +-{settings.liveness_max_lag_seconds} s and no "
        "better fit at another lag (searched +-1 s):"
    ]
    for kind, values in rows.items():
        m = np.array(values)
        moving = m[:, 0] >= settings.liveness_min_motion
        synced = (m[:, 1] >= settings.liveness_min_sync) & (m[:, 1] >= m[:, 2])
        lines.append(
            f"  {kind:5s} n={len(m)}: motion {m[:, 0].min():.3f}-{m[:, 0].max():.3f}, "
            f"sync {m[:, 1].min():+.2f}-{m[:, 1].max():+.2f} (elsewhere "
            f"{m[:, 2].min():+.2f}-{m[:, 2].max():+.2f}); pass motion {moving.sum()}, "
            f"pass both {(moving & synced).sum()}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    print(f"recogniser: {live.RECOGNISER}")
    for line in recogniser_on_espeak(
        20 if args.quick else 100, [150] if args.quick else [150, 130]
    ):
        print(line)
    for line in recogniser_on_real_speech(10_000):
        print(line)
    photos = (
        ["obama.jpg", "biden.jpg"]
        if args.quick
        else ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
    )
    voices = ["en-us", "en-gb"] if args.quick else ["en-us", "en-gb", "en-us+f3", "en-us+m3"]
    for line in motion_and_sync(photos, voices):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
