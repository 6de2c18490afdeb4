"""`cameoguard worker ...`: the processes of the feed: the outbox relay and the classifier
workers."""

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

    from cameoguard.settings import get_settings
    from consumers.relay import OutboxRelay, make_producer, pending_count, wait_until_drained
    from consumers.runner import run_until_stopped

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
    finished = run_until_stopped(worker.run, threading.Event(), grace_s=STOP_GRACE_S)
    worker.close()
    err.print(
        f"relay stopped{'' if finished else ' (abandoned a round the broker did not answer)'}: "
        f"published {worker.published}, dead-lettered {worker.dead_lettered}"
    )


GroupOpt = typer.Option(None, "--group", help="Consumer group (default: the worker's name)")
BootstrapOpt = typer.Option(None, help="Kafka bootstrap servers (default: settings)")


def _run_worker(
    group: str, topics: list[str], handler: Handler, bootstrap: str | None, label: str
) -> None:
    from cameoguard.settings import get_settings
    from consumers.runner import Worker, WorkerConfig, describe, run_until_stopped

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
    finished = run_until_stopped(lambda _: worker.run(), worker.stop, grace_s=STOP_GRACE_S)
    err.print(
        f"{label} stopped{'' if finished else ' (abandoned its message)'}: {describe(worker)}"
    )


@worker_app.command("harassment")
def harassment(
    bootstrap: str = BootstrapOpt,
    group: str = GroupOpt,
) -> None:
    """Score captions of published items for harassment (consumer group `harassment`)."""
    from consumers.harassment import make_handler
    from consumers.schemas import GROUP_TOPICS
    from safety.policy.engine import get_engine

    _run_worker(
        group or "harassment",
        GROUP_TOPICS["harassment"],
        make_handler(get_engine()),
        bootstrap,
        "harassment worker",
    )


@worker_app.command("aggregator")
def aggregator(
    bootstrap: str = BootstrapOpt,
    group: str = GroupOpt,
) -> None:
    """Decide per item from the classifiers' scores, and take down or re-review items whose
    cameo consent was revoked (consumer group `aggregator`)."""
    from consumers.aggregator import make_handler
    from consumers.feed_policy import load_feed_policy
    from consumers.schemas import GROUP_TOPICS

    policy = load_feed_policy()
    _run_worker(
        group or "aggregator",
        GROUP_TOPICS["aggregator"],
        make_handler(policy),
        bootstrap,
        f"aggregator ({policy.ref})",
    )


@worker_app.command("minors")
def minors(
    bootstrap: str = BootstrapOpt,
    group: str = GroupOpt,
) -> None:
    """Score published items for minors risk (consumer group `minors`)."""
    from cameoguard.settings import get_settings
    from consumers.feed_policy import load_feed_policy
    from consumers.minors import score_item
    from consumers.schemas import GROUP_TOPICS
    from consumers.scoring import scoring_handler
    from safety.consent.models import get_models
    from safety.policy.engine import get_engine

    engine, models, policy = get_engine(), get_models(), load_feed_policy()
    margin = get_settings().minor_age_margin
    handler = scoring_handler(lambda item: score_item(item, engine, models, policy, margin))
    _run_worker(group or "minors", GROUP_TOPICS["minors"], handler, bootstrap, "minors worker")


@worker_app.command("deepfake")
def deepfake(
    bootstrap: str = BootstrapOpt,
    group: str = GroupOpt,
) -> None:
    """Score published items for deepfake risk (consumer group `deepfake`)."""
    from consumers.deepfake import score_item
    from consumers.schemas import GROUP_TOPICS
    from consumers.scoring import scoring_handler
    from safety.consent.models import get_models

    models = get_models()
    handler = scoring_handler(lambda item: score_item(item, models))
    _run_worker(
        group or "deepfake", GROUP_TOPICS["deepfake"], handler, bootstrap, "deepfake worker"
    )


@worker_app.command("lag")
def lag(
    group: list[str] = typer.Option(
        None, "--group", help="Consumer group(s) (default: every worker's own group)"
    ),
    bootstrap: str = BootstrapOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per partition"),
) -> None:
    """How far each consumer group is behind, from the broker: the high watermark minus the
    group's committed offset, per partition."""
    import json

    from kafka.errors import KafkaError

    from cameoguard.settings import get_settings
    from consumers.lag import group_lag, total_lag
    from consumers.schemas import GROUP_TOPICS, group_topic_names

    settings = get_settings()
    servers = bootstrap or settings.kafka_bootstrap
    for name in group or list(GROUP_TOPICS):
        topics = group_topic_names(name, settings.kafka_topic_prefix)
        try:
            partitions = group_lag(servers, name, topics)
        except (KafkaError, TimeoutError) as exc:
            err.print(f"[red]error:[/red] {name}: cannot read lag from {servers}: {exc}")
            raise typer.Exit(1) from exc
        if as_json:
            for p in partitions:
                record = {
                    "group": name,
                    "topic": p.topic,
                    "partition": p.partition,
                    "committed": p.committed,
                    "high_watermark": p.high_watermark,
                    "lag": p.lag,
                }
                typer.echo(json.dumps(record))
        else:
            typer.echo(f"{name}: {total_lag(partitions)} behind over {len(partitions)} partitions")
