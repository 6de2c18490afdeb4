"""provenance fingerprints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        # Existing records get an empty list: they were made before fingerprints existed.
        batch_op.add_column(
            sa.Column("fingerprints", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:

    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        batch_op.drop_column("fingerprints")
