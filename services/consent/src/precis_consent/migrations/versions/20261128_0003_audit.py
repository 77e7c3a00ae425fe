"""The audit log of accesses to personal data, and whose data each access was about.

Revision ID: 20261128_0003
Revises: 20261128_0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0003"
down_revision = "20261128_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("audit_event_id", sa.String(128), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("api_key_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(256), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(256), nullable=False),
        sa.Column("record_count", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["workspace_id", "occurred_at"])
    op.create_index(
        "ix_audit_log_principal", "audit_log", ["workspace_id", "principal", "occurred_at"]
    )
    op.create_index(
        "ix_audit_log_api_key", "audit_log", ["workspace_id", "api_key_id", "occurred_at"]
    )
    op.create_table(
        "audit_log_subjects",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("audit_event_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_audit_log_subjects_key",
        "audit_log_subjects",
        ["workspace_id", "kind", "value", "occurred_at", "audit_event_id"],
    )


def downgrade() -> None:
    op.drop_table("audit_log_subjects")
    op.drop_table("audit_log")
