"""cameos and protected people keep a multi-condition voice enrollment

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows hold one clean voice embedding: one view of one utterance.
    for table in ("cameos", "protected_people"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("voice_views", sa.Integer(), nullable=False, server_default="1")
            )
            batch.add_column(
                sa.Column("voice_utterances", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade() -> None:
    for table in ("cameos", "protected_people"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("voice_utterances")
            batch.drop_column("voice_views")
