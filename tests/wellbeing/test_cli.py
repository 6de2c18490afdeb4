"""`cameoguard faces analyze --jsonl` on real photos and a video."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assembly.cli import app
from safety.consent.models import LikenessModels
from tests.wellbeing.conftest import FACES


def test_faces_analyze_jsonl(models: LikenessModels, selfies: dict[str, Path],
                             tmp_path: Path) -> None:  # fmt: skip
    lines = [
        {"id": "photo", "path": str(FACES / "obama.jpg")},
        {"id": "two", "path": str(FACES / "biden.jpg")},
        {"id": "video", "path": str(selfies["teen"])},
        {"id": "missing", "path": str(tmp_path / "nothing.jpg")},
    ]
    stdin = "".join(json.dumps(line) + "\n" for line in lines)
    result = CliRunner().invoke(app, ["faces", "analyze", "--jsonl"], input=stdin)
    assert result.exit_code == 0, result.output
    out = {a["id"]: a for a in map(json.loads, result.stdout.strip().splitlines())}
    assert list(out) == ["photo", "two", "video", "missing"]
    [face] = out["photo"]["faces"]
    assert len(face["box"]) == 4 and face["box"][2] > face["box"][0]
    assert face["apparent_age"] > 30 and face["possible_minor"] is False
    [young] = out["video"]["faces"]  # one person across the frames
    assert young["apparent_age"] < 25 and young["possible_minor"] is True
    assert "error" in out["missing"] and "faces" not in out["missing"]


def test_wellbeing_validate_and_age(
    client: object, headers: dict[str, str], tmp_path: Path
) -> None:
    from tests.wellbeing.conftest import assure

    runner = CliRunner()
    ok = runner.invoke(app, ["wellbeing", "validate"])
    assert ok.exit_code == 0 and "wellbeing-default@1" in ok.stdout
    broken = tmp_path / "wellbeing.yaml"
    broken.write_text("id: x\nversion: 0\n")
    assert runner.invoke(app, ["wellbeing", "validate", "--wellbeing", str(broken)]).exit_code == 1
    assert runner.invoke(app, ["wellbeing", "age", "nobody"]).exit_code == 1
    assure(client, headers, account_id="kid", declared_birth_date="2012-01-01")  # type: ignore[arg-type]
    shown = runner.invoke(app, ["wellbeing", "age", "kid"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["age_group"] == "teen"
