"""Retention policies per workspace and data kind, and the retention job's last runs.

Revision ID: 20261128_0005
Revises: 20261128_0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0005"
down_revision = "20261128_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("data_kind", sa.String(40), primary_key=True),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "retention_runs",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("data_kind", sa.String(40), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enforced_by", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    op.drop_table("retention_policies")
