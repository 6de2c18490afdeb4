"""CLI of the provenance area: `cameoguard verify`, `cameoguard keys dev-ca`,
`cameoguard provenance mark`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from provenance.keys import create_dev_chain, dev_dir

provenance_app = typer.Typer(help="Provenance: mark and sign outputs.", no_args_is_help=True)
err = Console(stderr=True)


def verify(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON"),
) -> None:
    """Verify a media file's provenance: C2PA manifest, our watermark, the generation record.
    Exit 0 when the file was read and its credentials (if any) are intact, 1 when the file is
    not media this command can read, 2 when its content credentials are Invalid."""
    from provenance.verify import verify_file

    report = verify_file(file, full_record=True)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    else:
        _print_report(report)
    status = exit_status(report)
    if status:
        raise typer.Exit(status)


def exit_status(report: dict) -> int:
    """1: unreadable (an unknown or unsupported type); 2: a manifest that does not validate."""
    if report["file"]["type"] is None or report["c2pa"].get("state") == "unsupported":
        return 1
    c2pa = report["c2pa"]
    return 2 if c2pa.get("present") and c2pa.get("state") == "Invalid" else 0


def _print_report(report: dict) -> None:
    c2pa, watermark, record = report["c2pa"], report["watermark"], report["record"]
    typer.echo(report["verdict"])
    typer.echo(
        f"  file      {report['file']['type'] or 'unknown type'}, {report['file']['bytes']} bytes"
    )
    if c2pa["present"]:
        typer.echo(
            f"  c2pa      {c2pa['state']}; codes: {', '.join(c2pa.get('status_codes', [])[:8])}"
        )
    elif c2pa.get("state") == "unsupported":
        typer.echo(f"  c2pa      {c2pa.get('error', 'unsupported format')}")
    else:
        typer.echo("  c2pa      no manifest")
    if watermark.get("checked"):
        where = " and ".join(watermark.get("found_in", []))
        state = f"found {watermark['id']} in {where}" if watermark["found"] else "not found"
        typer.echo(f"  watermark {state} (sync z {watermark['confidence']['sync_z']})")
    audio = watermark.get("audio", {})
    if audio.get("checked"):
        state = f"found {audio['id']}" if audio.get("found") else f"not found ({audio['reason']})"
        typer.echo(
            f"  audio wm  {state} (sync z {audio['sync_z']}, threshold {audio['threshold_z']})"
        )
    if record:
        typer.echo(f"  record    generation {record['generation_id']}, {record['created_at']}")
        consent = record.get("consent", {})
        if consent.get("state") == "withdrawn":
            whose = ", ".join(f"{k} {v}" for k, v in consent.get("withdrawn", {}).items())
            typer.echo(f"  consent   WITHDRAWN for {consent['withdrawn_count']} cameo(s): {whose}")
        elif consent.get("state"):
            typer.echo(f"  consent   {consent['state'].replace('_', ' ')}")


def dev_ca(
    directory: Path = typer.Option(None, "--dir", help="Default: $CAMEOGUARD_HOME/signing"),
    if_missing: bool = typer.Option(False, "--if-missing", help="Keep an existing chain"),
) -> None:
    """Create a development signing chain (root, intermediate, leaf) and trust its root."""
    target = directory or dev_dir()
    if if_missing and (target / "chain.pem").is_file():
        err.print(f"signing chain already in {target}")
        return
    paths = create_dev_chain(target)
    err.print(
        f"development chain in {target}: root (trust anchor) {paths['root'].name}, "
        f"chain {paths['chain'].name}, key {paths['key'].name} (0600)"
    )


@provenance_app.command("mark")
def mark(
    src: Path = typer.Argument(..., exists=True, dir_okay=False),
    dst: Path = typer.Argument(...),
    generation_id: str = typer.Option(..., help="The generation this clip belongs to"),
    creator: str = typer.Option("cli", help="Creator id for the record"),
    handle: str | None = typer.Option(None, help="Creator handle shown in the visible mark"),
) -> None:
    """Watermark and sign an MP4, and record it (what the generator does to its output)."""
    from provenance.records import GenerationFacts
    from provenance.service import mark_and_sign

    facts = GenerationFacts(
        generation_id=generation_id, creator_id=creator, cameo_ids=[], policy_pack="manual",
        decision="allow", generator="cameoguard-cli", creator_handle=handle,
    )  # fmt: skip
    out = mark_and_sign(src, dst, facts, actor="cli:operator")
    err.print(f"wrote {out.path} (watermark {out.watermark_id}, sha256 {out.sha256[:16]}...)")
