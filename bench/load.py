"""Load: the real service (`cameoguard serve`, SQLite), the local broker and every feed worker
run as their own processes; this process drives the check API and the feed at a steady rate at
once, and reports check latency (p50/p99), errors, publish->decision latency and consumer lag
(items published through the API and not yet decided, and messages the consumer groups have not
committed as the broker reports it), sampled every 5 s. The checks come from an open-loop
asyncio client (bench._http), so the load generator takes little CPU from the service.

`--abuse` runs the service alone (no feed) under attack instead: a flood of requests with an
invalid key, huge unauthenticated bodies, media bombs and costly requests from another key
(bench/_abuse.py), while the normal key sends prompt checks at `--check-rate`; it reports the
normal checks' latency, what every attack got back, and the server's memory.

python bench/load.py [--quick] [--seconds 300] [--check-rate 30] [--feed-rate 0.5] [--abuse]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import httpx
import numpy as np
from kafka.errors import KafkaError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assembly.reactions import consumer_groups
from bench._abuse import jpeg_bomb, rss_mb, run_abuse, video_bomb
from bench._feed_clips import feed_clips
from bench._http import OpenLoopResult, build_post, open_loop
from bench._machine import describe
from bench.feed_throughput import CAPTIONS
from bench.moderation_latency import free_port, make_key, start_server
from consumers.groups import topic_names
from consumers.lag import group_lag, total_lag
from tests.media_factory import make_clip

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "a corgi surfing at sunset",
    "two friends cook pasta in a small kitchen",
    "un chat qui joue du piano dans un salon",
    "a red car drives through the desert at noon",
    "my friend waves from a sailboat",
    "fireworks over a quiet lake at night",
]


def _broker_lag(bootstrap: str) -> int:
    """Messages the feed's consumer groups have not committed yet, as the broker reports it."""
    from cameoguard.settings import get_settings

    prefix = get_settings().kafka_topic_prefix  # the workers' own prefix (same environment)
    return sum(
        total_lag(group_lag(bootstrap, group, topic_names(topics, prefix)))
        for group, topics in consumer_groups().items()
        if group in ("signals", "reactions")
    )


def _decided(item_ids: list[str]) -> dict[str, float]:
    from sqlalchemy import select

    from cameoguard.db import session_scope
    from consumers.tables import FeedDecision

    if not item_ids:
        return {}
    with session_scope() as session:
        rows = session.execute(
            select(FeedDecision.item_id, FeedDecision.created_at).where(
                FeedDecision.item_id.in_(item_ids)
            )
        ).all()
    out: dict[str, float] = {}
    for item_id, at in rows:
        stamp = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        out.setdefault(item_id, stamp.timestamp())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of load")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--check-rate", type=float, default=30.0, help="prompt checks per second")
    parser.add_argument("--feed-rate", type=float, default=0.5, help="items published per second")
    parser.add_argument("--abuse", action="store_true", help="attacks beside normal checks")
    args = parser.parse_args()
    seconds = 30.0 if args.quick else args.seconds
    if args.abuse:
        return abuse(seconds=20.0 if args.quick else min(args.seconds, 120.0), rate=args.check_rate)
    home = Path(tempfile.mkdtemp(prefix="cameoguard-load-"))
    port, kafka_port = free_port(), free_port()
    bootstrap = f"127.0.0.1:{kafka_port}"
    os.environ.update({"CAMEOGUARD_HOME": str(home), "CAMEOGUARD_KAFKA_BOOTSTRAP": bootstrap})
    os.environ.pop("CAMEOGUARD_DATABASE_URL", None)
    broker = [sys.executable, str(ROOT / "scripts" / "local_broker.py")]
    subprocess.run([*broker, "start", "--port", str(kafka_port), "--state-dir",
                    str(home / "broker")], check=True, capture_output=True)  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    try:
        clips = feed_clips(home, signed=2, seed=70)
        server = start_server(home, port, None)
        procs.append(server)
        key = make_key(home, None)
        code = "from assembly.cli import main; main()"
        for command in (["relay"], ["score", "all"], ["reactions"]):
            log = (home / f"{command[-1]}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-c", code, "worker", *command],
                                          stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        time.sleep(25)  # model loading and consumer-group joins
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30,
            limits=httpx.Limits(max_connections=64),
        )  # fmt: skip
        errors = {"checks": 0, "publish": 0}
        published: dict[str, float] = {}
        lag_samples: list[int] = []
        broker_lag_samples: list[int] = []
        lock = threading.Lock()
        wall_start = time.time() + 0.5
        run = uuid.uuid4().hex[:6]

        check_url = f"{base}/v1/checks/prompt"
        check_bodies = [
            build_post(
                check_url,
                {
                    "prompt": PROMPTS[i % len(PROMPTS)],
                    "requester": {"id": f"u{i % 50}", "age_group": "adult"},
                },
                {"Authorization": f"Bearer {key}"},
            )
            for i in range(len(PROMPTS) * 50)
        ]
        check_result: list[OpenLoopResult] = []

        def checks_open_loop() -> None:
            check_result.append(
                open_loop(check_url, lambda i: check_bodies[i % len(check_bodies)],
                          args.check_rate, seconds)
            )  # fmt: skip

        def publish(n: int) -> None:
            due = wall_start + n / args.feed_rate
            time.sleep(max(0.0, due - time.time()))
            item_id = f"load-{run}-{n:05d}"
            try:
                r = client.post(
                    "/v1/feed/items",
                    json={"item_id": item_id, "author_id": f"user_{n % 7}",
                          "media_location": clips[n % len(clips)],
                          "caption": CAPTIONS[n % len(CAPTIONS)]},
                )  # fmt: skip
                ok = r.status_code == 202
            except httpx.HTTPError:
                ok = False
            with lock:
                if ok:
                    published[item_id] = time.time()
                else:
                    errors["publish"] += 1

        stop = threading.Event()

        def sample_lag() -> None:
            while not stop.wait(5.0):
                with lock:
                    ids = list(published)
                lag_samples.append(len(ids) - len(_decided(ids)))
                try:
                    broker_lag_samples.append(_broker_lag(bootstrap))
                except (KafkaError, TimeoutError):
                    broker_lag_samples.append(-1)  # the broker did not answer in time

        sampler = threading.Thread(target=sample_lag, daemon=True)
        sampler.start()
        items = int(args.feed_rate * seconds)
        random.seed(0)
        checker = threading.Thread(target=checks_open_loop)
        checker.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(publish, n) for n in range(items)]:
                future.result()
        checker.join()
        deadline = time.time() + 90
        decided = _decided(list(published))
        while len(decided) < len(published) and time.time() < deadline:
            time.sleep(1)
            decided = _decided(list(published))
        stop.set()
        final_lag = len(published) - len(decided)
        final_broker_lag = _broker_lag(bootstrap)
        client.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run([*broker, "stop", "--state-dir", str(home / "broker")], check=False,
                       capture_output=True)  # fmt: skip
    checked = check_result[0]
    lat = checked.latencies_ms
    errors["checks"] = checked.errors
    feed = np.array([decided[i] - published[i] for i in decided]) if decided else np.array([0.0])
    print(f"machine: {describe()}")
    print(f"load for {seconds:.0f} s: {args.check_rate:g} prompt checks/s and "
          f"{args.feed_rate:g} feed items/s; service, broker, relay, scoring and reactions "
          "workers, 1 machine")  # fmt: skip
    print(f"checks: n={len(lat)} p50={np.percentile(lat, 50):.1f} ms "
          f"p99={np.percentile(lat, 99):.1f} ms errors={errors['checks']} "
          f"statuses={dict(sorted(checked.statuses.items()))}")  # fmt: skip
    print(f"feed: published={len(published)} decided={len(decided)} publish errors="
          f"{errors['publish']} publish->decision p50={np.percentile(feed, 50):.1f} s "
          f"p99={np.percentile(feed, 99):.1f} s")  # fmt: skip
    print(f"feed lag (items not yet decided, every 5 s): max={max(lag_samples, default=0)} "
          f"final={final_lag}")  # fmt: skip
    print(f"consumer lag from the broker (messages behind, all groups, every 5 s): "
          f"max={max(broker_lag_samples, default=0)} final={final_broker_lag}")  # fmt: skip
    total_errors = errors["checks"] + errors["publish"] + final_lag
    print(f"headline: checks p99 {np.percentile(lat, 99):.1f} ms, feed p99 "
          f"{np.percentile(feed, 99):.1f} s, errors {total_errors}, "
          f"final lag {final_lag}")  # fmt: skip
    return 0 if total_errors == 0 else 1


def abuse(seconds: float, rate: float) -> int:
    """The service under attack beside normal prompt checks (no feed workers)."""
    home = Path(tempfile.mkdtemp(prefix="cameoguard-abuse-"))
    port = free_port()
    os.environ.update({"CAMEOGUARD_HOME": str(home), "CAMEOGUARD_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    os.environ.pop("CAMEOGUARD_DATABASE_URL", None)
    media = {
        "jpeg_bomb": jpeg_bomb(),
        "video_bomb": video_bomb(home / "bomb.mp4"),
        "long_clip": make_clip(home / "long.mp4", seconds=30, width=640, height=360,
                               crf=30).read_bytes(),
    }  # fmt: skip
    server = start_server(home, port, None)
    try:
        key, abuser = make_key(home, None), make_key(home, None)
        base = f"http://127.0.0.1:{port}"
        check_url = f"{base}/v1/checks/prompt"
        bodies = [
            build_post(check_url, {"prompt": p, "requester": {"id": "u1", "age_group": "adult"}},
                       {"Authorization": f"Bearer {key}"})
            for p in PROMPTS
        ]  # fmt: skip
        baseline_rss = rss_mb(server.pid)
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                samples.append(rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        checks: list[OpenLoopResult] = []
        checker = threading.Thread(
            target=lambda: checks.append(
                open_loop(check_url, lambda i: bodies[i % len(bodies)], rate, seconds)
            )
        )
        checker.start()
        report = run_abuse(base, abuser, seconds, media)
        checker.join()
        stop.set()
        alive = server.poll() is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    normal = checks[0]
    print(f"machine: {describe()}")
    print(f"abuse for {seconds:.0f} s beside {rate:g} normal prompt checks/s; service and "
          f"attacker on one machine")  # fmt: skip
    for attack, counts in sorted(report.statuses.items()):
        answered = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        print(f"  {attack}: {answered}")
    unexpected = report.unexpected()
    growth = max(samples, default=baseline_rss) - baseline_rss
    print(f"server memory: {baseline_rss:.0f} MB before, peak +{growth:.0f} MB; "
          f"alive after: {alive}")  # fmt: skip
    print(f"normal checks: n={normal.sent} p50={normal.percentile(50):.1f} ms "
          f"p99={normal.percentile(99):.1f} ms errors={normal.errors}")  # fmt: skip
    print(f"headline: under abuse, normal checks p99 {normal.percentile(99):.1f} ms, "
          f"errors {normal.errors}, server memory +{growth:.0f} MB, "
          f"unexpected answers {sum(sum(c.values()) for c in unexpected.values())}")  # fmt: skip
    return 0 if alive and not unexpected and normal.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
