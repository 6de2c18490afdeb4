"""The provenance table of bench/watermark_robustness.py: for each common evasion of a
re-upload, the share of marked outputs traced back to the right record, and the false-match rate
on unrelated media.

Crop + re-encode removes 4-12% of the width and height at a random placement, then H.264 at
CRF 28; the excerpt is 3 s cut at a random time; the screenshot is a random moment, rescaled to
80% and saved as PNG; mirror and audio removed are re-encoded at CRF 23.

Outputs are generated clips (tests/media_factory.make_clip: moving textured scenes with sound)
marked by the service's own marking pass; each output's record keeps its frame fingerprints
(provenance.fingerprint_video: a frame every 0.25 s, 5 regions of a frame every 0.5 s). An
evasion is traced when the copy's fingerprint names the output's record, as the verification
report does: provenance.fingerprint.closest over every record (as seen and mirrored), then,
for a video that matched nothing, the crop search (provenance.crop_search); or, for audio only,
when the audio watermark carries its id. Also measured: the record's size (its hashes as JSON)
per 10 s of output, and the CPU time of a crop search (every video query that reaches it:
cropped copies and unrelated clips).

Unrelated media: clips of other seeds and sizes (re-encoded), stills of them, and the
public-domain face photos (tests/data/faces) cropped, scaled, flipped and re-compressed."""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from provenance import crop_search
from provenance.fingerprint import FingerprintTap, closest, fingerprint_video
from provenance.marking import mark_file
from provenance.watermark.audio import detect as detect_audio
from safety.media import decode_audio, decode_video, default_limits
from tests.media_factory import make_clip, transcode

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT / "tests" / "data" / "faces"
EVASIONS = (
    "mirror",
    "crop + re-encode",
    "screenshot",
    "excerpt 3 s",
    "audio removed",
    "audio only",
)


def rewrite(src: Path, dst: Path, *, crf: int = 23, audio: bool = True, **edits: Any) -> Path:
    """A re-upload (tests/media_factory.transcode): mirror, crop, cut, drop the sound, H.264."""
    return transcode(src, dst, crf=crf, keep_audio=audio, **edits)


def screenshot(src: Path, at: float, scale: float) -> np.ndarray:
    """The frame shown at `at` seconds, as a screen capture saves it (rescaled, PNG)."""
    with av.open(str(src)) as inp:
        for frame in inp.decode(video=0):
            if float(frame.time or 0) >= at:
                rgb = frame.to_ndarray(format="rgb24")
                break
    image = Image.fromarray(rgb)
    size = (round(image.width * scale), round(image.height * scale))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def query_video(path: Path) -> FingerprintTap:
    tap = FingerprintTap(keep_frames=True)
    decode_video(path, [tap], default_limits(float("inf")), until_s=600.0)
    return tap


def query_image(rgb: np.ndarray) -> FingerprintTap:
    tap = FingerprintTap()
    tap.take_image(rgb)
    return tap


def traced_to(
    tap: FingerprintTap, index: dict[str, list[str]], cpu: list[float] | None = None
) -> str | None:
    """The record the copy is traced to: the whole-frame match (as seen or mirrored), else the
    crop search (its CPU time appended to `cpu`)."""
    best = closest(tap.hashes, index, tap.mirrored)
    if best is not None and best.is_match:
        return best.key
    started = time.process_time()
    cropped = crop_search.search(tap.frames, index)
    if cpu is not None and len(tap.frames) >= crop_search.MIN_FRAMES:
        cpu.append(time.process_time() - started)
    return cropped.key if cropped is not None and cropped.is_match else None


def unrelated_media(folder: Path, count: int, seed: int) -> list[Callable[[], FingerprintTap]]:
    """`count` unrelated items: 60% clips, 20% stills of clips, 20% varied photos."""
    rng = np.random.default_rng(seed)
    photos = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(FACES.glob("*.jpg"))]
    sizes = [(320, 180), (480, 270), (360, 640), (640, 360)]
    items: list[Callable[[], FingerprintTap]] = []
    for j in range(count):
        kind = j % 5
        if kind in (0, 1, 2):

            def clip(j: int = j) -> FingerprintTap:
                w, h = sizes[j % len(sizes)]
                path = make_clip(folder / "u.mp4", 3.0, w, h, seed=50_000 + j, crf=26)
                return query_video(path)

            items.append(clip)
        elif kind == 3:

            def still(j: int = j) -> FingerprintTap:
                path = make_clip(folder / "s.mp4", 1.0, 480, 270, seed=70_000 + j, crf=20)
                return query_image(screenshot(path, 0.5, 1.0))

            items.append(still)
        else:
            photo = photos[j % len(photos)]
            h, w = photo.shape[:2]
            frac = rng.uniform(0.6, 1.0)
            ch, cw = int(h * frac), int(w * frac)
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            flip = bool(rng.integers(0, 2))
            quality = int(rng.integers(40, 95))

            def photo_item(
                photo: np.ndarray = photo, box=(y, x, ch, cw), flip=flip, quality=quality
            ) -> FingerprintTap:
                y, x, ch, cw = box
                crop = photo[y : y + ch, x : x + cw]
                crop = crop[:, ::-1] if flip else crop
                buffer = io.BytesIO()
                Image.fromarray(np.ascontiguousarray(crop)).save(buffer, "JPEG", quality=quality)
                return query_image(np.asarray(Image.open(buffer).convert("RGB")))

            items.append(photo_item)
    return items


def run(clips: int, unrelated: int, seconds: float, size: tuple[int, int], key: bytes) -> dict:
    rng = np.random.default_rng(7)
    traced = {name: 0 for name in EVASIONS}
    tried = {name: 0 for name in EVASIONS}
    index: dict[str, list[str]] = {}
    ids: dict[str, int] = {}
    cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        outputs = []
        for i in range(clips):
            source = make_clip(folder / f"p{i}.mp4", seconds, *size, seed=300 + i)
            identifier = int(rng.integers(0, 2**63))
            marked = folder / f"pm{i}.mp4"
            mark_file(source, marked, key, identifier)
            record = f"{identifier:016x}"
            index[record], ids[record] = fingerprint_video(marked), identifier
            outputs.append((marked, record))
        for marked, record in outputs:
            start = float(rng.uniform(0, seconds - 3.0))
            # A crop of 4-12% of each side pair, anywhere (not the placements on record).
            crop = float(rng.uniform(0.04, 0.12))
            place = (float(rng.uniform(0, 1)), float(rng.uniform(0, 1)))
            copies = {
                "mirror": lambda m=marked: rewrite(m, folder / "e.mp4", mirror=True),
                "crop + re-encode": lambda m=marked, c=crop, p=place: rewrite(
                    m, folder / "e.mp4", crop=c, place=p, crf=28
                ),
                "excerpt 3 s": lambda m=marked, s=start: rewrite(
                    m, folder / "e.mp4", start=s, seconds=3.0
                ),
                "audio removed": lambda m=marked: rewrite(m, folder / "e.mp4", audio=False),
            }
            for name, make in copies.items():
                tried[name] += 1
                traced[name] += traced_to(query_video(make()), index, cpu) == record
            tried["screenshot"] += 1
            shot = screenshot(marked, float(rng.uniform(0.2, seconds - 0.2)), 0.8)
            traced["screenshot"] += traced_to(query_image(shot), index) == record
            tried["audio only"] += 1
            sound = decode_audio(marked, 600.0)
            found = detect_audio(sound, key) if sound is not None else None
            traced["audio only"] += bool(
                found is not None and found.found and found.identifier == ids[record]
            )
        false_matches = 0
        kinds = {"clip": 0, "still": 0, "photo": 0}
        for j, item in enumerate(unrelated_media(folder, unrelated, 11)):
            kinds[("clip", "clip", "clip", "still", "photo")[j % 5]] += 1
            false_matches += traced_to(item(), index, cpu) is not None
    return {
        "clips": clips,
        "seconds": seconds,
        "size": size,
        "rows": {name: (traced[name], tried[name]) for name in EVASIONS},
        "unrelated": unrelated,
        "unrelated_kinds": kinds,
        "false_matches": false_matches,
        "record_bytes_per_10s": float(
            np.mean([len(json.dumps(hashes)) for hashes in index.values()]) * 10.0 / seconds
        ),
        "crop_search_cpu_s": cpu,
    }


def print_table(result: dict) -> None:
    w, h = result["size"]
    print(
        f"provenance: {result['clips']} marked outputs ({result['seconds']:.0f} s, {w}x{h}), "
        "each evasion traced to the right record"
    )
    print(f"{'evasion':20} {'traced':>8} {'share':>7}  by")
    by = {"audio only": "audio watermark", "crop + re-encode": "frame fingerprint, crop search"}
    for name, (hit, total) in result["rows"].items():
        share = hit / total if total else 0.0
        print(f"{name:20} {hit:>3}/{total:<4} {share:7.1%}  {by.get(name, 'frame fingerprint')}")
    kinds = ", ".join(f"{n} {k}s" for k, n in result["unrelated_kinds"].items())
    rate = result["false_matches"] / max(1, result["unrelated"])
    print(
        f"false matches on {result['unrelated']} unrelated items ({kinds}): "
        f"{result['false_matches']} ({rate:.2%})"
    )
    cpu = result["crop_search_cpu_s"]
    print(
        f"record size: {result['record_bytes_per_10s'] / 1000:.1f} kB per 10 s of output; "
        f"crop search: {np.mean(cpu) if cpu else 0.0:.2f} CPU-s per query (median "
        f"{np.median(cpu) if cpu else 0.0:.2f}, max {max(cpu, default=0.0):.2f}; {len(cpu)} "
        f"searches against {result['clips']} records)"
    )
    traced = ", ".join(
        f"{name} {hit / total if total else 0.0:.0%}"
        for name, (hit, total) in result["rows"].items()
    )
    print(f"headline: traced to the right record: {traced}; false matches {rate:.2%}")
