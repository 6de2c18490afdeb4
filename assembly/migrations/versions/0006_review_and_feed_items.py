"""review cases, feed items, cameo notices

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_items",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("author_id", sa.String(length=200), nullable=False),
        sa.Column("author_age_group", sa.String(length=10), nullable=False),
        sa.Column("audience_age_group", sa.String(length=10), nullable=False),
        sa.Column("caption", sa.String(length=10000), nullable=False),
        sa.Column("media_location", sa.String(length=500), nullable=False),
        sa.Column("cameo_ids", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("state_source", sa.String(length=20), nullable=False),
        sa.Column("state_reasons", sa.JSON(), nullable=False),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_items")),
    )
    with op.batch_alter_table("feed_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_items_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feed_items_state"), ["state"], unique=False)

    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("cameo_id", sa.String(length=40), nullable=True),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.Column("queue", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("minors", sa.Boolean(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("excluded_reviewers", sa.JSON(), nullable=False),
        sa.Column("appeal_of", sa.String(length=40), nullable=True),
        sa.Column("claimed_by", sa.String(length=40), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_version", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
        sa.UniqueConstraint("open_key", name=op.f("uq_review_cases_open_key")),
    )
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_cases_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_cases_queue"), ["queue"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_cases_status"), ["status"], unique=False)

    op.create_table(
        "cameo_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("cameo_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cameo_id"], ["cameos.id"], name=op.f("fk_cameo_notices_cameo_id_cameos")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameo_notices")),
    )
    with op.batch_alter_table("cameo_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameo_notices_cameo_id"), ["cameo_id"], unique=False)

    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=True),
        sa.Column("reviewer", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["review_cases.id"], name=op.f("fk_review_decisions_case_id_review_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
    )
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decisions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_decisions_decided_at"), ["decided_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_review_decisions_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_decisions_reviewer"), ["reviewer"], unique=False
        )

    op.create_table(
        "user_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["review_cases.id"], name=op.f("fk_user_reports_case_id_review_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_reports")),
    )
    with op.batch_alter_table("user_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_reports_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_reports_item_id"))

    op.drop_table("user_reports")
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decisions_reviewer"))
        batch_op.drop_index(batch_op.f("ix_review_decisions_item_id"))
        batch_op.drop_index(batch_op.f("ix_review_decisions_decided_at"))
        batch_op.drop_index(batch_op.f("ix_review_decisions_case_id"))

    op.drop_table("review_decisions")
    with op.batch_alter_table("cameo_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameo_notices_cameo_id"))

    op.drop_table("cameo_notices")
    with op.batch_alter_table("review_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_cases_status"))
        batch_op.drop_index(batch_op.f("ix_review_cases_queue"))
        batch_op.drop_index(batch_op.f("ix_review_cases_item_id"))

    op.drop_table("review_cases")
    with op.batch_alter_table("feed_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_items_state"))
        batch_op.drop_index(batch_op.f("ix_feed_items_author_id"))

    op.drop_table("feed_items")
