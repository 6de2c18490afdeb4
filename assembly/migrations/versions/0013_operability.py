"""operability: reviewers' skips and the workers' heartbeats

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The reviewers who released (skipped) a case: it goes behind the others for them.
    with op.batch_alter_table("review_cases") as batch:
        batch.add_column(sa.Column("skipped_by", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "worker_heartbeats",
        sa.Column("instance", sa.String(length=120), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("lag", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index(
        op.f("ix_worker_heartbeats_worker"), "worker_heartbeats", ["worker"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_heartbeats_worker"), table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
    with op.batch_alter_table("review_cases") as batch:
        batch.drop_column("skipped_by")
