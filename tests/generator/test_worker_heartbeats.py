"""Workers are seen: each beats a row with its counters, /readyz lists them (admins see the
instances, anyone the kinds missing), a generation request warns when no generator worker has
been seen for a minute, and a worker serves its metrics on its own port and logs a summary."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cameoguard.db import session_scope, utcnow
from cameoguard.heartbeats import Pulse, WorkerHeartbeat, beat, instance_name
from tests.conftest import auth, make_key
from tests.generator.conftest import submit


def test_a_generation_warns_when_no_generator_worker_was_seen(
    client: TestClient, platform: dict[str, str]
) -> None:
    never = submit(client, platform)
    assert never["state"] == "queued"
    assert "no generator worker seen ever" in never["warning"]
    assert "cameoguard worker generator" in never["warning"]
    followed = client.get(f"/v1/generations/{never['generation_id']}", headers=platform).json()
    assert followed["state"] == "queued" and "no generator worker" in followed["warning"]

    instance = instance_name("generator")
    beat("generator", instance, utcnow(), processed=0, failed=0, lag=1)
    assert submit(client, platform)["warning"] is None

    with session_scope(write=True) as session:
        session.execute(
            update(WorkerHeartbeat).values(last_seen_at=utcnow() - timedelta(seconds=125))
        )
    stale = submit(client, platform)
    assert "no generator worker seen for 12" in stale["warning"]


def test_readyz_lists_the_workers(client: TestClient) -> None:
    beat("relay", instance_name("relay"), utcnow(), processed=7, failed=1, lag=3)
    beat("score:all", instance_name("score:all"), utcnow(), processed=2, failed=0, lag=0)
    admin = client.get("/readyz", headers=auth(make_key("admin"))).json()
    workers = admin["parts"]["workers"]
    assert workers["ok"] is False and workers["missing"] == ["reactions", "generator"]
    relay = next(w for w in workers["instances"] if w["worker"] == "relay")
    assert relay["processed"] == 7 and relay["failed"] == 1 and relay["lag"] == 3
    assert relay["alive"] is True and 0 <= relay["last_seen_s"] < 30
    anyone = client.get("/readyz").json()["parts"]["workers"]
    assert anyone == {"ok": False, "required": False, "missing": ["reactions", "generator"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_worker_pulse_beats_logs_a_summary_and_serves_metrics(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    counters = {"processed": 0}

    def stats() -> tuple[int, int, int | None]:
        counters["processed"] += 1
        return counters["processed"], 0, 4

    port = _free_port()
    with caplog.at_level(logging.INFO, logger="cameoguard.workers"):
        pulse = Pulse("reactions", stats, every_s=0.05, summary_s=0.0, metrics_port=port).start()
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        pulse.stop()
    assert metrics.status_code == 200 and "python_info" in metrics.text
    with session_scope() as session:
        row = session.get(WorkerHeartbeat, pulse.instance)
        assert row is not None and row.worker == "reactions"
        assert row.processed == counters["processed"] and row.lag == 4
    assert any("reactions: processed" in r.getMessage() and "lag 4" in r.getMessage()
               for r in caplog.records)  # fmt: skip
