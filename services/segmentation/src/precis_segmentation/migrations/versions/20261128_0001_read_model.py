"""Segmentation's read model: profiles, tags, event facts, consent and memberships.

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

FACT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "seg_profiles",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("computed", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "seg_profile_tags",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("tag", sa.String(128), primary_key=True),
    )
    op.create_index(
        "ix_seg_profile_tags_tag", "seg_profile_tags", ["workspace_id", "tag", "profile_id"]
    )
    op.create_table(
        "seg_event_facts",
        sa.Column("fact_id", FACT_ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        sa.Column("message_id", sa.String(128), nullable=True),
    )
    op.create_index(
        "ix_seg_event_facts_window",
        "seg_event_facts",
        ["workspace_id", "event", "occurred_at", "profile_id"],
        postgresql_include=["revenue", "quantity"],
    )
    op.create_index(
        "ix_seg_event_facts_profile",
        "seg_event_facts",
        ["workspace_id", "profile_id", "occurred_at"],
    )
    op.create_index(
        "ux_seg_event_facts_message",
        "seg_event_facts",
        ["workspace_id", "message_id"],
        unique=True,
    )
    op.create_table(
        "seg_consent",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("allowed", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_seg_consent_purpose",
        "seg_consent",
        ["workspace_id", "purpose", "allowed", "profile_id"],
    )
    op.create_table(
        "seg_memberships",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_seg_memberships_profile", "seg_memberships", ["workspace_id", "profile_id"])


def downgrade() -> None:
    for table in (
        "seg_memberships",
        "seg_consent",
        "seg_event_facts",
        "seg_profile_tags",
        "seg_profiles",
    ):
        op.drop_table(table)
