"""Feed throughput: publish items (10 s 640x360 clips with sound and captions: four in five are
our generator's marked and signed output, one in five an unsigned upload showing a face) at a
steady rate through the outbox, with the relay, the scoring workers and the reactions worker
running as separate processes, and report items per second, the time from publication to
decision (p50, p99) and the CPU-seconds the feed's processes spent per item.

Layouts: `separate` runs one scoring process per registered signal (each analyses the item's
media for itself); `combined` runs every signal in one process (`cameoguard worker score all`:
the media is decoded and analysed once per item).

python bench/feed_throughput.py [--quick] [--items N] [--rate R] [--layouts separate,combined]
Starts its own broker (scripts/local_broker.py) on --port and its own SQLite database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._feed_clips import feed_clips
from bench._machine import describe

ROOT = Path(__file__).resolve().parents[1]

CAPTIONS = [
    "a day at the beach with friends",
    "my new recipe, you have to try this",
    "you are such a loser, nobody likes you",
    "sunset over the mountains from the cabin",
    "first day of middle school for my son",
]


def _cli(*args: str, log: Path) -> subprocess.Popen:
    code = "from assembly.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _workers(layout: str, run: str, bootstrap: str, logs: Path) -> list[list[str]]:
    from consumers.signals.registry import SIGNALS

    scoring = ["all"] if layout == "combined" else list(SIGNALS)
    commands = [["score", name, "--group", f"{name}-{run}"] for name in scoring]
    commands.append(["reactions", "--group", f"reactions-{run}"])
    return [["worker", *c, "--bootstrap", bootstrap] for c in commands]


def run_config(
    layout: str, items: int, rate: float, bootstrap: str, clips: list[str], logs: Path
) -> dict[str, float]:
    from sqlalchemy import select

    from cameoguard.contracts import CONTENT_PUBLISHED
    from cameoguard.db import session_scope
    from cameoguard.events import emit
    from consumers.tables import FeedDecision

    run = uuid.uuid4().hex[:6]
    procs = [_cli("worker", "relay", "--bootstrap", bootstrap, log=logs / f"relay-{run}.log")]
    for n, command in enumerate(_workers(layout, run, bootstrap, logs)):
        procs.append(_cli(*command, log=logs / f"{command[1]}-{run}-{n}.log"))
    time.sleep(25)  # model loading and group joins
    cpu_before = sum(_cpu_seconds(p.pid) for p in procs)
    published: dict[str, float] = {}
    started = time.time()
    try:
        for n in range(items):
            due = started + n / rate
            time.sleep(max(0.0, due - time.time()))
            item_id = f"it-{run}-{n:04d}"
            payload = {
                "schema_version": 1,
                "item_id": item_id,
                "media_location": clips[n % len(clips)],
                "caption": CAPTIONS[n % len(CAPTIONS)],
                "author_id": f"user_{n % 7}",
                "author_age_group": "adult",
                "published_at": datetime.now(UTC).isoformat(),
            }
            with session_scope(write=True) as session:
                emit(session, CONTENT_PUBLISHED, item_id, payload)
            published[item_id] = time.time()
        deadline = time.time() + 120 + items * 5
        decided: dict[str, float] = {}
        while time.time() < deadline and len(decided) < items:
            with session_scope() as session:
                rows = session.execute(
                    select(FeedDecision.item_id, FeedDecision.created_at).where(
                        FeedDecision.item_id.in_(list(published))
                    )
                ).all()
            for item_id, at in rows:
                stamp = at.replace(tzinfo=UTC) if at.tzinfo is None else at
                decided.setdefault(item_id, stamp.timestamp())
            time.sleep(0.5)
        cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu_before
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    latencies = [decided[i] - published[i] for i in decided]
    span = (max(decided.values()) - min(published.values())) if decided else float("nan")
    return {
        "decided": len(decided),
        "items": items,
        "items_per_s": len(decided) / span if decided else 0.0,
        "p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "cpu_per_item": cpu / max(1, len(decided)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 items per layout")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1.0, help="items published per second")
    parser.add_argument("--layouts", default="separate,combined")
    parser.add_argument("--port", type=int, default=19095)
    args = parser.parse_args()
    items = 6 if args.quick else args.items
    configs = args.layouts.split(",")
    home = Path(tempfile.mkdtemp(prefix="feedbench-"))
    os.environ["CAMEOGUARD_HOME"] = str(home)
    os.environ.pop("CAMEOGUARD_DATABASE_URL", None)
    bootstrap = f"127.0.0.1:{args.port}"
    os.environ["CAMEOGUARD_KAFKA_BOOTSTRAP"] = bootstrap
    broker_state = home / "broker"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "local_broker.py"), "start", "--port",
         str(args.port), "--state-dir", str(broker_state)],
        check=True,
    )  # fmt: skip
    try:
        # The app's feed: most items are our generator's output (marked and signed); one in
        # five is an upload of real footage with a face and no manifest.
        clips = feed_clips(home, signed=4, seed=50)
        print(f"machine: {describe()}")
        results = {}
        for layout in configs:
            r = run_config(layout, items, args.rate, bootstrap, clips, home)
            results[layout] = r
            print(
                f"{layout}: {r['decided']}/{r['items']} decided, {r['items_per_s']:.2f} items/s, "
                f"publish->decision p50 {r['p50']:.1f} s, p99 {r['p99']:.1f} s (published at "
                f"{args.rate}/s), {r['cpu_per_item']:.2f} CPU-s per item",
                flush=True,
            )
        best = min(results.values(), key=lambda r: r["p99"])
        name = next(k for k, v in results.items() if v is best)
        print(
            f"headline: {name}: {best['items_per_s']:.2f} items/s, p50 {best['p50']:.1f} s, "
            f"p99 {best['p99']:.1f} s publish->decision, {best['cpu_per_item']:.2f} CPU-s per "
            f"item ({items} items at {args.rate}/s)"
        )
    finally:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "local_broker.py"), "stop", "--state-dir",
             str(broker_state)],
            check=False,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
