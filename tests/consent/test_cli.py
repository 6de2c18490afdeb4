"""`cameoguard faces|voices compare|verify` on real photos and speech."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assembly.cli import app

pytestmark = pytest.mark.slow
DATA = Path(__file__).parents[1] / "data"


def test_faces_verify_reads_pairs_in_order(tmp_path: Path) -> None:
    webp = tmp_path / "obama.png"  # WebP bytes behind a .png name
    from PIL import Image

    Image.open(DATA / "faces" / "obama2.jpg").save(webp, format="WEBP")
    pairs = tmp_path / "pairs.csv"
    faces = DATA / "faces"
    pairs.write_text(
        "path_a,path_b\n"
        f"{faces / 'obama.jpg'},{webp}\n"
        f"{faces / 'obama.jpg'},{faces / 'biden.jpg'}\n"
        f"{faces / 'obama.jpg'},{faces / 'SOURCE.md'}\n"
        f"{faces / 'obama.jpg'},{tmp_path / 'missing.jpg'}\n"
    )
    result = CliRunner().invoke(app, ["faces", "verify", "--pairs", str(pairs)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["match"] for r in rows] == [True, False, False, False]
    assert rows[0]["similarity"] > rows[1]["similarity"]
    assert rows[2]["similarity"] is None and "not a readable" in rows[2]["reason"]
    assert rows[3]["similarity"] is None and "not found" in rows[3]["reason"]


def test_voices_compare_on_real_speech() -> None:
    voices = DATA / "voices"
    result = CliRunner().invoke(
        app,
        ["voices", "compare", str(voices / "librivox_austen_0870.wav"),
         str(voices / "librivox_austen_0920.wav")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["match"] is True and report["model"].startswith("resemblyzer")
    silent = CliRunner().invoke(
        app,
        ["voices", "compare", str(voices / "cmu_goforward.wav"), str(DATA / "faces" / "obama.jpg")],
    )
    assert json.loads(silent.stdout)["similarity"] is None
