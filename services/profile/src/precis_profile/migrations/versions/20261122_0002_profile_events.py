"""The profile service's own event history per profile (timeline, recomputation).

Revision ID: 20261122_0002
Revises: 20261122_0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0002"
down_revision = "20261122_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profile_events",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("event_name", sa.String(200), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties_json", sa.LargeBinary(), nullable=False),
        sa.Column("traits_json", sa.LargeBinary(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
    )
    op.create_index(
        "ix_profile_events_timeline", "profile_events", ["profile_id", "event_time", "message_id"]
    )


def downgrade() -> None:
    op.drop_table("profile_events")
