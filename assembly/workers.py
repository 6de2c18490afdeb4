"""Worker commands that need more than one area: the reactions worker (every area's reactions
to events) and the consumer lag of every group; and the generator's tools (with the feed's
publisher)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from consumers.cli import BootstrapOpt, GroupOpt, run_worker, worker_app
from generator.pipeline import Tools

err = Console(stderr=True)


def generator_tools() -> Tools:
    from consumers.items import publish
    from generator.worker import make_tools

    return make_tools(publish=publish)


@worker_app.command("reactions")
def reactions(bootstrap: str = BootstrapOpt, group: str = GroupOpt) -> None:
    """Run every area's reactions to events until SIGTERM: decide items from their signals'
    scores (feed), take down items and cancel generations of a revoked cameo (feed, generator),
    open likeness matches (rights); and, in the background, the likeness re-scans of recent
    items after each enrollment (rights). Consumer group `reactions`."""
    from assembly.reactions import REACTIONS_GROUP, all_reactions
    from consumers.runner import reaction_topics, reactions_handler
    from rights.rescan import Rescanner

    chosen = all_reactions()
    err.print("reactions: " + ", ".join(r.name for r in chosen))
    rescanner = Rescanner().start()  # likeness re-scans after enrollments, in the background
    run_worker(
        group or REACTIONS_GROUP,
        reaction_topics(chosen),
        reactions_handler(chosen),
        bootstrap,
        "reactions worker",
        "reactions",
    )
    rescanner.close()


@worker_app.command("lag")
def lag(
    group: list[str] = typer.Option(
        None, "--group", help="Consumer group(s) (default: every group of the deployment)"
    ),
    bootstrap: str = BootstrapOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per partition"),
) -> None:
    """How far each consumer group is behind, from the broker: the high watermark minus the
    group's committed offset, per partition."""
    from kafka.errors import KafkaError

    from assembly.reactions import consumer_groups
    from cameoguard.settings import get_settings
    from consumers.groups import topic_names
    from consumers.lag import group_lag, total_lag

    settings = get_settings()
    servers = bootstrap or settings.kafka_bootstrap
    groups = consumer_groups()
    for name in group or list(groups):
        topics = topic_names(
            groups.get(name, groups[next(iter(groups))]), settings.kafka_topic_prefix
        )
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
