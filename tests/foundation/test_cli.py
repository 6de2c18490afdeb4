from __future__ import annotations

import re

from typer.testing import CliRunner

from assembly.cli import app
from tests.conftest import auth


def test_help_lists_each_area() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "keys", "audit"):
        assert re.search(rf"\b{command}\b", result.stdout), command


def test_keys_create_prints_a_working_key_once(client) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--scope", "reviewer", "--name", "ana"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert re.fullmatch(r"cg_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert client.get("/v1/whoami", headers=auth(key)).json()["scopes"] == ["reviewer"]
    listed = CliRunner().invoke(app, ["keys", "list"])
    assert key not in listed.stdout


def test_keys_create_rejects_an_unknown_role(database: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--scope", "reviewer", "--role", "wizard"])
    assert result.exit_code == 2
    assert "unknown roles" in result.output
