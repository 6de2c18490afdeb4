"""compose.yaml cannot run here (no Docker): it is checked instead. Every cameoguard service runs
a command the CLI has, every CAMEOGUARD_ variable is a known setting, `cameoguard up` and
compose run the same workers, and the consumers can be scaled."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from assembly.cli import app
from assembly.up import WORKERS
from cameoguard.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "compose.yaml"


def _resolves(command: list[str]) -> bool:
    """Whether the CLI parses `command` (a group path to a command, then its arguments)."""
    group = typer.main.get_command(app)  # typer's own click: groups list their commands
    args = list(command)
    while hasattr(group, "list_commands") and args:
        sub = group.get_command(group.context_class(group), args[0])
        if sub is None:
            return False
        group, args = sub, args[1:]
    if hasattr(group, "list_commands"):
        return False
    try:
        group.make_context("cameoguard", list(args))
    except Exception:  # a usage error: unknown option or argument
        return False
    return True


def test_every_service_runs_a_cli_command_with_known_settings() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    ours = {name: s for name, s in services.items() if s.get("image", "").startswith("cameoguard")}
    assert {"api", "migrate", *WORKERS} <= set(ours)
    known = {name.upper() for name in Settings.model_fields} | {"HOME", "CONFIG"}
    for name, service in ours.items():
        assert _resolves(service["command"]), (name, service["command"])
        for variable in service.get("environment", {}):
            assert variable.startswith("CAMEOGUARD_"), (name, variable)
            assert variable.removeprefix("CAMEOGUARD_") in known, (name, variable)
    for name, command in WORKERS.items():
        assert ours[name]["command"] == command  # the same workers as `cameoguard up`
    assert ours["generator"]["deploy"]["replicas"] >= 1
    assert {"kafka", "postgres"} <= set(services)


def test_the_check_catches_an_unknown_command_or_setting() -> None:
    assert not _resolves(["worker", "nonexistent"])
    assert not _resolves(["worker"])
    assert not _resolves(["worker", "score", "all", "--no-such-option"])
    assert _resolves(["worker", "score", "all"])
    assert "NO_SUCH_SETTING" not in {name.upper() for name in Settings.model_fields}
