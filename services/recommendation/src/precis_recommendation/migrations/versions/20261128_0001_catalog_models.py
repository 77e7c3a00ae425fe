"""Recommendation: catalog, interactions, identities, segment members, jobs, model registry.

Revision ID: 20261128_0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0001"
down_revision = None
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rec_items",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(128), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("category", sa.String(512), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rec_items_category", "rec_items", ["workspace_id", "category", "item_id"])
    op.create_table(
        "rec_interactions",
        sa.Column("interaction_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_rec_interactions_profile",
        "rec_interactions",
        ["workspace_id", "profile_id", "occurred_at"],
    )
    op.create_index("ix_rec_interactions_time", "rec_interactions", ["workspace_id", "occurred_at"])
    op.create_index(
        "ux_rec_interactions_message",
        "rec_interactions",
        ["workspace_id", "message_id", "item_id", "kind"],
        unique=True,
    )
    op.create_table(
        "rec_identities",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), primary_key=True),
        sa.Column("profile_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_rec_identities_profile", "rec_identities", ["workspace_id", "profile_id"])
    op.create_table(
        "rec_segment_members",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
    )
    op.create_index(
        "ix_rec_segment_members_profile", "rec_segment_members", ["workspace_id", "profile_id"]
    )
    op.create_table(
        "rec_jobs",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_rec_jobs_state", "rec_jobs", ["state", "created_at"])
    op.create_table(
        "rec_models",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("training_data", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("baseline_metrics", sa.JSON(), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
    )
    op.create_table(
        "rec_promotions",
        sa.Column("promotion_id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_rec_promotions_workspace", "rec_promotions", ["workspace_id", "promotion_id"]
    )
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "feed_cursors",
        "rec_promotions",
        "rec_models",
        "rec_jobs",
        "rec_segment_members",
        "rec_identities",
        "rec_interactions",
        "rec_items",
    ):
        op.drop_table(table)
