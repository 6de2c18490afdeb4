"""The fingerprint traces a copy to its record through the common evasions: a mirrored
re-encode without audio, a 3 s excerpt of a 10 s clip, a cropped re-encode (found by the crop
search over the records' region hashes, through the verification report too, which names the
crop), and a still screenshot (through the verification report, which fingerprints images);
unrelated media and flat frames match nothing. Real generated clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench._provenance_evasions import query_image, query_video, rewrite, screenshot, traced_to
from cameoguard.db import session_scope
from provenance import crop_search, records
from provenance.fingerprint import (
    MIN_QUALITY,
    REGIONS,
    FingerprintTap,
    closest,
    fingerprint_video,
    plain_hashes,
)
from provenance.verify import verify_file
from tests.media_factory import make_clip


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("evasions")
    return {
        "a": make_clip(root / "a.mp4", 10.0, 640, 360, seed=901),
        "b": make_clip(root / "b.mp4", 10.0, 640, 360, seed=902),
        "unrelated": make_clip(root / "u.mp4", 4.0, 480, 270, seed=903),
    }


@pytest.fixture(scope="module")
def index(outputs: dict[str, Path]) -> dict[str, list[str]]:
    return {name: fingerprint_video(outputs[name]) for name in ("a", "b")}


def _traced(tap: FingerprintTap, index: dict[str, list[str]]) -> str | None:
    return traced_to(tap, index)


def test_a_record_keeps_frame_hashes_and_tagged_region_hashes(
    index: dict[str, list[str]],
) -> None:
    entries = index["a"]
    plain = plain_hashes(entries)
    regions = [e for e in entries if ":" in e]
    assert 36 <= len(plain) <= 40  # every 0.25 s of 10 s, flat frames left out
    assert len(regions) <= 20 * len(REGIONS) and len(regions) >= 18 * len(REGIONS)
    tag, digest = regions[0].split(":")
    assert tag == "r76+0+0@0.00" and len(digest) == 64
    assert len(",".join(entries)) < 10_000  # ~9.5 kB per 10 s (was 31.8 kB with a crop grid)


def test_copies_are_traced_through_each_evasion(
    outputs: dict[str, Path], index: dict[str, list[str]], tmp_path: Path
) -> None:
    a = outputs["a"]
    mirrored = rewrite(a, tmp_path / "m.mp4", mirror=True, audio=False)
    best = closest(query_video(mirrored).hashes, index, query_video(mirrored).mirrored)
    assert best is not None and best.key == "a" and best.is_match and best.mirrored
    # Without the mirrored hashes the flip is not recognised: they are what traces it.
    assert closest(query_video(mirrored).hashes, index).is_match is False  # type: ignore[union-attr]
    excerpt = rewrite(a, tmp_path / "x.mp4", start=4.3, seconds=3.0)
    assert _traced(query_video(excerpt), index) == "a"
    cropped = rewrite(a, tmp_path / "c.mp4", crop=0.10, place=(0.3, 0.35), crf=28)
    assert closest(query_video(cropped).hashes, index).is_match is False  # type: ignore[union-attr]
    assert _traced(query_video(cropped), index) == "a"  # by the crop search
    found = crop_search.search(query_video(cropped).frames, index)
    assert found is not None and found.is_match and found.key == "a"
    scale, left, top = found.crop
    assert abs(scale - 0.90) < 0.015 and abs(left - 0.03) < 0.015 and abs(top - 0.035) < 0.015
    corner = rewrite(outputs["b"], tmp_path / "c2.mp4", crop=0.06, place=(1.0, 0.0), crf=28)
    assert _traced(query_video(corner), index) == "b"
    assert _traced(query_image(screenshot(a, 6.6, 0.8)), index) == "a"
    assert _traced(query_image(screenshot(outputs["b"], 2.2, 1.0)), index) == "b"
    assert _traced(query_video(outputs["unrelated"]), index) is None
    assert _traced(query_image(screenshot(outputs["unrelated"], 1.0, 1.0)), index) is None
    flat = FingerprintTap()
    flat.take_image(np.full((360, 640, 3), 12, np.uint8))
    assert flat.hashes == [], f"a flat frame is under PDQ quality {MIN_QUALITY}"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_verification_report_traces_a_screenshot(
    database: str, outputs: dict[str, Path], tmp_path: Path
) -> None:
    with session_scope(write=True) as session:
        records.register(
            session,
            records.GenerationFacts("gen_shot", "creator", ["cam_1"], "pack@1", "allow", "test"),
            watermark_id=0xABCDEF,
            sha256="0" * 64,
            fingerprints=fingerprint_video(outputs["a"]),
            actor="test",
        )
    shot = tmp_path / "shot.png"
    Image.fromarray(screenshot(outputs["a"], 3.4, 0.75)).save(shot)
    report = verify_file(shot, full_record=True)
    assert report["fingerprint"]["match"] is True, report["fingerprint"]
    assert report["record_source"] == "fingerprint"
    assert report["record"]["generation_id"] == "gen_shot"
    other = tmp_path / "other.png"
    Image.fromarray(screenshot(outputs["unrelated"], 1.0, 1.0)).save(other)
    assert verify_file(other, full_record=True)["record"] is None


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_verification_report_traces_a_cropped_copy_and_names_the_crop(
    database: str, outputs: dict[str, Path], tmp_path: Path
) -> None:
    with session_scope(write=True) as session:
        for name, watermark_id in (("a", 0xA1), ("b", 0xB2)):
            records.register(
                session,
                records.GenerationFacts(f"gen_{name}", "creator", [], "pack@1", "allow", "test"),
                watermark_id=watermark_id,
                sha256="0" * 64,
                fingerprints=fingerprint_video(outputs[name]),
                actor="test",
            )
    cropped = rewrite(outputs["b"], tmp_path / "c.mp4", crop=0.08, place=(0.8, 0.2), crf=28)
    report = verify_file(cropped, full_record=True)
    section = report["fingerprint"]
    assert section["match"] is True and section["watermark_id"] == f"{0xB2:016x}", section
    assert report["record"]["generation_id"] == "gen_b"
    scale, left, top = section["crop"]
    assert abs(scale - 0.92) < 0.015 and abs(left - 0.064) < 0.015 and abs(top - 0.016) < 0.015
    unrelated = verify_file(outputs["unrelated"], full_record=True)
    assert unrelated["fingerprint"]["match"] is False and unrelated["record"] is None
