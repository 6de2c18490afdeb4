"""continuous likeness scanning: matches of enrolled people in published items without consent
(the owner confirms or dismisses them), and the re-scans of recent items after an enrollment

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "likeness_matches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("identity", sa.String(60), nullable=False),
        sa.Column("cameo_id", sa.String(40), nullable=True),
        sa.Column("protected_person_id", sa.String(40), nullable=True),
        sa.Column("owner_id", sa.String(200), nullable=True),
        sa.Column("modality", sa.String(10), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("media_time", sa.Float(), nullable=False),
        sa.Column("consent", sa.String(20), nullable=False),
        sa.Column("found_by", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("takedown_id", sa.String(40), nullable=True),
        sa.Column("case_id", sa.String(40), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("item_id", "identity"),
    )
    for column in ("tenant", "item_id", "cameo_id", "state"):
        op.create_index(f"ix_likeness_matches_{column}", "likeness_matches", [column])
    op.create_table(
        "likeness_rescans",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("identity", sa.String(60), nullable=False, unique=True),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("since", WHEN, nullable=False),
        sa.Column("until", WHEN, nullable=False),
        sa.Column("cursor_at", WHEN, nullable=True),
        sa.Column("cursor_item", sa.String(64), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("scanned", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(120), nullable=True),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
    )
    op.create_index("ix_likeness_rescans_state", "likeness_rescans", ["state"])


def downgrade() -> None:
    op.drop_table("likeness_rescans")
    op.drop_table("likeness_matches")
