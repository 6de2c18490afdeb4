"""review cases record the roles they need

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_cases") as batch:
        batch.add_column(
            sa.Column("roles_needed", sa.String(length=200), nullable=False, server_default="")
        )
        batch.create_index("ix_review_cases_roles_needed", ["roles_needed"])
    # Existing cases, by the shipped review policy: minors cases need child_safety wherever they
    # are, escalated ones senior.
    op.execute(
        "UPDATE review_cases SET roles_needed = CASE "
        "WHEN queue = 'escalations' AND minors THEN 'child_safety,senior' "
        "WHEN queue = 'escalations' THEN 'senior' "
        "WHEN minors OR queue = 'child_safety' THEN 'child_safety' ELSE '' END"
    )


def downgrade() -> None:
    with op.batch_alter_table("review_cases") as batch:
        batch.drop_index("ix_review_cases_roles_needed")
        batch.drop_column("roles_needed")
