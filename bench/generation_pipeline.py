"""Generation pipeline: the time of each step for a 10 s 640x360 clip (embedded backend, every
check, scan, mark and signature real), and jobs per minute with one and with two worker
processes sharing the database queue.

python bench/generation_pipeline.py [--quick] [--runs N] [--jobs M]
Uses its own CAMEOGUARD_HOME (SQLite, media store, development signing chain).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe

PROMPTS = [
    'A golden retriever surfs a wave at sunset and says "what a day"',
    'Two friends cook pasta in a small kitchen, one says "add more salt"',
    "A red car drives through the desert at noon",
    'A lighthouse in a storm, a voice says "stay safe out there"',
    "Fireworks over a quiet lake at night",
]


def _setup(home: Path) -> None:
    os.environ["CAMEOGUARD_HOME"] = str(home)
    from assembly.migrate import upgrade
    from cameoguard.settings import get_settings
    from provenance.keys import load_signing_material

    upgrade(get_settings().effective_database_url)
    load_signing_material()  # creates the development chain


def _submit(n: int, tag: str) -> list[str]:
    from cameoguard.db import session_scope
    from generator.jobs import JobRequest, submit

    ids = []
    with session_scope(write=True) as session:
        for i in range(n):
            job, _ = submit(
                session,
                JobRequest(
                    requester_id="bench",
                    prompt=PROMPTS[i % len(PROMPTS)],
                    idempotency_key=f"bench-{tag}-{i}",
                    duration_s=10,
                ),
                actor="bench",
            )
            ids.append(job.id)
    return ids


def _states(ids: list[str]) -> dict[str, str]:
    from sqlalchemy import select

    from cameoguard.db import session_scope
    from generator.tables import GenerationJob

    with session_scope() as session:
        rows = session.execute(
            select(GenerationJob.id, GenerationJob.state).where(GenerationJob.id.in_(ids))
        ).all()
    return dict(rows)


def step_times(runs: int) -> dict[str, list[float]]:
    from assembly.workers import generator_tools
    from cameoguard.db import session_scope
    from generator.tables import GenerationJob
    from generator.worker import work

    tools = generator_tools()
    ids = _submit(runs + 1, "steps")
    work(threading.Event(), tools, name="bench", until_idle=True)
    per_step: dict[str, list[float]] = {}
    with session_scope() as session:
        for job_id in ids[1:]:  # the first run warms the models up
            job = session.get(GenerationJob, job_id)
            assert job is not None and job.state == "done", (job_id, job and job.reason)
            for step in job.steps:
                per_step.setdefault(step["step"], []).append(float(step["ms"]))
    return per_step


def throughput(workers: int, jobs: int, logs: Path) -> float:
    procs = []
    for i in range(workers):
        log = logs / f"worker-{workers}-{i}.log"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from assembly.cli import main; main()",
                    "worker",
                    "generator",
                ],
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                env=dict(os.environ),
            )
        )
    deadline = time.monotonic() + 300
    while True:  # wait until every worker has loaded its models
        texts = [(logs / f"worker-{workers}-{i}.log").read_text() for i in range(workers)]
        ready = sum("generation worker running" in text for text in texts)
        if ready == workers:
            break
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise RuntimeError(f"workers did not start; see {logs}")
        time.sleep(0.5)
    started = time.monotonic()
    ids = _submit(jobs, f"tp{workers}")
    while True:
        states = _states(ids)
        if all(s in ("done", "failed", "blocked", "cancelled", "held") for s in states.values()):
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(timeout=120)
    bad = {k: v for k, v in states.items() if v != "done"}
    if bad:
        raise RuntimeError(f"jobs did not finish: {bad}")
    return jobs / (elapsed / 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    parser.add_argument("--runs", type=int, default=5, help="timed runs for the per-step table")
    parser.add_argument("--jobs", type=int, default=12, help="jobs for the throughput runs")
    args = parser.parse_args()
    runs, jobs, configs = (2, 3, [2]) if args.quick else (args.runs, args.jobs, [1, 2])

    with tempfile.TemporaryDirectory(prefix="cameoguard-bench-gen-") as tmp:
        home = Path(tmp)
        _setup(home)
        print(f"machine: {describe()}")
        print(f"clip: 10 s, 640x360, 25 fps, embedded backend; {runs} timed runs (after 1 warm-up)")
        per_step = step_times(runs)
        total = [sum(v) for v in zip(*per_step.values(), strict=True)]
        print(f"{'step':<16} {'median ms':>10} {'max ms':>8}")
        for name, values in per_step.items():
            print(f"{name:<16} {statistics.median(values):>10.0f} {max(values):>8.0f}")
        print(f"{'total':<16} {statistics.median(total):>10.0f} {max(total):>8.0f}")
        rates = {}
        for workers in configs:
            rates[workers] = throughput(workers, jobs, home)
            print(f"{workers} worker(s): {rates[workers]:.1f} jobs/min ({jobs} jobs of 10 s)")
        best = max(rates)
        print(
            f"generation: {statistics.median(total) / 1000:.1f} s per 10 s clip end to end; "
            f"{rates[best]:.1f} jobs/min with {best} workers on {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
