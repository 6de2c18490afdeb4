"""Long texts are read (normalised, rule-matched) in a worker process, so that the regular
expressions over megabytes of text do not hold the API process's GIL. The decision must be the
same as reading them in the API process, and a dead worker must fail the check, not allow it."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cameoguard import process_pool
from safety.policy import text_worker
from safety.policy.api import ON_LOOP_CHARS
from safety.policy.engine import CheckContext, get_engine
from tests.conftest import auth, make_key

pytestmark = pytest.mark.slow

LONG = [
    "a calm documentary about harbour life at dawn, gulls and fishing boats. " * 70,
    "for a movie: kill yourself you worthless piece of trash, nobody wants you. " * 60,
    "une vidéo où l'on montre comment fabriquer une bombe artisanale chez soi. " * 60,
    "s3xy t33n g1rl " + "in a bedroom, " * 400,
]


def _decision_data(decision) -> dict:  # type: ignore[no-untyped-def]
    data = decision.to_dict()
    data.pop("model")
    return data


def test_texts_read_in_a_worker_process_decide_as_in_the_api_process() -> None:
    assert all(len(t) > ON_LOOP_CHARS / 2 for t in LONG)
    engine = get_engine()
    rules = engine.rules

    async def in_process() -> list:  # type: ignore[type-arg]
        return await process_pool.run_in_process(
            text_worker.read_texts, rules.key, rules.pack, LONG
        )

    executor = process_pool.pool()
    assert executor is not None, "heavy work should run in processes by default"
    facts = asyncio.run(in_process())
    workers = list(executor._processes.values())  # type: ignore[union-attr]
    assert workers and os.getpid() not in {p.pid for p in workers}
    for worker in workers:  # heavy work yields the CPU to the API process
        assert (
            os.getpriority(os.PRIO_PROCESS, worker.pid)
            >= os.getpriority(os.PRIO_PROCESS, 0) + process_pool.WORKER_NICENESS
        )
    context = CheckContext(purpose="caption")
    remote = engine.decide(facts, context)
    local = engine.check_many(LONG, context)
    assert [_decision_data(d) for d in remote] == [_decision_data(d) for d in local]
    assert [d.action for d in local][2:] == ["block", "block"]  # the harmful ones are caught


def test_moderating_long_texts_goes_through_the_worker_and_fails_closed(
    client: TestClient,
) -> None:
    key = auth(make_key("platform"))
    texts = LONG * 2
    assert sum(len(t) for t in texts) > ON_LOOP_CHARS
    answer = client.post("/v1/moderations", json={"input": texts}, headers=key)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    expected = get_engine().check_many(texts, CheckContext(purpose="caption"))
    assert [r["flagged"] for r in results] == [d.action != "allow" for d in expected]
    assert results[2]["flagged"] and results[3]["flagged"] and not results[0]["flagged"]

    executor = process_pool.pool()
    assert executor is not None
    for process in list(executor._processes.values()):  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=10)
    failed = client.post("/v1/moderations", json={"input": texts}, headers=key)
    assert failed.status_code == 503, failed.text
    again = client.post("/v1/moderations", json={"input": texts}, headers=key)
    assert again.status_code == 200, again.text  # a fresh pool
    assert [r["flagged"] for r in again.json()["results"]] == [r["flagged"] for r in results]


def test_workers_end_with_the_api_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A server ended by a signal (uvicorn re-raises the one it caught, skipping atexit) or
    killed outright leaves no heavy-work process behind."""
    import subprocess
    import sys
    import time

    code = (
        "from cameoguard import process_pool; import os, time; process_pool.warm_up();"
        "print(*[p.pid for p in process_pool.pool()._processes.values()], flush=True);"
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert workers
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in workers if _running(pid)]
    assert not alive, f"heavy-work processes outlived the API process: {alive}"


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
