"""Feed throughput: publish items (10 s 640x360 clips with sound and captions: four in five are
our generator's marked and signed output, one in five an unsigned upload showing a face) at a
steady rate through the outbox, with the relay, the three classifier workers and the aggregator
running as separate processes (one or two instances each), and report items per second and the
time from publication to decision (p50, p99).

python bench/feed_throughput.py [--quick] [--items N] [--rate R] [--instances 1,2]
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
    code = "from cameoguard.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def run_config(
    instances: int, items: int, rate: float, bootstrap: str, clips: list[str], logs: Path
) -> dict[str, float]:
    from sqlalchemy import select

    from cameoguard.db import session_scope
    from cameoguard.events import emit
    from consumers.schemas import CONTENT_PUBLISHED
    from consumers.tables import FeedDecision

    run = uuid.uuid4().hex[:6]
    procs = [_cli("worker", "relay", "--bootstrap", bootstrap, log=logs / f"relay-{run}.log")]
    for name in ("harassment", "minors", "deepfake", "aggregator"):
        for i in range(instances):
            procs.append(
                _cli("worker", name, "--bootstrap", bootstrap, "--group", f"{name}-{run}",
                     log=logs / f"{name}-{run}-{i}.log")
            )  # fmt: skip
    time.sleep(25)  # model loading and group joins
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
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 items, one instance each")
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1.0, help="items published per second")
    parser.add_argument("--instances", default="1,2")
    parser.add_argument("--port", type=int, default=19095)
    args = parser.parse_args()
    items = 6 if args.quick else args.items
    configs = [1] if args.quick else [int(x) for x in args.instances.split(",")]
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
        for instances in configs:
            r = run_config(instances, items, args.rate, bootstrap, clips, home)
            results[instances] = r
            print(
                f"{instances} instance(s) of each worker: {r['decided']}/{r['items']} decided, "
                f"{r['items_per_s']:.2f} items/s, publish->decision p50 {r['p50']:.1f} s, "
                f"p99 {r['p99']:.1f} s (published at {args.rate}/s)",
                flush=True,
            )
        best = max(results.values(), key=lambda r: r["items_per_s"])
        print(
            f"headline: {best['items_per_s']:.2f} items/s, p50 {best['p50']:.1f} s, "
            f"p99 {best['p99']:.1f} s publish->decision ({items} items at {args.rate}/s)"
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
