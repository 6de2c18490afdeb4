"""feed scores record the cameos each signal saw

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 16:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_scores") as batch:
        batch.add_column(sa.Column("cameos_seen", sa.JSON(), nullable=True))
    # Until now the deepfake signal wrote the cameos it saw into its evidence.
    connection = op.get_bind()
    scores = sa.table(
        "feed_scores", sa.column("id"), sa.column("evidence", sa.JSON), sa.column("cameos_seen")
    )
    for row_id, evidence in connection.execute(sa.select(scores.c.id, scores.c.evidence)).all():
        entries = json.loads(evidence) if isinstance(evidence, str) else evidence or []
        seen = set()
        for entry in entries:
            if entry.get("cameo_id"):
                seen.add(entry["cameo_id"])
            seen.update(entry.get("ids") or [])
        connection.execute(
            sa.update(scores).where(scores.c.id == row_id).values(cameos_seen=sorted(seen))
        )
    with op.batch_alter_table("feed_scores") as batch:
        batch.alter_column("cameos_seen", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_scores") as batch:
        batch.drop_column("cameos_seen")
