"""`cameoguard worker ...`: the processes of the feed: the outbox relay and the scoring workers
(one per signal of the registry, or all signals in one process). The assembly adds the
reactions worker and the others."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:  # the runner imports the Kafka client; commands import it when they run
    from consumers.runner import Handler

worker_app = typer.Typer(help="Feed workers (run one per process).", no_args_is_help=True)
err = Console(stderr=True)
STOP_GRACE_S = 5.0  # a stopping worker finishes the message in hand within this, or exits anyway


@worker_app.command("relay")
def relay(
    once: bool = typer.Option(False, "--once", help="Publish what is pending, then exit"),
    bootstrap: str = typer.Option(None, help="Kafka bootstrap servers (default: settings)"),
) -> None:
    """Publish the outbox to Kafka until SIGTERM/SIGINT (which finishes the batch in hand)."""
    from kafka.errors import KafkaError

    from cameoguard.heartbeats import start_pulse
    from cameoguard.settings import get_settings
    from consumers.relay import OutboxRelay, make_producer, pending_count, wait_until_drained
    from consumers.runner import exit_now, run_until_stopped

    servers = bootstrap or get_settings().kafka_bootstrap
    settings = get_settings()
    producer = None
    if once:
        try:
            producer = make_producer(servers)
        except KafkaError as exc:
            err.print(f"[red]error:[/red] cannot reach the broker at {servers}: {exc}")
            raise typer.Exit(1) from exc
    worker = OutboxRelay(
        producer,
        topic_prefix=settings.kafka_topic_prefix,
        replay_window_s=settings.relay_replay_window_s,
        renew_producer=lambda: make_producer(servers),
    )
    if once:
        drained = wait_until_drained(worker)
        worker.close(timeout_s=5.0)
        err.print(f"published {worker.published}, dead-lettered {worker.dead_lettered}")
        raise typer.Exit(0 if drained else 1)
    err.print(f"relay publishing the outbox to {servers}; {pending_count()} pending")
    pulse = start_pulse("relay", lambda: (worker.published, worker.dead_lettered, pending_count()))
    finished = run_until_stopped(worker.run, threading.Event(), grace_s=STOP_GRACE_S)
    pulse.stop()
    worker.close()
    err.print(
        f"relay stopped{'' if finished else ' (abandoned a round the broker did not answer)'}: "
        f"published {worker.published}, dead-lettered {worker.dead_lettered}"
    )
    exit_now(0)


GroupOpt = typer.Option(None, "--group", help="Consumer group (default: the worker's name)")
BootstrapOpt = typer.Option(None, help="Kafka bootstrap servers (default: settings)")


def run_worker(
    group: str,
    topics: list[str],
    handler: Handler,
    bootstrap: str | None,
    label: str,
    kind: str,
) -> None:
    """Consumes until SIGTERM/SIGINT; `kind` names the worker in heartbeats and /readyz."""
    from cameoguard.heartbeats import start_pulse
    from cameoguard.settings import get_settings
    from consumers.runner import Worker, WorkerConfig, describe, exit_now, run_until_stopped

    settings = get_settings()
    config = WorkerConfig(
        group=group,
        topics=topics,
        bootstrap=bootstrap or settings.kafka_bootstrap,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        topic_prefix=settings.kafka_topic_prefix,
    )
    worker = Worker(config, handler)
    err.print(f"{label} consuming {', '.join(config.topics)} from {config.bootstrap}")
    pulse = start_pulse(kind, lambda: (worker.handled, worker.dead_lettered, worker.lag))
    finished = run_until_stopped(lambda _: worker.run(), worker.stop, grace_s=STOP_GRACE_S)
    pulse.stop()
    err.print(
        f"{label} stopped{'' if finished else ' (abandoned its message)'}: {describe(worker)}"
    )
    exit_now(0)


@worker_app.command("score")
def score(
    name: str = typer.Argument(..., help="A signal of the registry, or `all`"),
    bootstrap: str = BootstrapOpt,
    group: str = GroupOpt,
) -> None:
    """Score published items with one signal (consumer group: the signal's name), or with every
    signal in one process (`all`, group `signals`: each item's media is analysed once)."""
    from cameoguard.contracts import CONTENT_PUBLISHED
    from cameoguard.settings import get_settings
    from consumers.feed_policy import feed_policy
    from consumers.scoring import scoring_handler
    from consumers.signals.base import SignalTools
    from consumers.signals.registry import SIGNALS

    if name != "all" and name not in SIGNALS:
        err.print(f"[red]error:[/red] unknown signal {name!r}; one of: all, {', '.join(SIGNALS)}")
        raise typer.Exit(2)
    tools = SignalTools(settings=get_settings(), feed_policy=feed_policy())
    chosen = list(SIGNALS) if name == "all" else [name]
    signals = [SIGNALS[n](tools) for n in chosen]
    for signal in signals:  # load what they need now, not on the first message
        signal.full_version()
    run_worker(
        group or ("signals" if name == "all" else name),
        [CONTENT_PUBLISHED],
        scoring_handler(signals, tools),
        bootstrap,
        f"{name} scoring worker",
        f"score:{name}",
    )


@worker_app.command("webhooks")
def webhooks_worker() -> None:
    """Deliver outbox events to the registered webhooks until SIGTERM/SIGINT: HMAC-signed,
    retried with exponential backoff, at least once (Idempotency-Key: evt_<id>)."""
    from cameoguard.heartbeats import start_pulse
    from consumers.runner import exit_now, run_until_stopped
    from consumers.webhooks import WebhookSender, pending_deliveries

    sender = WebhookSender()
    err.print("webhook sender delivering the outbox to the registered URLs")
    pulse = start_pulse("webhooks", lambda: (sender.delivered, sender.failed, pending_deliveries()))
    run_until_stopped(sender.run, threading.Event(), grace_s=STOP_GRACE_S)
    pulse.stop()
    err.print(
        f"webhook sender stopped: delivered {sender.delivered}, failed attempts {sender.failed}"
    )
    exit_now(0)
