from __future__ import annotations

import json

from typer.testing import CliRunner

from assembly.cli import app


def test_moderate_one_text() -> None:
    result = CliRunner().invoke(app, ["moderate", "I will kill you"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["decision"] in ("review", "block")
    assert "harassment/threatening" in summary["flagged"]


def test_moderate_jsonl_keeps_order_ids_and_reports_bad_lines() -> None:
    lines = [
        json.dumps({"id": "a", "text": "a cat on a mat"}),
        json.dumps({"id": "b", "text": "hardcore porn"}),
        "not json",
        json.dumps({"text": "a sunny beach"}),
        json.dumps({"id": "e", "text": 5}),
    ]
    lines += [json.dumps({"id": f"n{i}", "text": f"a red car number {i}"}) for i in range(150)]
    result = CliRunner().invoke(app, ["moderate", "--jsonl"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o["id"] for o in out[:5]] == ["a", "b", 2, 3, 4]
    assert out[0]["flagged"] is False and out[1]["flagged"] is True
    assert "error" in out[2] and "error" in out[4]
    assert set(out[0]) == {"id", "flagged", "decision", "categories", "category_scores"}
    assert out[-1]["id"] == "n149"


def test_policy_validate() -> None:
    result = CliRunner().invoke(app, ["policy", "validate"])
    assert result.exit_code == 0
