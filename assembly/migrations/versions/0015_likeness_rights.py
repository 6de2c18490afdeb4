"""likeness rights after publication: where protected people came from, remix parents, owners'
takedowns and notification preferences, lineage found by fingerprint, items' fingerprints

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-04 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("protected_people") as batch:
        batch.add_column(sa.Column("source", sa.String(200), nullable=True))
        batch.add_column(
            sa.Column("licensed_user_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.create_index("ix_protected_people_source", ["source"])
    with op.batch_alter_table("feed_items") as batch:
        batch.add_column(sa.Column("parent_item_id", sa.String(64), nullable=True))
        batch.create_index("ix_feed_items_parent_item_id", ["parent_item_id"])
    op.create_table(
        "usage_takedowns",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("cameo_id", sa.String(40), nullable=False),
        sa.Column("usage", sa.String(120), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("generations", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    for column in ("tenant", "cameo_id", "usage"):
        op.create_index(f"ix_usage_takedowns_{column}", "usage_takedowns", [column])
    op.create_table(
        "likeness_notification_prefs",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("owner_id", sa.String(200), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "likeness_usage_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("cameo_id", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.String(200), nullable=False),
        sa.Column("usage", sa.String(120), nullable=False),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.UniqueConstraint("cameo_id", "usage"),
    )
    op.create_index("ix_likeness_usage_notices_cameo_id", "likeness_usage_notices", ["cameo_id"])
    op.create_index("ix_likeness_usage_notices_owner_id", "likeness_usage_notices", ["owner_id"])
    op.create_table(
        "lineage_links",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("parent_item_id", sa.String(64), nullable=False),
        sa.Column("found_by", sa.String(20), nullable=False),
        sa.Column("matched_frames", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_lineage_links_parent_item_id", "lineage_links", ["parent_item_id"])
    op.create_table(
        "item_fingerprints",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_item_fingerprints_tenant", "item_fingerprints", ["tenant"])
    op.create_table(
        "likeness_claims",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("person_name", sa.String(200), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False),
        sa.Column("claimant_id", sa.String(200), nullable=False),
        sa.Column("claimant_role", sa.String(20), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(10), nullable=False),
        sa.Column("licensed_user_ids", sa.JSON(), nullable=False),
        sa.Column("media_locations", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("protected_person_id", sa.String(40), nullable=True),
        sa.Column("effects", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("decided_at", WHEN, nullable=True),
    )
    op.create_index("ix_likeness_claims_tenant", "likeness_claims", ["tenant"])
    op.create_index("ix_likeness_claims_status", "likeness_claims", ["status"])
    op.create_table(
        "policy_named_people",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_policy_named_people_source", "policy_named_people", ["source"])
    op.create_table(
        "hash_banks",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("child_safety", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "bank_hashes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("bank", sa.String(100), nullable=False),
        sa.Column("signal_type", sa.String(10), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("content_id", sa.String(200), nullable=True),
        sa.Column("added_at", WHEN, nullable=False),
    )
    op.create_index("ix_bank_hashes_bank", "bank_hashes", ["bank"])


def downgrade() -> None:
    for table in (
        "bank_hashes",
        "hash_banks",
        "policy_named_people",
        "likeness_claims",
        "item_fingerprints",
        "lineage_links",
        "likeness_usage_notices",
        "likeness_notification_prefs",
        "usage_takedowns",
    ):
        op.drop_table(table)
    with op.batch_alter_table("feed_items") as batch:
        batch.drop_index("ix_feed_items_parent_item_id")
        batch.drop_column("parent_item_id")
    with op.batch_alter_table("protected_people") as batch:
        batch.drop_index("ix_protected_people_source")
        batch.drop_column("licensed_user_ids")
        batch.drop_column("source")
