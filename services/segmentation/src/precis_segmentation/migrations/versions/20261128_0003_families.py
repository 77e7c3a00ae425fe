"""The built-in families' models and jobs, and the scores that `score` conditions compare.

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
        "seg_models",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("model", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_seg_models_kind", "seg_models", ["workspace_id", "kind", "created_at"])
    op.create_table(
        "seg_scores",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
    )
    op.create_index("ix_seg_scores_value", "seg_scores", ["workspace_id", "model_id", "score"])
    op.create_index("ix_seg_scores_profile", "seg_scores", ["workspace_id", "profile_id"])


def downgrade() -> None:
    op.drop_table("seg_scores")
    op.drop_table("seg_models")
