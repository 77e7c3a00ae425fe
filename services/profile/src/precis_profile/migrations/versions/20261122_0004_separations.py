"""Profiles split apart by an unmerge, which must never merge again.

Revision ID: 20261122_0004
Revises: 20261122_0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0004"
down_revision = "20261122_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "separations",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("other_profile_id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_separations_other", "separations", ["other_profile_id"])


def downgrade() -> None:
    op.drop_table("separations")
