"""`cameoguard up` on a fresh home: one command starts the broker, the API and every worker; a
generation submitted through the API reaches `done` with nothing else started by hand; SIGTERM
stops every child."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from assembly.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_up_runs_everything_and_stops_every_child(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CAMEOGUARD_") and k not in ("PYTHONPATH", "XDG_DATA_HOME")
    }
    env |= {
        "HOME": str(tmp_path / "user"),
        "CAMEOGUARD_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "CAMEOGUARD_WORKER_HEARTBEAT_S": "1",
    }
    key = subprocess.run(
        [*CLI, "keys", "create", "--scope", "platform"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()  # fmt: skip
    api_port, broker_port = _free_port(), _free_port()
    log = (tmp_path / "up.log").open("w+")
    up = subprocess.Popen(
        [*CLI, "up", "--port", str(api_port), "--broker-port", str(broker_port)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{api_port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 240
        with httpx.Client(base_url=base, timeout=30) as client:
            while True:
                assert up.poll() is None, Path(log.name).read_text()[-3000:]
                assert time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(1)
            created = client.post(
                "/v1/generations",
                json={
                    "requester_id": "bob",
                    "prompt": 'A golden retriever surfs a wave and says "what a day"',
                    "duration_s": 4,
                    "idempotency_key": f"key-{uuid.uuid4().hex}",
                },
                headers=headers,
            )
            assert created.status_code == 202, created.text
            generation = created.json()["generation_id"]
            state = created.json()["state"]
            deadline = time.monotonic() + 400
            while state not in ("done", "failed", "blocked", "cancelled"):
                assert time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
                time.sleep(2)
                state = client.get(f"/v1/generations/{generation}", headers=headers).json()["state"]
            assert state == "done", Path(log.name).read_text()[-3000:]
            media = client.get(f"/v1/generations/{generation}/media", headers=headers)
            assert media.status_code == 200 and media.content[4:8] == b"ftyp"
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    output = Path(log.name).read_text()
    started = re.search(r"\[up\] started: (.+)", output)
    assert started is not None, output[-3000:]
    pids = {name: int(pid) for name, pid in re.findall(r"(\w+) (\d+)", started.group(1))}
    assert set(pids) == {"broker", "api", "relay", "signals", "reactions", "generator", "webhooks"}
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    assert "[generator] " in output and "[api] " in output  # each child's lines, prefixed
    assert up.returncode == 0, output[-3000:]
