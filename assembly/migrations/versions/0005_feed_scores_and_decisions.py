"""feed scores and decisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("decision_version", sa.Integer(), nullable=False),
        sa.Column("input_digest", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("risks", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_decisions")),
        sa.UniqueConstraint(
            "item_id", "decision_version", name=op.f("uq_feed_decisions_item_id_decision_version")
        ),
        sa.UniqueConstraint(
            "item_id", "input_digest", name=op.f("uq_feed_decisions_item_id_input_digest")
        ),
    )
    with op.batch_alter_table("feed_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_decisions_item_id"), ["item_id"], unique=False)

    op.create_table(
        "feed_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("classifier", sa.String(length=20), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_scores")),
        sa.UniqueConstraint(
            "item_id",
            "classifier",
            "version",
            name=op.f("uq_feed_scores_item_id_classifier_version"),
        ),
    )
    with op.batch_alter_table("feed_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_scores_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_scores_item_id"))

    op.drop_table("feed_scores")
    with op.batch_alter_table("feed_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_decisions_item_id"))

    op.drop_table("feed_decisions")
