"""Predicted customer lifetime value: per-workspace models and per-profile predictions.

Revision ID: 20261122_0007
Revises: 20261122_0006
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0007"
down_revision = "20261122_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clv_models",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "clv_predictions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("prediction", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("clv_predictions")
    op.drop_table("clv_models")
