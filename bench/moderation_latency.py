"""Latency of `POST /v1/checks/prompt` over HTTP at a steady request rate, and the maximum
throughput: with concurrent single-prompt clients (the service micro-batches their model calls)
and with batched requests (`POST /v1/moderations` with 32 texts per request).

    python bench/moderation_latency.py [--quick] [--rate 100] [--seconds 60]

Starts the real service (`cameoguard serve`, SQLite, audit log on) in a second process on a free
port, makes a platform key, then drives it from this process. Latency is measured from each
request's scheduled send time (open loop), so a slow server cannot hide its queueing.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._http import build_post, open_loop
from bench._machine import describe
from safety.policy.training_data import load_split

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "CAMEOGUARD_HOME": str(home),
        "CAMEOGUARD_LOG_LEVEL": "WARNING",
        # No broker in this benchmark: point the readiness probe at a closed port, not a retry loop.
        "CAMEOGUARD_KAFKA_BOOTSTRAP": "127.0.0.1:1",
    }
    env.pop("CAMEOGUARD_DATABASE_URL", None)
    if database_url:
        env["CAMEOGUARD_DATABASE_URL"] = database_url
    return env


def start_server(home: Path, port: int, database_url: str | None) -> subprocess.Popen[bytes]:
    env = _env(home, database_url)
    exe = str(Path(sys.executable).parent / "cameoguard")
    subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = (home / "server.log").open("wb")  # a file, not a pipe: a full pipe would block it
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(home / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not become ready")


def make_key(home: Path, database_url: str | None) -> str:
    env = _env(home, database_url)
    exe = str(Path(sys.executable).parent / "cameoguard")
    out = subprocess.run(
        [exe, "keys", "create", "--scope", "platform", "--name", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def steady(url: str, key: str, prompts: list[str], rate: float, seconds: float) -> dict[str, float]:
    """Open loop (`bench._http`): request i is due at start + i/rate, whatever happened before,
    and its latency counts from then."""
    headers = {"Authorization": f"Bearer {key}"}
    bodies = [
        build_post(
            url,
            {
                "prompt": prompts[i % len(prompts)],
                "requester": {"id": f"u{i % 50}", "age_group": "adult"},
            },
            headers,
        )
        for i in range(len(prompts))
    ]
    return open_loop(url, lambda i: bodies[i % len(bodies)], rate, seconds).summary()


def _closed_loop(
    key: str, clients: int, seconds: float, send: Callable[[httpx.Client, int], int | None]
) -> tuple[int, int, float]:
    """`clients` threads each calling `send(client, n)` (n counts that thread's requests) until
    `seconds` pass; `send` returns how many texts were checked, or None for an error. Returns
    (texts checked, errors, elapsed seconds)."""
    done = 0
    errors = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal done, errors
        client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
        n = 0
        while time.perf_counter() < stop:
            checked = send(client, n)
            with lock:
                if checked is None:
                    errors += 1
                else:
                    done += checked
            n += 1
        client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, errors, time.perf_counter() - started


def saturate(
    url: str, key: str, prompts: list[str], clients: int, seconds: float
) -> dict[str, float]:
    """Single-prompt checks from `clients` concurrent clients, as fast as they are answered."""
    picked = iter(range(10**9))

    def send(client: httpx.Client, n: int) -> int | None:
        r = client.post(url, json={"prompt": prompts[next(picked) % len(prompts)]})
        return 1 if r.status_code == 200 else None

    done, errors, elapsed = _closed_loop(key, clients, seconds, send)
    return {"rps": (done + errors) / elapsed, "n": done + errors, "errors": errors}


def batched(url: str, key: str, prompts: list[str], batch: int, clients: int, seconds: float):
    """`POST /v1/moderations` with `input` lists of `batch` texts (the OpenAI shape): what a
    backend moderating captions and comments in bulk sends. Returns texts checked per second."""
    picked = iter(range(10**9))

    def send(client: httpx.Client, n: int) -> int | None:
        first = next(picked) * batch
        texts = [prompts[(first + k) % len(prompts)] for k in range(batch)]
        r = client.post(url, json={"input": texts})
        return len(r.json()["results"]) if r.status_code == 200 else None

    done, errors, elapsed = _closed_loop(key, clients, seconds, send)
    return {"texts_per_s": done / elapsed, "n": done, "errors": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s steady + 10 s saturation")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--database-url", help="an empty database to use instead of a fresh SQLite file"
    )
    args = parser.parse_args()
    seconds = 10.0 if args.quick else args.seconds
    prompts = [e.text for e in load_split("test") if len(e.text) < 400]
    random.Random(0).shuffle(prompts)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        port = free_port()
        proc = start_server(home, port, args.database_url)
        try:
            key = make_key(home, args.database_url)
            url = f"http://127.0.0.1:{port}/v1/checks/prompt"
            steady(url, key, prompts, args.rate, 3)  # warm-up
            s = steady(url, key, prompts, args.rate, seconds)
            t = saturate(url, key, prompts, args.clients, 10.0 if args.quick else 20.0)
            base = url.rsplit("/v1/", 1)[0]
            b = batched(f"{base}/v1/moderations", key, prompts, 32, 4, 10.0 if args.quick else 20.0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"machine: {describe()}")
    print(f"database: {'PostgreSQL' if args.database_url else 'SQLite (embedded default)'}")
    print(
        f"steady {args.rate:.0f} req/s for {seconds:.0f}s: n={s['n']} p50={s['p50']:.1f} ms "
        f"p99={s['p99']:.1f} ms max={s['max']:.1f} ms errors={s['errors']}"
    )
    print(
        f"saturation, {args.clients} clients: {t['rps']:.0f} checks/s "
        f"(n={t['n']}, errors={t['errors']})"
    )
    print(
        f"batched, /v1/moderations with 32 texts per request, 4 clients: "
        f"{b['texts_per_s']:.0f} checks/s (n={b['n']}, errors={b['errors']})"
    )
    best = max(t["rps"], b["texts_per_s"])
    print(
        f"headline: p99 {s['p99']:.1f} ms at {args.rate:.0f} req/s; max {best:.0f} checks/s "
        f"with batching"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
