"""The segmentation service's own state: segments, identities, pending consent checks, the
membership_changes feed and the feed cursors.

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

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "seg_segments",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("refs", sa.JSON(), nullable=False),
        sa.Column("time_relative", sa.Boolean(), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("refresh_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("materialized", sa.Boolean(), nullable=False),
        sa.Column("member_count", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_seg_segments_name", "seg_segments", ["workspace_id", "name"], unique=True)
    op.create_table(
        "seg_identities",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("profile_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_seg_identities_profile", "seg_identities", ["workspace_id", "profile_id"])
    op.create_table(
        "seg_consent_pending",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "membership_changes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("segment_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False),
    )
    op.create_index(
        "ix_membership_changes_workspace_seq", "membership_changes", ["workspace_id", "seq"]
    )
    op.create_index(
        "ix_membership_changes_profile", "membership_changes", ["workspace_id", "profile_id"]
    )
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "feed_cursors",
        "membership_changes",
        "seg_consent_pending",
        "seg_identities",
        "seg_segments",
    ):
        op.drop_table(name)
