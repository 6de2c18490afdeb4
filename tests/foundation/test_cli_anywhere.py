"""The CLI from any folder, as an operator or auditor runs it: the home defaults to the
per-user data folder (never ./var), the embedded SQLite is migrated on first use, and a database
that cannot be reached or is behind the code gives one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assembly.migrate import upgrade
from tests.media_factory import make_clip

ROOT = Path(__file__).resolve().parents[2]


def _run(cwd: Path, user: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CAMEOGUARD_") and k not in ("XDG_DATA_HOME", "PYTHONPATH")
    }
    clean |= {"HOME": str(user), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-c", "from assembly.cli import main; main()", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_keys_and_verify_work_from_any_folder_with_a_fresh_home(
    tmp_path: Path, elsewhere: Path
) -> None:
    user = tmp_path / "user"
    listed = _run(elsewhere, user, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "migrated the embedded database" in listed.stderr
    home = user / ".local" / "share" / "cameoguard"
    assert (home / "cameoguard.db").is_file()
    assert list(elsewhere.iterdir()) == []  # no ./var
    again = _run(elsewhere, user, "keys", "list")
    assert again.returncode == 0 and "migrated" not in again.stderr

    clip = make_clip(elsewhere / "clip.mp4", seconds=2, seed=3)
    verified = _run(elsewhere, user, "verify", clip.name)
    assert verified.returncode == 0, verified.stderr
    assert "No content credentials" in verified.stdout
    assert sorted(p.name for p in elsewhere.iterdir()) == ["clip.mp4"]


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path, elsewhere: Path) -> None:
    url = "postgresql+psycopg://cg:secret@127.0.0.1:9/nowhere"
    result = _run(elsewhere, tmp_path / "user", "keys", "list", CAMEOGUARD_DATABASE_URL=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "secret" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.stderr


def test_a_database_behind_the_code_is_one_line_and_exit_1(tmp_path: Path, elsewhere: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0012")
    result = _run(elsewhere, tmp_path / "user", "keys", "list", CAMEOGUARD_DATABASE_URL=url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "behind the code's" in result.stderr and "cameoguard db upgrade" in result.stderr
