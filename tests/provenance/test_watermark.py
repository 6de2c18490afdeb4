"""The invisible video watermark on real MP4s, through the attacks of a re-upload."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from provenance.marking import mark_file
from provenance.watermark.payload import decode, encode
from provenance.watermark.video import detect_video
from safety.media import MediaError
from tests.media_factory import make_clip, transcode

KEY = b"test-watermark-key-0123456789abc"
ID = 0xFEEDFACE01234567


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("wm")
    source = make_clip(folder / "source.mp4", seconds=8, width=960, height=540, seed=5)
    marked = folder / "marked.mp4"
    mark_file(source, marked, KEY, ID)
    return source, marked


def test_payload_round_trip_and_crc() -> None:
    bits = encode(ID)
    soft = bits.astype(float) * 2 - 1
    assert decode(soft).identifier == ID
    soft[3] *= -0.1  # one weak wrong bit is repaired by Chase decoding
    assert decode(soft).identifier == ID
    with pytest.raises(ValueError):
        encode(2**64)


def test_marked_clip_reads_back(clips: tuple[Path, Path]) -> None:
    _, marked = clips
    report = detect_video(marked, KEY)
    assert report.whole.found and report.whole.identifier == ID
    assert [s.found for s in report.segments] == [True, True]


def test_unmarked_clip_and_wrong_key_read_nothing(clips: tuple[Path, Path]) -> None:
    source, marked = clips
    assert detect_video(source, KEY).whole.found is False
    assert detect_video(marked, b"another-key-of-the-same-length!!").whole.found is False


@pytest.mark.slow
@pytest.mark.parametrize(
    "attack",
    [
        {"crf": 28, "height": 480},
        {"crf": 35, "height": 360},
        {"crf": 23, "fps": 15},
        {"crf": 23, "crop": 0.10},
        {"crf": 23, "brightness": 25, "contrast": 0.8},
    ],
    ids=["crf28-480p", "crf35-360p", "15fps", "crop10", "brightness-contrast"],
)
def test_watermark_survives_reupload(clips: tuple[Path, Path], tmp_path: Path, attack) -> None:
    _, marked = clips
    attacked = transcode(marked, tmp_path / "attacked.mp4", **attack)
    report = detect_video(attacked, KEY)
    assert report.whole.found, report.whole
    assert report.whole.identifier == ID


def test_watermark_is_invisible(clips: tuple[Path, Path], tmp_path: Path) -> None:
    """PSNR of the marked luma against the same source re-encoded without a mark."""
    source, marked = clips
    plain = tmp_path / "plain.mp4"
    with av.open(str(source)) as inp, av.open(str(plain), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 960, 540, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in inp.decode(video=0):
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)

    def luma(path: Path) -> np.ndarray:
        with av.open(str(path)) as c:
            return np.stack(
                [f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)]
            )

    a, b = luma(plain), luma(marked)
    n = min(len(a), len(b))
    mse = float(np.mean((a[:n] - b[:n]) ** 2))
    psnr = 10 * np.log10(255**2 / mse)
    assert psnr > 42, psnr


def test_corrupt_media_raises_cleanly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 5000)
    with pytest.raises(MediaError):
        detect_video(junk, KEY)
