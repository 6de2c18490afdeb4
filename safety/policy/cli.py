"""CLI of the policy area: `cameoguard moderate` and `cameoguard policy ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from safety.policy.engine import CheckContext, Decision, default_pack_path, get_engine
from safety.policy.normalize import InvalidText
from safety.policy.pack import CATEGORIES, PackError, load_pack

policy_app = typer.Typer(
    help="Policy packs: show, validate, train the classifier.", no_args_is_help=True
)
err = Console(stderr=True)
BATCH = 64


def _result_line(ident: Any, decision: Decision) -> dict[str, Any]:
    return {
        "id": ident,
        "flagged": decision.action != "allow",
        "decision": decision.action,
        "categories": {c: decision.categories[c].action != "allow" for c in CATEGORIES},
        "category_scores": {c: decision.categories[c].score for c in CATEGORIES},
    }


def moderate(
    text: str = typer.Argument(None, help="The text to check (or use --jsonl)"),
    jsonl: bool = typer.Option(False, "--jsonl", help="Read JSON lines {text, id} on stdin"),
    age_group: str = typer.Option("adult", help="adult, teen or unknown"),
    purpose: str = typer.Option("generation", help="generation, caption or comment"),
    cameo: bool = typer.Option(False, help="The prompt uses a cameo (stricter thresholds)"),
) -> None:
    """Check text against the policy: one text, or JSON lines in and out (batched)."""
    if age_group not in ("adult", "teen", "unknown") or purpose not in (
        "generation",
        "caption",
        "comment",
    ):
        err.print("[red]error:[/red] bad --age-group or --purpose")
        raise typer.Exit(2)
    context = CheckContext(age_group=age_group, uses_cameo=cameo, purpose=purpose)  # type: ignore[arg-type]
    if jsonl:
        _moderate_jsonl(context)
        return
    if text is None:
        err.print("[red]error:[/red] give a text or --jsonl")
        raise typer.Exit(2)
    try:
        decision = get_engine().check(text, context)
    except InvalidText as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    top = sorted(decision.categories.items(), key=lambda kv: kv[1].score, reverse=True)[:3]
    summary = {
        "decision": decision.action,
        "flagged": decision.flagged,
        "reasons": decision.reasons,
        "rules": [r["id"] for r in decision.rules],
        "top_scores": {name: result.score for name, result in top},
        "pack": decision.pack,
        "model": decision.model,
        "language": decision.language,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


def _moderate_jsonl(context: CheckContext) -> None:
    engine = get_engine()
    lines = sys.stdin.read().splitlines()
    out = sys.stdout
    with Progress(
        TextColumn("moderating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task("moderate", total=len(lines))
        for start in range(0, len(lines), BATCH):
            chunk = lines[start : start + BATCH]
            # (line number, the caller's id or None, text, error); results are matched by line,
            # never by id: ids are the caller's and may repeat.
            parsed: list[tuple[int, Any, str | None, str | None]] = []
            for offset, line in enumerate(chunk):
                number, ident = start + offset + 1, None
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                        ident = obj.get("id") if isinstance(obj, dict) else None
                        raise ValueError("each line must be an object with a string `text`")
                    ident = obj.get("id")
                    parsed.append((number, ident, obj["text"], None))
                except (ValueError, json.JSONDecodeError) as exc:
                    parsed.append((number, ident, None, str(exc)))
            good = [(n, t) for n, _i, t, e in parsed if t is not None and e is None]
            decisions: dict[int, Decision | str] = {}
            try:
                results = engine.check_many([t for _, t in good], context)
                for (n, _), decision in zip(good, results, strict=True):
                    decisions[n] = decision
            except InvalidText:
                for n, t in good:  # one bad text in the batch: check one by one
                    try:
                        decisions[n] = engine.check(t, context)
                    except InvalidText as exc:
                        decisions[n] = str(exc)
            for number, ident, _text, error in parsed:
                result = decisions.get(number) if error is None else error
                if isinstance(result, Decision):
                    line_out = {"line": number, **_result_line(ident, result)}
                else:
                    line_out = {"line": number, "id": ident, "error": result}
                out.write(json.dumps(line_out, ensure_ascii=False) + "\n")
            progress.advance(task, len(chunk))
    out.flush()


@policy_app.command("validate")
def validate(path: Path = typer.Argument(None, help="Pack file (default: the active one)")) -> None:
    """Validate a policy pack; exit 1 with file, line and reason when it is broken."""
    target = path or default_pack_path()
    try:
        pack = load_pack(target)
    except PackError as exc:
        err.print(f"[red]invalid pack[/red] {exc}")
        raise typer.Exit(1) from exc
    err.print(
        f"[green]ok[/green] {pack.ref}: {len(pack.categories)} categories, {len(pack.rules)} rules"
    )


@policy_app.command("train")
def train_cmd(
    datasets: Path = typer.Option(None, help="Folder of the labelled datasets"),
    epochs: int = typer.Option(None, help="Fine-tuning epochs (default: the shipped recipe's)"),
    layers: int = typer.Option(None, help="Transformer layers to keep, 1-6 (default: 4)"),
    heads_only: bool = typer.Option(
        False,
        "--heads-only",
        help="Keep the fine-tuned graph; refit the multilingual heads and calibration (1 min)",
    ),
) -> None:
    """Train the text policy classifier from the datasets: fine-tune the MiniLM model (about 25
    minutes on 2 free cores), fit the multilingual heads and calibrate the two together."""
    from safety.policy.train import DATASETS_DIR, EPOCHS, LAYERS, main

    argv = [
        "--datasets",
        str(datasets or DATASETS_DIR),
        "--epochs",
        str(epochs or EPOCHS),
        "--layers",
        str(layers or LAYERS),
    ]
    if heads_only:
        argv.append("--heads-only")
    raise typer.Exit(main(argv))
