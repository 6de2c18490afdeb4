"""provenance records

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "provenance_records",
        sa.Column("watermark_id", sa.String(length=16), nullable=False),
        sa.Column("generation_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("creator_id", sa.String(length=200), nullable=False),
        sa.Column("cameo_ids", sa.JSON(), nullable=False),
        sa.Column("policy_pack", sa.String(length=100), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("generator", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("watermark_id", name=op.f("pk_provenance_records")),
    )
    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provenance_records_generation_id"), ["generation_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_provenance_records_sha256"), ["sha256"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("provenance_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provenance_records_sha256"))
        batch_op.drop_index(batch_op.f("ix_provenance_records_generation_id"))

    op.drop_table("provenance_records")
