"""Load: the real service (`cameoguard serve`, SQLite), the local broker and every feed worker
run as their own processes; this process drives the check API and the feed at a steady rate at
once, and reports check latency (p50/p99), errors, publish->decision latency and consumer lag
(items published through the API and not yet decided), sampled every 5 s.

python bench/load.py [--quick] [--seconds 300] [--check-rate 30] [--feed-rate 0.5]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import describe
from bench.feed_throughput import CAPTIONS
from bench.moderation_latency import free_port, make_key, start_server

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "a corgi surfing at sunset",
    "two friends cook pasta in a small kitchen",
    "un chat qui joue du piano dans un salon",
    "a red car drives through the desert at noon",
    "my friend waves from a sailboat",
    "fireworks over a quiet lake at night",
]


def _clips(home: Path) -> list[str]:
    """Two of our generator's signed outputs and an unsigned upload with a face."""
    from cameoguard import media_store
    from cameoguard.migrate import upgrade
    from cameoguard.settings import get_settings
    from provenance.keys import load_signing_material
    from provenance.records import GenerationFacts
    from provenance.service import mark_and_sign
    from tests.consent.conftest import FACES
    from tests.media_factory import make_clip, make_selfie

    upgrade(get_settings().effective_database_url)
    load_signing_material()
    locations = []
    for i in range(2):
        source = make_clip(home / f"source{i}.mp4", 10.0, 640, 360, seed=70 + i)
        facts = GenerationFacts(
            generation_id=f"gen_load{i}", creator_id="load", cameo_ids=[],
            policy_pack="load", decision="allow", generator="load",
        )  # fmt: skip
        mark_and_sign(source, home / f"signed{i}.mp4", facts, actor="load")
        locations.append(media_store.put(home / f"signed{i}.mp4"))
    face = make_selfie(home / "face.mp4", [FACES / "obama.jpg"], "hello from the lake",
                       size=(640, 360), seconds=10)  # fmt: skip
    locations.append(media_store.put(face))
    return locations


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
    args = parser.parse_args()
    seconds = 30.0 if args.quick else args.seconds
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
        clips = _clips(home)
        server = start_server(home, port, None)
        procs.append(server)
        key = make_key(home, None)
        code = "from cameoguard.cli import main; main()"
        for name in ("relay", "harassment", "minors", "deepfake", "aggregator"):
            log = (home / f"{name}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-c", code, "worker", name],
                                          stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        time.sleep(25)  # model loading and consumer-group joins
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30,
            limits=httpx.Limits(max_connections=64),
        )  # fmt: skip
        latencies: list[float] = []
        errors = {"checks": 0, "publish": 0}
        published: dict[str, float] = {}
        lag_samples: list[int] = []
        lock = threading.Lock()
        start = time.perf_counter() + 0.5
        wall_start = time.time() + 0.5
        run = uuid.uuid4().hex[:6]

        def check(i: int) -> None:
            due = start + i / args.check_rate
            time.sleep(max(0.0, due - time.perf_counter()))
            try:
                r = client.post(
                    "/v1/checks/prompt",
                    json={"prompt": PROMPTS[i % len(PROMPTS)],
                          "requester": {"id": f"u{i % 50}", "age_group": "adult"}},
                )  # fmt: skip
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            with lock:
                latencies.append((time.perf_counter() - due) * 1000)
                errors["checks"] += not ok

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

        sampler = threading.Thread(target=sample_lag, daemon=True)
        sampler.start()
        checks = int(args.check_rate * seconds)
        items = int(args.feed_rate * seconds)
        random.seed(0)
        with ThreadPoolExecutor(max_workers=48) as pool:
            futures = [pool.submit(check, i) for i in range(checks)]
            futures += [pool.submit(publish, n) for n in range(items)]
            for future in futures:
                future.result()
        deadline = time.time() + 90
        decided = _decided(list(published))
        while len(decided) < len(published) and time.time() < deadline:
            time.sleep(1)
            decided = _decided(list(published))
        stop.set()
        final_lag = len(published) - len(decided)
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
    lat = np.array(latencies)
    feed = np.array([decided[i] - published[i] for i in decided]) if decided else np.array([0.0])
    print(f"machine: {describe()}")
    print(f"load for {seconds:.0f} s: {args.check_rate:g} prompt checks/s and "
          f"{args.feed_rate:g} feed items/s; service, broker, 5 workers, 1 machine")  # fmt: skip
    print(f"checks: n={len(lat)} p50={np.percentile(lat, 50):.1f} ms "
          f"p99={np.percentile(lat, 99):.1f} ms errors={errors['checks']}")  # fmt: skip
    print(f"feed: published={len(published)} decided={len(decided)} publish errors="
          f"{errors['publish']} publish->decision p50={np.percentile(feed, 50):.1f} s "
          f"p99={np.percentile(feed, 99):.1f} s")  # fmt: skip
    print(f"consumer lag (items not yet decided, every 5 s): max={max(lag_samples, default=0)} "
          f"final={final_lag}")  # fmt: skip
    total_errors = errors["checks"] + errors["publish"] + final_lag
    print(f"headline: checks p99 {np.percentile(lat, 99):.1f} ms, feed p99 "
          f"{np.percentile(feed, 99):.1f} s, errors {total_errors}, "
          f"final lag {final_lag}")  # fmt: skip
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
