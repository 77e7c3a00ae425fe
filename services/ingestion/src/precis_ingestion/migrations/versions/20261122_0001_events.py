"""The events log, which is also the "events" change feed.

Revision ID: 20261122_0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0001"
down_revision = None
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("event_name", sa.String(200), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("anonymous_id", sa.String(256), nullable=True),
        sa.Column("email_hash", sa.String(64), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_events_workspace_seq", "events", ["workspace_id", "seq"])
    op.create_index(
        "ux_events_workspace_message", "events", ["workspace_id", "message_id"], unique=True
    )
    op.create_index("ix_events_workspace_time", "events", ["workspace_id", "event_time"])
    op.create_index("ix_events_workspace_user", "events", ["workspace_id", "user_id"])
    op.create_index("ix_events_workspace_anonymous", "events", ["workspace_id", "anonymous_id"])
    op.create_index("ix_events_workspace_email", "events", ["workspace_id", "email_hash"])
    op.create_index("ix_events_workspace_phone", "events", ["workspace_id", "phone_hash"])


def downgrade() -> None:
    op.drop_table("events")
