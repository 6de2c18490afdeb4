"""Robustness and invisibility of the invisible video watermark.

    python bench/watermark_robustness.py [--quick] [--clips 20] [--unmarked 1000]
    python bench/watermark_robustness.py --provenance [--quick] [--clips 20] [--unrelated 500]

Marks N generated clips (10 s, 1280x720, moving textured scenes), applies each re-upload attack
(H.264 CRF 23-35, 480p and 360p, 15 fps, a 10% off-centre crop, brightness/contrast), and reports
per attack the bit accuracy, the exact-payload recovery rate and the sync z-score; then the false
positive rate on unmarked clips (320x180, 4 s), PSNR/SSIM of the mark, and embed/detect time per
second of video. Writes a side-by-side frame (original | marked | 20x difference) to --frames.

`--provenance`: the provenance table instead (bench/_provenance_evasions.py): per evasion
(mirror, crop 4-12% + re-encode, screenshot, 3 s excerpt, audio removed, audio only) the share
of outputs traced to the right record, false matches on unrelated images and clips, the record
size per 10 s clip and the crop search's CPU time per query (`--quick`: 2 outputs of 4 s, 20
unrelated; about a minute).
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

import av
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe
from provenance.marking import mark_file
from provenance.watermark.payload import encode
from provenance.watermark.video import PRESENCE_Z, detect_video
from tests.media_factory import make_clip, transcode

KEY = b"benchmark-watermark-key-01234567"
ATTACKS = {
    "none (CRF 18 master)": None,
    "CRF 23": {"crf": 23},
    "CRF 28 + 480p": {"crf": 28, "height": 480},
    "CRF 35": {"crf": 35},
    "CRF 28 + 360p": {"crf": 28, "height": 360},
    "15 fps": {"crf": 23, "fps": 15},
    "crop 10%": {"crf": 23, "crop": 0.10},
    "brightness/contrast": {"crf": 23, "brightness": 20, "contrast": 1.2},
}


def luma_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = ndimage.gaussian_filter(a, 1.5), ndimage.gaussian_filter(b, 1.5)
    var_a = ndimage.gaussian_filter(a * a, 1.5) - mu_a**2
    var_b = ndimage.gaussian_filter(b * b, 1.5) - mu_b**2
    cov = ndimage.gaussian_filter(a * b, 1.5) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def write_png(path: Path, gray: np.ndarray) -> None:
    """A grayscale PNG with the standard library only."""
    height, width = gray.shape
    raw = b"".join(b"\x00" + gray[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def reencode_plain(src: Path, dst: Path) -> None:
    """The source through the same encoder settings as marking, without the mark."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=vin.average_rate)
        stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in inp.decode(vin):
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 clip of 3 s, 10 unmarked")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--unmarked", type=int, default=1000)
    parser.add_argument("--frames", type=Path, default=Path("bench/out"))
    parser.add_argument("--provenance", action="store_true", help="the per-evasion table")
    parser.add_argument("--unrelated", type=int, default=500)
    args = parser.parse_args()
    if args.provenance:
        from bench._provenance_evasions import print_table, run

        clips, unrelated, seconds = (
            (2, 20, 4.0) if args.quick else (args.clips, args.unrelated, 10.0)
        )
        result = run(clips, unrelated, seconds, (640, 360), KEY)
        print(f"machine: {describe()}")
        print_table(result)
        return 0
    clips, unmarked, seconds = (1, 10, 3.0) if args.quick else (args.clips, args.unmarked, 10.0)
    width, height = (1280, 720)
    rng = np.random.default_rng(0)
    results: dict[str, list[tuple[float, bool, float]]] = {name: [] for name in ATTACKS}
    embed_s, detect_s, psnrs, ssims = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(clips):
            source = make_clip(folder / f"src{i}.mp4", seconds, width, height, seed=100 + i)
            identifier = int(rng.integers(0, 2**63))
            truth = encode(identifier)
            marked = folder / f"marked{i}.mp4"
            started = time.process_time()
            mark_file(source, marked, KEY, identifier)
            embed_s.append((time.process_time() - started) / seconds)
            if i < 3:
                plain = folder / f"plain{i}.mp4"
                reencode_plain(source, plain)
                a, b = luma_frames(plain), luma_frames(marked)
                n = min(len(a), len(b))
                mse = float(np.mean((a[:n] - b[:n]) ** 2))
                psnrs.append(10 * np.log10(255**2 / mse))
                ssims.append(float(np.mean([ssim(a[k], b[k]) for k in range(0, n, 25)])))
                if i == 0:
                    args.frames.mkdir(parents=True, exist_ok=True)
                    k = n // 2
                    diff = np.clip(128 + 20 * (b[k] - a[k]), 0, 255)
                    strip = np.concatenate([a[k], b[k], diff], axis=1).astype(np.uint8)
                    write_png(args.frames / "watermark_side_by_side.png", strip)
            for name, attack in ATTACKS.items():
                target = marked if attack is None else transcode(marked, folder / "a.mp4", **attack)
                started = time.process_time()
                report = detect_video(target, KEY)
                if attack is None:
                    detect_s.append((time.process_time() - started) / seconds)
                soft = np.array(report.whole.soft_bits) if report.whole.soft_bits else np.zeros(80)
                accuracy = float(np.mean((soft > 0).astype(int) == truth))
                exact = report.whole.found and report.whole.identifier == identifier
                results[name].append((accuracy, exact, report.whole.z))
            print(f"clip {i + 1}/{clips} done", file=sys.stderr)
        false_positives, null_z = 0, []
        for j in range(unmarked):
            clip = make_clip(folder / "u.mp4", 4.0, 320, 180, seed=10_000 + j, crf=23)
            report = detect_video(clip, KEY)
            false_positives += report.whole.found
            null_z.append(report.whole.z)
    print(f"machine: {describe()}")
    print(f"{clips} marked clips, {seconds:.0f} s, {width}x{height}; key-derived 64-bit ids")
    print(f"{'attack':24} {'bit acc':>8} {'exact':>7} {'min z':>7} {'median z':>9}")
    for name, rows in results.items():
        acc = np.mean([r[0] for r in rows])
        exact = np.mean([r[1] for r in rows])
        zs = [r[2] for r in rows]
        print(f"{name:24} {acc:8.4f} {exact:7.1%} {min(zs):7.1f} {np.median(zs):9.1f}")
    print(
        f"unmarked clips: {false_positives}/{unmarked} false positives "
        f"(sync z max {max(null_z):.1f}, threshold {PRESENCE_Z})"
    )
    print(f"PSNR {np.mean(psnrs):.1f} dB, SSIM {np.mean(ssims):.4f} (vs unmarked, same encoder)")
    print(
        f"embed {np.mean(embed_s):.2f} CPU-s per video second, "
        f"detect {np.mean(detect_s):.2f} CPU-s per video second (720p)"
    )
    key_attack = "CRF 28 + 480p"
    exact_key = np.mean([r[1] for r in results[key_attack]])
    print(
        f"headline: exact payload after CRF 28 + 480p {exact_key:.0%} of {clips} clips; "
        f"false positives {false_positives}/{unmarked}; PSNR {np.mean(psnrs):.1f} dB; "
        f"embed {np.mean(embed_s):.2f} CPU-s/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
