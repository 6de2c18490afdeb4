"""consent and outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameos",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("owner_is_minor", sa.Boolean(), nullable=False),
        sa.Column("minor_reason", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("permission", sa.String(length=20), nullable=False),
        sa.Column("approved_user_ids", sa.JSON(), nullable=False),
        sa.Column("restrictions", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("face_model", sa.String(length=100), nullable=False),
        sa.Column("face_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("voice_model", sa.String(length=100), nullable=True),
        sa.Column("voice_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("face_image", sa.LargeBinary(), nullable=True),
        sa.Column("liveness", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameos")),
    )
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cameos_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cameos_status"), ["status"], unique=False)

    op.create_table(
        "enrollment_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment_challenges")),
    )
    op.create_table(
        "outbox_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_events_published_at"), ["published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_events_topic"), ["topic"], unique=False)

    op.create_table(
        "protected_people",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("face_model", sa.String(length=100), nullable=True),
        sa.Column("face_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("voice_model", sa.String(length=100), nullable=True),
        sa.Column("voice_embedding", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protected_people")),
    )
    op.create_table(
        "consent_grants",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("cameo_id", sa.String(length=40), nullable=False),
        sa.Column("cameo_version", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("prompt_sha256", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("generation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cameo_id"], ["cameos.id"], name=op.f("fk_consent_grants_cameo_id_cameos")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_grants")),
    )
    with op.batch_alter_table("consent_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_grants_cameo_id"), ["cameo_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_consent_grants_generation_id"), ["generation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_grants_generation_id"))
        batch_op.drop_index(batch_op.f("ix_consent_grants_cameo_id"))

    op.drop_table("consent_grants")
    op.drop_table("protected_people")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_topic"))
        batch_op.drop_index(batch_op.f("ix_outbox_events_published_at"))

    op.drop_table("outbox_events")
    op.drop_table("enrollment_challenges")
    with op.batch_alter_table("cameos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cameos_status"))
        batch_op.drop_index(batch_op.f("ix_cameos_owner_id"))

    op.drop_table("cameos")
