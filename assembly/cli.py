"""The `cameoguard` command: assembles each area's sub-commands (and the kernel's own)."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from assembly.migrate import redact
from assembly.up import up
from assembly.wiring import wire
from assembly.workers import generator_tools
from cameoguard.audit.log import recent, verify_chain
from cameoguard.auth.keys import create_key, list_keys, revoke_key
from cameoguard.auth.principal import KNOWN_ROLES, Scope
from cameoguard.db import session_scope
from cameoguard.settings import get_settings
from consumers.cli import worker_app
from generator.cli import register as register_generator
from provenance.cli import dev_ca, provenance_app, verify
from rights.cli import rights_app
from safety.consent.cli import faces_app, protected_app, voices_app
from safety.policy.cli import moderate, policy_app
from wellbeing.cli import register as register_wellbeing
from wellbeing.cli import wellbeing_app

app = typer.Typer(
    help="cameoguard: trust-and-safety and provenance for an AI video app with cameos.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database: migrations.", no_args_is_help=True)
keys_app = typer.Typer(
    help="API keys (create, list, revoke) and the development signing chain.", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log: verify, tail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.command("moderate")(moderate)
app.add_typer(policy_app, name="policy")
app.command("verify")(verify)
app.add_typer(provenance_app, name="provenance")
keys_app.command("dev-ca")(dev_ca)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(faces_app, name="faces")
register_wellbeing(faces_app)
app.add_typer(wellbeing_app, name="wellbeing")
app.add_typer(voices_app, name="voices")
app.add_typer(protected_app, name="protected")
app.add_typer(rights_app, name="rights")
app.add_typer(worker_app, name="worker")
app.command("up")(up)
register_generator(app, worker_app, generator_tools)

err = Console(stderr=True)
CLI_ACTOR = "cli:operator"
wire()
# Commands that do not touch the database (or manage its migrations themselves).
NO_DATABASE = {"db", "policy", "moderate", "faces", "voices"}


@app.callback()
def prepare(ctx: typer.Context) -> None:
    """Before any command that uses the database: migrate the embedded SQLite on first use;
    refuse a database that cannot be reached or is not at the code's revision, in one line."""
    from assembly.migrate import DatabaseNotReady, ensure_database

    rest = [*getattr(ctx, "protected_args", []), *ctx.args, *sys.argv[1:]]
    if ctx.resilient_parsing or ctx.invoked_subcommand in NO_DATABASE or "--help" in rest:
        return
    if ctx.invoked_subcommand == "keys" and "dev-ca" in rest:
        return
    try:
        note = ensure_database()
    except DatabaseNotReady as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    if note:
        err.print(note, soft_wrap=True)


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default: setting `host`)"),
    port: int = typer.Option(None, help="Port (default: setting `port`)"),
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    settings = get_settings()
    # Heavy work left in threads (media glue) holds the GIL between switches; a short interval
    # keeps the event loop's share (bench/load.py --abuse: normal checks p50 266 -> 28 ms, p99
    # 701 -> 133 ms). Long texts are read in worker processes, started now rather than on the
    # first long request.
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    from cameoguard import process_pool

    process_pool.warm_up()
    uvicorn.run(
        "assembly.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from assembly.migrate import upgrade
    from cameoguard.files import private_dir

    settings = get_settings()
    private_dir(settings.home)
    upgrade(revision=revision)
    err.print(f"database at revision {revision}: {redact(settings.effective_database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    from assembly.migrate import current_revision

    typer.echo(current_revision() or "(empty database)")


@keys_app.command("create")
def keys_create(
    scope: list[Scope] = typer.Option(..., "--scope", help="Repeat for several scopes"),
    name: str = typer.Option("cli", help="A label for the key's holder"),
    role: list[str] = typer.Option(
        [], "--role", help=f"Reviewer roles, repeatable: {', '.join(sorted(KNOWN_ROLES))}"
    ),
    tenant: str = typer.Option(
        None, "--tenant", help="Bind a platform key to one tenant (it sees that tenant's data only)"
    ),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    try:
        with session_scope() as session:
            new = create_key(
                session, name=name, scopes=scope, roles=role, tenant=tenant, created_by=CLI_ACTOR
            )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err.print(f"key id {new.key_id}, scopes {sorted(s.value for s in scope)}; store it now:")
    typer.echo(new.secret)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, names, scopes; never the keys)."""
    table = Table("id", "name", "scopes", "roles", "created", "revoked")
    with session_scope() as session:
        for row in list_keys(session):
            table.add_row(
                row.id,
                row.name,
                ",".join(row.scopes),
                ",".join(row.roles),
                row.created_at.isoformat(timespec="seconds"),
                row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "",
            )
    Console().print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str, reason: str = typer.Option(..., help="Why, for the audit log")
) -> None:
    """Revoke a key at once."""
    with session_scope() as session:
        if not revoke_key(session, key_id, actor=CLI_ACTOR, reason=reason):
            err.print(f"[red]error:[/red] no active key {key_id!r}")
            raise typer.Exit(1)
    err.print(f"revoked {key_id}")


@audit_app.command("verify")
def audit_verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Check the whole hash chain; exit 1 if any row was edited, deleted or inserted."""
    with session_scope() as session:
        report = verify_chain(session)
    if as_json:
        problems = [{"seq": p.seq, "problem": p.problem} for p in report.problems]
        typer.echo(json.dumps({"ok": report.ok, "entries": report.entries, "problems": problems}))
    elif report.ok:
        err.print(f"[green]audit chain intact[/green]: {report.entries} entries")
    else:
        err.print(f"[red]audit chain BROKEN[/red]: {len(report.problems)} problem(s)")
        for problem in report.problems:
            err.print(f"  seq {problem.seq if problem.seq is not None else '-'}: {problem.problem}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("tail")
def audit_tail(limit: int = typer.Option(20, min=1, max=1000)) -> None:
    """Print the latest entries as JSON lines, oldest first."""
    with session_scope() as session:
        rows = recent(session, limit=limit)
    for entry in reversed(rows):
        typer.echo(
            json.dumps(
                {
                    "seq": entry.seq,
                    "at": entry.at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "subject": entry.subject,
                    "reason": entry.reason,
                    "details": json.loads(entry.details),
                }
            )
        )


def main() -> None:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except (OperationalError, ProgrammingError) as exc:
        # The database went away or lost a table during the command: one line, never a trace.
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()
        where = redact(get_settings().effective_database_url)
        err.print(
            f"[red]error:[/red] database {where}: {reason[0] if reason else type(exc).__name__}",
            soft_wrap=True,
        )
        sys.exit(1)
