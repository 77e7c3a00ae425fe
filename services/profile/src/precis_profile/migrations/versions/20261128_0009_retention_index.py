"""Index for the retention of raw events: the profile's copies of events by workspace and time.

Revision ID: 20261128_0009
Revises: 20261128_0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "20261128_0009"
down_revision = "20261128_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_profile_events_workspace_time", "profile_events", ["workspace_id", "event_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_profile_events_workspace_time", table_name="profile_events")
