"""generation jobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generation_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("requester_id", sa.String(length=200), nullable=False),
        sa.Column("requester_age_group", sa.String(length=10), nullable=False),
        sa.Column("requester_handle", sa.String(length=100), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("cameo_ids", sa.JSON(), nullable=False),
        sa.Column("mutual_owner_ids", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("aspect_ratio", sa.String(length=10), nullable=False),
        sa.Column("reference_location", sa.String(length=500), nullable=True),
        sa.Column("publish", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("grant_ids", sa.JSON(), nullable=False),
        sa.Column("review_case_id", sa.String(length=40), nullable=True),
        sa.Column("review_approved", sa.Boolean(), nullable=False),
        sa.Column("backend", sa.String(length=100), nullable=True),
        sa.Column("output_location", sa.String(length=500), nullable=True),
        sa.Column("watermark_id", sa.String(length=32), nullable=True),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generation_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_generation_jobs_idempotency_key")),
    )
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_generation_jobs_requester_id"), ["requester_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_generation_jobs_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generation_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_generation_jobs_requester_id"))

    op.drop_table("generation_jobs")
