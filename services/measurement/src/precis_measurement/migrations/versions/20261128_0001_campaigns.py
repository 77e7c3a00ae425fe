"""Measurement: campaigns, assignments, exposures, conversions, touches, identities, uplift.

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


def upgrade() -> None:
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("feed", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "feed"),
    )
    op.create_table(
        "ms_assignments",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("arm_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "campaign_id", "profile_id"),
    )
    op.create_index(
        "ix_ms_assignments_profile", "ms_assignments", ["workspace_id", "profile_id"], unique=False
    )
    op.create_table(
        "ms_campaigns",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("segment_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("primary_metric", sa.Integer(), nullable=False),
        sa.Column("secondary_metrics", sa.JSON(), nullable=False),
        sa.Column("conversion_event", sa.String(length=200), nullable=False),
        sa.Column("revenue_property", sa.String(length=200), nullable=False),
        sa.Column("attribution_window_seconds", sa.BigInteger(), nullable=False),
        sa.Column("cost_per_send", sa.Float(), nullable=False),
        sa.Column("fixed_cost", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pre_period_seconds", sa.BigInteger(), nullable=False),
        sa.Column("min_cell_size", sa.Integer(), nullable=False),
        sa.Column("targeting_model_id", sa.String(length=64), nullable=False),
        sa.Column("send_time_optimization", sa.Boolean(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("external_assignment", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("segment_members", sa.BigInteger(), nullable=False),
        sa.Column("excluded_without_consent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "campaign_id"),
    )
    op.create_index(
        "ix_ms_campaigns_created", "ms_campaigns", ["workspace_id", "created_at"], unique=False
    )
    op.create_table(
        "ms_conversions",
        sa.Column(
            "conversion_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("amounts", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("conversion_id"),
    )
    op.create_index(
        "ix_ms_conversions_event",
        "ms_conversions",
        ["workspace_id", "event", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_ms_conversions_profile",
        "ms_conversions",
        ["workspace_id", "profile_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ux_ms_conversions_message", "ms_conversions", ["workspace_id", "message_id"], unique=True
    )
    op.create_table(
        "ms_exposures",
        sa.Column(
            "exposure_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("exposure_id"),
    )
    op.create_index(
        "ix_ms_exposures_campaign",
        "ms_exposures",
        ["workspace_id", "campaign_id", "kind"],
        unique=False,
    )
    op.create_index(
        "ix_ms_exposures_profile",
        "ms_exposures",
        ["workspace_id", "profile_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ux_ms_exposures_message", "ms_exposures", ["workspace_id", "message_id"], unique=True
    )
    op.create_table(
        "ms_identities",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "kind", "value"),
    )
    op.create_index(
        "ix_ms_identities_profile", "ms_identities", ["workspace_id", "profile_id"], unique=False
    )
    op.create_table(
        "ms_touches",
        sa.Column(
            "touch_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("medium", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("touch_id"),
    )
    op.create_index(
        "ix_ms_touches_profile",
        "ms_touches",
        ["workspace_id", "profile_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ux_ms_touches_message", "ms_touches", ["workspace_id", "message_id"], unique=True
    )
    op.create_table(
        "ms_uplift",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("evaluation", sa.LargeBinary(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "campaign_id"),
    )


def downgrade() -> None:
    op.drop_table("ms_uplift")
    op.drop_index("ux_ms_touches_message", table_name="ms_touches")
    op.drop_index("ix_ms_touches_profile", table_name="ms_touches")
    op.drop_table("ms_touches")
    op.drop_index("ix_ms_identities_profile", table_name="ms_identities")
    op.drop_table("ms_identities")
    op.drop_index("ux_ms_exposures_message", table_name="ms_exposures")
    op.drop_index("ix_ms_exposures_profile", table_name="ms_exposures")
    op.drop_index("ix_ms_exposures_campaign", table_name="ms_exposures")
    op.drop_table("ms_exposures")
    op.drop_index("ux_ms_conversions_message", table_name="ms_conversions")
    op.drop_index("ix_ms_conversions_profile", table_name="ms_conversions")
    op.drop_index("ix_ms_conversions_event", table_name="ms_conversions")
    op.drop_table("ms_conversions")
    op.drop_index("ix_ms_campaigns_created", table_name="ms_campaigns")
    op.drop_table("ms_campaigns")
    op.drop_index("ix_ms_assignments_profile", table_name="ms_assignments")
    op.drop_table("ms_assignments")
    op.drop_table("feed_cursors")
