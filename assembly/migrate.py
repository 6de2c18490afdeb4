"""Alembic, driven from code: the history lives in `assembly/migrations`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from cameoguard.db import prepare_sqlite_file
from cameoguard.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url or get_settings().effective_database_url)
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    config = alembic_config(url)
    prepare_sqlite_file(config.get_main_option("sqlalchemy.url") or "")
    command.upgrade(config, revision)


def current_revision(url: str | None = None) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url or get_settings().effective_database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class DatabaseNotReady(RuntimeError):
    """The database cannot be reached, or its schema is not the code's: one line says which."""


def ensure_database() -> str:
    """Before a command uses the database: the embedded SQLite (no `database_url` set) is
    migrated to the code's revision on first use, with `upgrade` as `cameoguard db upgrade`
    (and so scripts/run.sh) does; a configured database that cannot be reached, or is behind or
    ahead of the code's migrations, is a DatabaseNotReady naming what to do. Returns what was
    done (for a note on stderr) or ""."""
    from sqlalchemy.exc import SQLAlchemyError

    from cameoguard.files import private_dir

    settings = get_settings()
    url = settings.effective_database_url
    where = redact(url)
    embedded = not settings.database_url
    if embedded:
        private_dir(settings.home)
    try:
        current = current_revision(url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
        raise DatabaseNotReady(
            f"cannot reach the database at {where}: {reason[0] if reason else type(exc).__name__}"
        ) from exc
    head = head_revision()
    if current == head:
        return ""
    if embedded:
        upgrade(url)
        return f"migrated the embedded database at {where} to revision {head}"
    from alembic.script import ScriptDirectory

    known = {s.revision for s in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    if current is not None and current not in known:
        raise DatabaseNotReady(
            f"the database at {where} is at revision {current}, newer than this code's {head}:"
            " upgrade cameoguard"
        )
    raise DatabaseNotReady(
        f"the database at {where} is at revision {current or '(empty)'}, behind the code's"
        f" {head}: run `cameoguard db upgrade`"
    )


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
