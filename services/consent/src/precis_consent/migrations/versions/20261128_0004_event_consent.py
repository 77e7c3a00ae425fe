"""The consent service's feed cursors: its position in ingestion's consent_captures feed.

Revision ID: 20261128_0004
Revises: 20261128_0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0004"
down_revision = "20261128_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_cursors")
