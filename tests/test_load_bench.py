"""The load benchmark in its short form, in the test command: the service, the broker and every
feed worker as their own processes, checks and feed items at a steady rate for 30 s; no errors,
every published item decided (no lag left)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.kafka
def test_the_short_load_run_has_no_errors_and_no_lag_left() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if not line.startswith("{")]
    assert result.returncode == 0, "\n".join(lines[-8:]) + result.stderr[-2000:]
    headline = lines[-1]
    assert headline.startswith("headline:") and "errors 0" in headline and "final lag 0" in headline
