"""The apparent-age readings behind age assurance, on what we may use: the six public-domain
photos of tests/data/faces (two adults) read by `faces analyze`, and five selfie videos made
from them (some blurred, as the tests do) read frame by frame with one reading per face and
with the mirror-averaged reading, with the challenge-25 verdict of each.

This measures stability and the rule's verdicts, not accuracy: we hold no age-labelled photos,
so no figure per age band comes from here (see the README).

python bench/apparent_age.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe
from safety.consent.models import get_models
from safety.media import load_media
from tests.media_factory import make_selfie
from wellbeing.age import selfie_evidence
from wellbeing.faces import analyse_path, mirrored_box
from wellbeing.policy import wellbeing_policy

FACES = Path(__file__).resolve().parents[1] / "tests" / "data" / "faces"
SELFIES = (("obama", 0), ("biden", 4), ("obama_partial_face2", 2), ("obama3", 3), ("obama3", 4))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two selfies instead of five")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    models = get_models()
    rules = wellbeing_policy().age_assurance
    print("photos (faces analyze: mirror-averaged apparent age, possible_minor under 25):")
    for photo in sorted(FACES.glob("*.jpg")):
        found = analyse_path(photo, models, max_seconds=60, fps=rules.frames_per_second,
                             max_frames=rules.max_frames)  # fmt: skip
        ages = [round(p.median, 1) for p in found]
        print(f"  {photo.name:26s} {ages} flagged={[a < rules.challenge_age for a in ages]}")
    print("selfies (3 s, 3 frames/s): frame-to-frame sd of one reading vs the mirror average")
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = []
        for name, blur in SELFIES[:2] if args.quick else SELFIES:
            still = Path(tmp) / f"{name}_{blur}.jpg"
            image = Image.open(FACES / f"{name}.jpg").convert("RGB")
            (image.filter(ImageFilter.GaussianBlur(blur)) if blur else image).save(still)
            video = make_selfie(Path(tmp) / f"{name}_{blur}.mp4", [still], None, seconds=3.0)
            media = load_media(video, max_seconds=30, frames_per_second=rules.frames_per_second,
                               max_frames=rules.max_frames, want_audio=False)  # fmt: skip
            single, mirrored = [], []
            for _, rgb in media.frames:
                faces = models.face.faces(rgb)
                if not faces:
                    continue
                face = max(faces, key=lambda f: f.size)
                one = models.age.estimate(rgb, [face.box])[0].years
                flip = np.ascontiguousarray(rgb[:, ::-1])
                other = models.age.estimate(flip, [mirrored_box(face.box, rgb.shape[1])])[0].years
                single.append(float(one))
                mirrored.append((one + other) / 2)
            people = analyse_path(video, models, max_seconds=30, fps=rules.frames_per_second,
                                  max_frames=rules.max_frames)  # fmt: skip
            verdict = selfie_evidence(people, len(media.frames), rules)
            print(
                f"  {name} blur {blur}: {len(single)} frames; one reading median "
                f"{statistics.median(single):.1f} sd {statistics.pstdev(single):.2f}; mirror "
                f"median {statistics.median(mirrored):.1f} sd {statistics.pstdev(mirrored):.2f};"
                f" challenge 25 says {verdict.says}"
            )
            verdicts.append(f"{name} blur {blur}: {verdict.says}")
    print(f"headline: challenge-25 verdicts on the test selfies: {'; '.join(verdicts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
