"""likeness rights after publication: where protected people came from, usages and lineage,
owners' notification preferences, likeness claims, likeness matches, hash banks

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("protected_people") as batch:
        batch.add_column(sa.Column("source", sa.String(200), nullable=True))
        batch.create_index("ix_protected_people_source", ["source"])


def downgrade() -> None:
    with op.batch_alter_table("protected_people") as batch:
        batch.drop_index("ix_protected_people_source")
        batch.drop_column("source")
