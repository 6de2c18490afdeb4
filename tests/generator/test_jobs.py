"""The job table as a queue: concurrent workers never take the same job (racing for real on
PostgreSQL), an expired lease lets another worker take over and the first one notices, and the
CLI runs one generation end to end."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from assembly.cli import app
from cameoguard.db import session_scope, utcnow
from generator.jobs import JobRequest, claim, finish_in, save_progress, submit
from generator.tables import GenerationJob

JOBS, WORKERS = 30, 6


def _queue(n: int) -> list[str]:
    ids = []
    with session_scope(write=True) as session:
        for i in range(n):
            job, _ = submit(
                session,
                JobRequest(requester_id="u", prompt=f"scene {i}", idempotency_key=f"key-{i:04d}"),
                actor="test",
            )
            ids.append(job.id)
    return ids


@pytest.mark.slow
def test_concurrent_workers_never_take_the_same_job(database: str) -> None:
    ids = _queue(JOBS)
    start = threading.Barrier(WORKERS)
    taken: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        me = f"w{n}"
        start.wait()
        try:
            while (job := claim(me, 60)) is not None:
                with lock:
                    taken.append((job.id, me))
                with session_scope(write=True) as session:
                    assert finish_in(session, job.id, me, "done", "test", []) is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    per_job = Counter(job_id for job_id, _ in taken)
    assert sorted(per_job) == sorted(ids) and set(per_job.values()) == {1}
    assert len({w for _, w in taken}) > 1


def test_an_expired_lease_moves_the_job_and_the_first_worker_stops(database: str) -> None:
    (job_id,) = _queue(1)
    first = claim("first", 60)
    assert first is not None and first.id == job_id
    assert claim("second", 60) is None  # held
    with session_scope(write=True) as session:
        session.execute(
            update(GenerationJob)
            .where(GenerationJob.id == job_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    second = claim("second", 60)
    assert second is not None and second.id == job_id and second.attempts == 2
    assert not save_progress(job_id, "first", [])  # the first worker must stop
    with session_scope(write=True) as session:
        assert finish_in(session, job_id, "first", "done", "late", []) is None
        assert finish_in(session, job_id, "second", "done", "ok", []) is not None


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_cli_runs_a_generation_and_prints_the_trail(database: str, tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    result = CliRunner().invoke(
        app,
        ["generate", 'A lighthouse in a storm, a voice says "stay safe"', "--out", str(out),
         "--duration", "10", "--handle", "ana"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000
    for step in ("prompt_check", "render", "output_scan", "mark_and_sign", "store"):
        assert step in result.output
    blocked = CliRunner().invoke(app, ["generate", "a naked child", "--out", str(tmp_path / "x")])
    assert blocked.exit_code == 2 and "blocked" in blocked.output
    assert not (tmp_path / "x").exists()
    refused = CliRunner().invoke(app, ["generate", "a cat", "--out", "x.mp4", "--aspect", "4:3"])
    assert refused.exit_code == 2
