"""The suppression list of erased subjects and the cursor of the consent_changes feed.

Revision ID: 20261128_0002
Revises: 20261122_0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0002"
down_revision = "20261122_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed_tokens",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
    op.drop_table("suppressed_tokens")
