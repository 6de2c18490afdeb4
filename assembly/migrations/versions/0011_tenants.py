"""tenants: platform keys bound to one tenant, and the tenant of the data they act on

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_TABLES = ("cameos", "enrollment_challenges", "feed_items", "generation_jobs")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("tenant", sa.String(length=64), nullable=True))
    for table in TENANT_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("tenant", sa.String(length=64), nullable=False, server_default="")
            )
            if table != "enrollment_challenges":
                batch.create_index(f"ix_{table}_tenant", ["tenant"])
    with op.batch_alter_table("generation_jobs") as batch:
        batch.drop_constraint("uq_generation_jobs_idempotency_key", type_="unique")
        batch.create_unique_constraint(
            "uq_generation_jobs_tenant_idempotency_key", ["tenant", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("generation_jobs") as batch:
        batch.drop_constraint("uq_generation_jobs_tenant_idempotency_key", type_="unique")
        batch.create_unique_constraint("uq_generation_jobs_idempotency_key", ["idempotency_key"])
    for table in reversed(TENANT_TABLES):
        with op.batch_alter_table(table) as batch:
            if table != "enrollment_challenges":
                batch.drop_index(f"ix_{table}_tenant")
            batch.drop_column("tenant")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("tenant")
