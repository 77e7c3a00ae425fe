"""Data-subject requests, their per-service tasks, and the suppression list.

Revision ID: 20261128_0002
Revises: 20261128_0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0002"
down_revision = "20261128_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsr_requests",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("expanded", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_dsr_requests_created", "dsr_requests", ["workspace_id", "created_at"])
    op.create_table(
        "dsr_tasks",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased", sa.JSON(), nullable=False),
        sa.Column("export_bytes", sa.Integer(), nullable=False),
        sa.Column("part", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_dsr_tasks_due", "dsr_tasks", ["state", "next_attempt_at"])
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_table("dsr_tasks")
    op.drop_table("dsr_requests")
