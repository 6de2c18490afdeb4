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
    # The caller's ids, kept; none invented (a line without one has id null and its line number).
    assert [o["id"] for o in out[:5]] == ["a", "b", None, None, "e"]
    assert [o["line"] for o in out[:5]] == [1, 2, 3, 4, 5]
    assert out[0]["flagged"] is False and out[1]["flagged"] is True
    assert "error" in out[2] and "error" in out[4]
    assert set(out[0]) == {"line", "id", "flagged", "decision", "categories", "category_scores"}
    assert out[-1]["id"] == "n149"


def test_policy_validate() -> None:
    result = CliRunner().invoke(app, ["policy", "validate"])
    assert result.exit_code == 0


def test_moderate_jsonl_results_follow_their_lines_whatever_the_ids() -> None:
    # Repeated ids, and an id equal to another line's number, must not swap results.
    lines = [
        json.dumps({"id": 3, "text": "hardcore porn"}),
        json.dumps({"id": "x", "text": "a cat on a mat"}),
        json.dumps({"id": "x", "text": "hardcore porn"}),
        json.dumps({"text": "a sunny beach"}),
    ]
    result = CliRunner().invoke(app, ["moderate", "--jsonl"], input="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["line"], o["id"], o["flagged"]) for o in out] == [
        (1, 3, True), (2, "x", False), (3, "x", True), (4, None, False),
    ]  # fmt: skip
