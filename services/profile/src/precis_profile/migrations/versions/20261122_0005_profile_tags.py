"""Tags on profiles.

Revision ID: 20261122_0005
Revises: 20261122_0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0005"
down_revision = "20261122_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_tags",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_profile_tags_tag", "profile_tags", ["workspace_id", "tag", "profile_id"])


def downgrade() -> None:
    op.drop_table("profile_tags")
