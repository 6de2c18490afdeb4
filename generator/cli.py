"""`cameoguard generate` (the whole pipeline, locally, with a progress line per step) and
`cameoguard worker generator` (the job worker)."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from generator.pipeline import Tools

err = Console(stderr=True)
EXIT = {"done": 0, "failed": 1, "blocked": 2, "held": 3, "cancelled": 4}


class _Tools:
    """How the commands get the pipeline's tools: the assembly hands over the factory (the
    tools include the feed's publisher, which this area does not import)."""

    factory: Callable[[], Tools] | None = None

    @classmethod
    def make(cls) -> Tools:
        if cls.factory is None:
            raise RuntimeError("the generator commands were registered without their tools")
        return cls.factory()


def register(app: typer.Typer, worker_app: typer.Typer, make_tools: Callable[[], Tools]) -> None:
    """Adds `generate` and `worker generator` to the CLI, with the tools' factory."""
    _Tools.factory = make_tools
    app.command("generate")(generate)
    worker_app.command("generator")(generator_worker)


def generate(
    prompt: str = typer.Argument(..., help="What to generate"),
    out: Path = typer.Option(..., "--out", help="Where to write the marked MP4"),
    cameo: list[str] = typer.Option([], "--cameo", help="A cameo to use (repeatable)"),
    requester: str = typer.Option("cli-user", help="The requester's user id"),
    age_group: str = typer.Option("adult", help="adult or teen"),
    handle: str = typer.Option(None, help="The creator's handle in the visible mark"),
    duration: float = typer.Option(10.0, help="Seconds"),
    aspect: str = typer.Option("16:9", help="16:9, 9:16 or 1:1"),
    reference: Path = typer.Option(None, help="Reference image, voice clip or video"),
    as_json: bool = typer.Option(False, "--json", help="Print the job as JSON"),
) -> None:
    """Run one generation through every check and mark, here and now; print the decision trail.
    Exit 0 when done, 2 blocked, 3 held for review, 4 cancelled, 1 failed."""
    from cameoguard import media_store
    from cameoguard.db import session_scope
    from cameoguard.settings import get_settings
    from generator.backends import ASPECTS
    from generator.jobs import JobRequest, claim, job_view, submit
    from generator.pipeline import run_job
    from generator.tables import GenerationJob
    from generator.worker import worker_name
    from safety.media import MediaError, load_media

    settings = get_settings()
    if aspect not in ASPECTS:
        err.print(f"[red]error:[/red] aspect must be one of {sorted(ASPECTS)}")
        raise typer.Exit(2)
    if not 0 < duration <= settings.generation_max_seconds:
        err.print(
            f"[red]error:[/red] duration must be within 0-{settings.generation_max_seconds} s"
        )
        raise typer.Exit(2)
    reference_location = None
    if reference is not None:
        try:
            load_media(reference, max_seconds=settings.likeness_max_seconds, max_frames=1)
        except (MediaError, OSError) as exc:
            err.print(f"[red]error:[/red] {reference}: not usable media: {exc}")
            raise typer.Exit(2) from exc
        reference_location = media_store.put(reference, ".ref")
    with err.status("loading the models"):
        tools = _Tools.make()
    request = JobRequest(
        requester_id=requester,
        prompt=prompt,
        idempotency_key=f"cli-{secrets.token_hex(8)}",
        requester_age_group=age_group,
        requester_handle=handle,
        cameo_ids=cameo,
        duration_s=duration,
        aspect_ratio=aspect,
        reference_location=reference_location,
    )
    with session_scope(write=True) as session:
        job, _ = submit(session, request, actor="cli")
        job_id = job.id
    me = worker_name()
    claimed = claim(me, settings.generation_lease_seconds, job_id=job_id)
    if claimed is None:
        err.print("[red]error:[/red] a worker took the job first; follow it with the API")
        raise typer.Exit(1)

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as progress:
        tasks: dict[str, int] = {}

        def report(step: str, status: str) -> None:
            if step == "finish":
                return
            if status == "start":
                tasks[step] = progress.add_task(f"{step} ...", total=1)
            else:
                progress.update(tasks[step], description=f"{step}: {status}", completed=1)

        state = run_job(claimed, tools, me, progress=report)

    with session_scope() as session:
        final = session.get(GenerationJob, job_id)
        assert final is not None
        view = job_view(final).model_dump(mode="json")
        location = final.output_location
    if state == "done" and location:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, delete=False) as tmp:
            shutil.copyfile(media_store.resolve(location), tmp.name)
        Path(tmp.name).replace(out)
    if as_json:
        print(json.dumps(view, indent=2, default=str))
    else:
        table = Table(title=f"{job_id}: {state}")
        for column in ("step", "outcome", "ms", "details"):
            table.add_column(column)
        for step in view["steps"]:
            details = step["details"]
            summary = details.get("reason") or ", ".join(
                f"{k}={v}" for k, v in details.items() if k in ("watermark_id", "media_location")
            )
            table.add_row(step["step"], step["outcome"], f"{step['ms']:.0f}", str(summary)[:120])
        Console().print(table)
        Console().print(f"{state}: {view['reason']}" + (f" -> {out}" if state == "done" else ""))
    raise typer.Exit(EXIT.get(state, 1))


def generator_worker(
    until_idle: bool = typer.Option(False, "--until-idle", help="Exit when the queue is empty"),
) -> None:
    """Run queued generations until SIGTERM/SIGINT (the job in hand finishes first)."""
    from cameoguard.heartbeats import start_pulse
    from generator.worker import queued_jobs, work

    tools = _Tools.make()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"generation worker running ({tools.backend.name})")
    counts: Counter[str] = Counter()
    pulse = start_pulse("generator", lambda: (counts["processed"], counts["failed"], queued_jobs()))
    done = work(stop, tools, until_idle=until_idle, counts=counts)
    pulse.stop()
    err.print(f"generation worker stopped after {done} jobs")
