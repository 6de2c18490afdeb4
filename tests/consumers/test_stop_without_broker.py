"""Without a working broker the feed's processes keep retrying instead of crashing, and still
stop within seconds on SIGTERM: against a closed port (connection refused) and against a
"broker" that accepts connections and never answers (every request times out)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent, emit

# The database plays no part in how a process stops: SQLite only.
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database", ["sqlite"], indirect=True)]


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """A TCP server that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def _start(command: list[str], bootstrap: str, log: Path) -> subprocess.Popen[bytes]:
    code = "from assembly.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *command, "--bootstrap", bootstrap],
        env={**os.environ, "CAMEOGUARD_LOG_LEVEL": "WARNING"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stops_quickly(process: subprocess.Popen[bytes], log: Path) -> float:
    deadline = time.monotonic() + 90  # models load first (the harassment worker's text model)
    while b"consuming" not in log.read_bytes() and b"publishing" not in log.read_bytes():
        assert process.poll() is None, f"exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "never started"
        time.sleep(0.2)
    time.sleep(6.0)  # long enough for a connection attempt to fail or time out, and retry
    assert process.poll() is None, f"crashed: {log.read_text()[-2000:]}"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=12)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"did not stop within 12 s of SIGTERM: {log.read_text()[-2000:]}")
    assert code == 0, log.read_text()[-2000:]
    return time.monotonic() - started


@pytest.mark.parametrize("kind", ["refused", "silent"])
@pytest.mark.parametrize("worker", [["reactions"], ["score", "harassment"]])
def test_a_worker_survives_a_missing_broker_and_stops_on_sigterm(
    database: str, tmp_path: Path, silent_broker: str, kind: str, worker: list[str]
) -> None:
    bootstrap = silent_broker if kind == "silent" else _closed_port()
    log = tmp_path / "worker.log"
    took = _stops_quickly(_start(["worker", *worker], bootstrap, log), log)
    assert took < 10.0


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_the_relay_keeps_events_pending_and_stops_on_sigterm(
    database: str, tmp_path: Path, silent_broker: str, kind: str
) -> None:
    with session_scope(write=True) as session:
        emit(session, "consent.revoked", "cam_1", {"schema_version": 1})
    bootstrap = silent_broker if kind == "silent" else _closed_port()
    log = tmp_path / "relay.log"
    took = _stops_quickly(_start(["worker", "relay"], bootstrap, log), log)
    assert took < 10.0
    with session_scope() as session:
        pending = session.scalar(select(func.count()).where(OutboxEvent.published_at.is_(None)))
    assert pending == 1
