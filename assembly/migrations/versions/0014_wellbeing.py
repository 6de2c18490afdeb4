"""teens and wellbeing: age checks, guardian links, parental controls, viewing sessions,
generation counts, item ratings

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "age_checks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("age_group", sa.String(10), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("assurance_level", sa.String(10), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("checked_by", sa.String(100), nullable=False),
        sa.Column("checked_at", TZ, nullable=False),
    )
    op.create_index("ix_age_checks_tenant", "age_checks", ["tenant"])
    op.create_index("ix_age_checks_account_id", "age_checks", ["account_id"])
    op.create_table(
        "guardian_links",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("teen_id", sa.String(200), nullable=False),
        sa.Column("guardian_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("invited_at", TZ, nullable=False),
        sa.Column("answered_at", TZ, nullable=True),
        sa.UniqueConstraint("tenant", "teen_id", "guardian_id"),
    )
    op.create_index("ix_guardian_links_tenant", "guardian_links", ["tenant"])
    op.create_index("ix_guardian_links_teen_id", "guardian_links", ["teen_id"])
    op.create_index("ix_guardian_links_guardian_id", "guardian_links", ["guardian_id"])
    op.create_table(
        "parental_controls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("teen_id", sa.String(200), nullable=False),
        sa.Column("controls", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.UniqueConstraint("tenant", "teen_id"),
    )
    op.create_index("ix_parental_controls_teen_id", "parental_controls", ["teen_id"])
    op.create_table(
        "viewing_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("continuous_seconds", sa.Float(), nullable=False),
        sa.Column("continuous_items", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("day_seconds", sa.Float(), nullable=False),
        sa.Column("nudged", sa.Integer(), nullable=False),
        sa.UniqueConstraint("tenant", "account_id"),
    )
    op.create_index("ix_viewing_sessions_account_id", "viewing_sessions", ["account_id"])
    op.create_table(
        "generation_counts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("tenant", "account_id", "day"),
    )
    op.create_index("ix_generation_counts_account_id", "generation_counts", ["account_id"])
    op.create_table(
        "item_ratings",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("rating", sa.String(10), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("basis", sa.String(200), nullable=False),
        sa.Column("policy", sa.String(100), nullable=False),
        sa.Column("rated_at", TZ, nullable=False),
    )
    op.create_index("ix_item_ratings_tenant", "item_ratings", ["tenant"])


def downgrade() -> None:
    for table in (
        "item_ratings",
        "generation_counts",
        "viewing_sessions",
        "parental_controls",
        "guardian_links",
        "age_checks",
    ):
        op.drop_table(table)
