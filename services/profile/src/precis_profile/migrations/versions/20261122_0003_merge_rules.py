"""Per-workspace merge rules and the record of identifiers that rules kept apart.

Revision ID: 20261122_0003
Revises: 20261122_0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0003"
down_revision = "20261122_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "merge_rules",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "identity_conflicts",
        sa.Column("conflict_id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("other_profile_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("source_message_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identity_conflicts_profile", "identity_conflicts", ["profile_id"])


def downgrade() -> None:
    op.drop_table("identity_conflicts")
    op.drop_table("merge_rules")
