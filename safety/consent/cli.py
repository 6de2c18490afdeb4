"""CLI of the consent area, for operators and evaluation:
`cameoguard faces compare|verify`, `cameoguard voices compare|verify`,
`cameoguard protected add`."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress

from safety.media import MediaError, load_media

faces_app = typer.Typer(
    help="Face matching (1:1) for operators and evaluation.", no_args_is_help=True
)
voices_app = typer.Typer(
    help="Voice matching (1:1) for operators and evaluation.", no_args_is_help=True
)
protected_app = typer.Typer(help="The protected-people bank.", no_args_is_help=True)
err = Console(stderr=True)
MAX_SECONDS = 600.0

Embed = Callable[[Path], tuple[np.ndarray | None, str | None]]


def _face_embedder() -> tuple[Embed, float, str]:
    from safety.consent.models import load_face_backend

    backend = load_face_backend()

    def embed(path: Path) -> tuple[np.ndarray | None, str | None]:
        try:
            media = load_media(path, max_seconds=MAX_SECONDS, max_frames=10, want_audio=False)
        except MediaError as exc:
            return None, str(exc)
        if not media.frames:
            return None, f"no picture in the file ({media.kind})"
        for _, rgb in media.frames:  # the largest face of the first frame that has one
            faces = backend.faces(rgb)
            if faces:
                return max(faces, key=lambda f: f.size).embedding, None
        return None, "no face found"

    return embed, backend.match_threshold, backend.name


def _voice_embedder() -> tuple[Embed, float, str]:
    from safety.models.voice import VoiceEmbedder

    embedder = VoiceEmbedder()

    def embed(path: Path) -> tuple[np.ndarray | None, str | None]:
        try:
            media = load_media(path, max_seconds=MAX_SECONDS, max_frames=1)
        except MediaError as exc:
            return None, str(exc)
        if not media.has_audio:
            return None, "no audio in the file"
        assert media.audio is not None
        voice = embedder.embed(media.audio)
        if voice is None:
            return None, "no speech found (less than 1 s after silence removal)"
        return voice.embedding, None

    return embed, embedder.match_threshold, embedder.name


def _compare(
    embed: Embed, threshold: float, model: str, a: Path, b: Path, cache: dict[Path, Any]
) -> dict[str, Any]:
    results = []
    for path in (a, b):
        if path not in cache:
            cache[path] = embed(path) if path.is_file() else (None, "file not found")
        results.append(cache[path])
    (ea, _), (eb, _) = results
    row: dict[str, Any] = {"path_a": str(a), "path_b": str(b)}
    if ea is None or eb is None:
        reasons = [f"{p}: {r}" for p, (_, r) in zip((a, b), results, strict=True) if r]
        return row | {"similarity": None, "match": False, "reason": "; ".join(reasons)}
    similarity = float(np.dot(ea, eb))
    return row | {
        "similarity": round(similarity, 4),
        "match": similarity >= threshold,
        "threshold": threshold,
        "model": model,
    }


def _read_pairs(pairs: Path) -> list[tuple[Path, Path]]:
    rows = []
    with pairs.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if number == 1 and [c.strip().lower() for c in row[:2]] == ["path_a", "path_b"]:
                continue
            if len(row) < 2:
                err.print(f"[red]error:[/red] {pairs}:{number}: expected path_a,path_b")
                raise typer.Exit(2)
            a, b = (Path(c.strip()) for c in row[:2])
            # Relative paths are taken from the working directory, else from the CSV's folder.
            a, b = (p if p.is_absolute() or p.exists() else pairs.parent / p for p in (a, b))
            rows.append((a, b))
    return rows


def _verify(make: Callable[[], tuple[Embed, float, str]], pairs: Path) -> None:
    rows = _read_pairs(pairs)
    embed, threshold, model = make()
    cache: dict[Path, Any] = {}
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("pairs", total=len(rows))
        for a, b in rows:
            result = _compare(embed, threshold, model, a, b, cache)
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
            progress.advance(task)


PathArg = typer.Argument(..., exists=True, dir_okay=False, readable=True)
PairsOpt = typer.Option(..., "--pairs", exists=True, dir_okay=False, help="CSV: path_a,path_b")


@faces_app.command("compare")
def faces_compare(a: Path = PathArg, b: Path = PathArg) -> None:
    """Similarity of the largest face in A and in B (image or video), and the match decision."""
    embed, threshold, model = _face_embedder()
    typer.echo(json.dumps(_compare(embed, threshold, model, a, b, {}), indent=2))


@faces_app.command("verify")
def faces_verify(pairs: Path = PairsOpt) -> None:
    """One JSON line per pair, in input order; a progress bar on stderr."""
    _verify(_face_embedder, pairs)


@voices_app.command("compare")
def voices_compare(a: Path = PathArg, b: Path = PathArg) -> None:
    """Similarity of the speaker in A and in B (audio or video), and the match decision."""
    embed, threshold, model = _voice_embedder()
    typer.echo(json.dumps(_compare(embed, threshold, model, a, b, {}), indent=2))


@voices_app.command("verify")
def voices_verify(pairs: Path = PairsOpt) -> None:
    """One JSON line per pair, in input order; a progress bar on stderr."""
    _verify(_voice_embedder, pairs)


@protected_app.command("add")
def protected_add(
    name: str = typer.Argument(..., help="The person's name"),
    media: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Photos/clips"),
    note: str = typer.Option("", help="Why this person is protected"),
) -> None:
    """Add a person whose likeness must never be generated without their own cameo."""
    from cameoguard.errors import Refusal
    from safety.consent.models import get_models
    from safety.consent.protected import add_protected_person

    try:
        result = add_protected_person(
            name, note, get_models(), list(media), actor="cli:operator", source="cli"
        )
    except Refusal as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    typer.echo(result.model_dump_json(indent=2))


@protected_app.command("seed")
def protected_seed(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="One folder a person"),
) -> None:
    """Seed the bank from the operator's folder (what the service does at start with
    CAMEOGUARD_PROTECTED_SEED_DIR); folders seeded before are skipped. Exit 1 if any failed."""
    from safety.consent.models import get_models
    from safety.consent.protected import seed_protected_bank

    report = seed_protected_bank(folder, get_models(), actor="cli:operator")
    typer.echo(report.model_dump_json(indent=2))
    if report.failed:
        raise typer.Exit(1)
