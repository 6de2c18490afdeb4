from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from assembly.cli import app
from assembly.migrate import alembic_config, current_revision
from assembly.tables import Base
from cameoguard.db import get_engine


def test_migrations_match_the_models(database: str) -> None:
    with get_engine().connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_is_at_head(database: str) -> None:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(database)).get_current_head()
    assert current_revision(database) == head


def test_downgrade_to_base_and_up_again(database: str) -> None:
    from alembic import command

    from cameoguard.db import reset_engine

    reset_engine()
    command.downgrade(alembic_config(database), "base")
    assert current_revision(database) is None
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert current_revision(database) is not None
