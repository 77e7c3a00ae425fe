"""Profiles, identity links, merge records, the profile_changes feed and consumer cursors.

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
        "profiles",
        sa.Column("profile_id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("trait_times", sa.JSON(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("event_counts", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into", sa.String(36), nullable=True),
    )
    op.create_index(
        "ix_profiles_workspace_created", "profiles", ["workspace_id", "created_at", "profile_id"]
    )
    op.create_index("ix_profiles_merged_into", "profiles", ["merged_into"])
    op.create_table(
        "identities",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("source_message_id", sa.String(128), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identities_profile", "identities", ["profile_id"])
    op.create_table(
        "merges",
        sa.Column("merge_id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
        sa.Column("other_profile_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("value", sa.String(512), nullable=False),
        sa.Column("source_message_id", sa.String(128), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_merges_profile", "merges", ["profile_id"])
    op.create_index("ix_merges_other", "merges", ["other_profile_id"])
    op.create_table(
        "profile_changes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("profile_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_profile_changes_workspace_seq", "profile_changes", ["workspace_id", "seq"])
    op.create_index("ix_profile_changes_profile_id", "profile_changes", ["profile_id"])
    op.create_table(
        "feed_cursors",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("feed", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("feed_cursors", "profile_changes", "merges", "identities", "profiles"):
        op.drop_table(table)
