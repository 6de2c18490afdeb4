"""`cameoguard worker ...`: the processes of the feed. Today: the outbox relay."""

from __future__ import annotations

import signal
import threading

import typer
from rich.console import Console

worker_app = typer.Typer(help="Feed workers (run one per process).", no_args_is_help=True)
err = Console(stderr=True)


@worker_app.command("relay")
def relay(
    once: bool = typer.Option(False, "--once", help="Publish what is pending, then exit"),
    bootstrap: str = typer.Option(None, help="Kafka bootstrap servers (default: settings)"),
) -> None:
    """Publish the outbox to Kafka until SIGTERM/SIGINT (which finishes the batch in hand)."""
    from kafka.errors import KafkaError

    from cameoguard.settings import get_settings
    from consumers.relay import OutboxRelay, make_producer, pending_count, wait_until_drained

    servers = bootstrap or get_settings().kafka_bootstrap
    try:
        producer = make_producer(servers)
    except KafkaError as exc:
        err.print(f"[red]error:[/red] cannot reach the broker at {servers}: {exc}")
        raise typer.Exit(1) from exc
    worker = OutboxRelay(producer)
    if once:
        drained = wait_until_drained(worker)
        producer.close()
        err.print(f"published {worker.published}, dead-lettered {worker.dead_lettered}")
        raise typer.Exit(0 if drained else 1)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"relay publishing the outbox to {servers}; {pending_count()} pending")
    worker.run(stop)
    producer.close()
    err.print(f"relay stopped: published {worker.published}, dead-lettered {worker.dead_lettered}")
