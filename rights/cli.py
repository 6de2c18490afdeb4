"""`cameoguard rights ...`: the likeness re-scans after enrollments (the reactions worker runs
them in the background; these commands run them by hand and show where each stands) and the
owners' daily digests."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import typer
from rich.console import Console

rights_app = typer.Typer(
    help="Likeness rights: re-scans of recent items after an enrollment, owners' digests.",
    no_args_is_help=True,
)
err = Console(stderr=True)


@rights_app.command("rescan")
def rescan(
    items_per_minute: float = typer.Option(
        None, min=0.1, help="Pace (default: setting likeness_rescan_items_per_minute)"
    ),
    window_days: float = typer.Option(
        None, min=0.01, help="How far back (default: setting likeness_rescan_window_days)"
    ),
    max_items: int = typer.Option(None, min=1, help="Stop after this many items (resumable)"),
    follow: bool = typer.Option(
        False, "--follow", help="Keep looking for new identities until SIGTERM"
    ),
) -> None:
    """Queue a re-scan for every cameo and protected person enrolled within the window that has
    none, then match recent items against each, newest first, at the pace; a stopped re-scan
    continues from its cursor. Prints each re-scan as a JSON line."""
    from cameoguard.settings import get_settings
    from consumers.runner import run_until_stopped
    from rights.rescan import Pace, enqueue_new_identities, rescans, run_pending, scanner_name
    from safety.consent.models import get_models

    settings = get_settings()
    pace = Pace(items_per_minute or settings.likeness_rescan_items_per_minute or 30.0)
    window = timedelta(days=window_days or settings.likeness_rescan_window_days)
    models = get_models()
    scanner = scanner_name()
    scanned = [0]

    def work(stop: threading.Event) -> None:
        while not stop.is_set():
            queued = enqueue_new_identities(window)
            if queued:
                err.print(f"queued re-scans for {len(queued)} new identities")
            left = None if max_items is None else max_items - scanned[0]
            scanned[0] += run_pending(models, stop, pace, scanner, max_items=left)
            if not follow or (max_items is not None and scanned[0] >= max_items):
                return
            stop.wait(10.0)

    if follow:
        run_until_stopped(work, threading.Event())
    else:
        work(threading.Event())
    err.print(f"scanned {scanned[0]} items at up to {pace.items_per_minute:g} a minute")
    for row in rescans():
        typer.echo(json.dumps(row.model_dump(mode="json")))


@rights_app.command("rescans")
def list_rescans(
    state: str = typer.Option(None, help="pending, running or done"),
) -> None:
    """Where each re-scan stands (identity, items scanned and matched, cursor), as JSON lines."""
    from rights.rescan import rescans

    for row in rescans(state):
        typer.echo(json.dumps(row.model_dump(mode="json")))


@rights_app.command("digest")
def digest() -> None:
    """Send the daily digests of likeness uses (and matches) now due to `daily` owners."""
    from rights.notify import send_digests

    err.print(f"sent {send_digests()} digests")
