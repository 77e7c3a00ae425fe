"""The consent ledger, its current state, defaults, minors and the consent_changes feed.

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

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_entries",
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("legal_basis", sa.String(32), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("proof_reference", sa.String(512), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("guardian", sa.JSON(), nullable=False),
    )
    op.create_index("ix_consent_entries_request", "consent_entries", ["workspace_id", "request_id"])
    op.create_table(
        "consent_entry_keys",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("entry_id", sa.String(36), primary_key=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_consent_entry_keys_entry", "consent_entry_keys", ["entry_id"])
    op.create_table(
        "consent_state",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("jurisdiction", sa.String(16), nullable=False),
        sa.Column("by_guardian", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_consent_state_entry", "consent_state", ["entry_id"])
    op.create_table(
        "consent_defaults",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("jurisdiction", sa.String(16), primary_key=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "minors",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(512), primary_key=True),
        sa.Column("is_minor", sa.Boolean(), nullable=False),
        sa.Column("guardian", sa.JSON(), nullable=False),
        sa.Column("comes_of_age_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification_reference", sa.String(512), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "consent_changes",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_consent_changes_workspace_seq", "consent_changes", ["workspace_id", "seq"])


def downgrade() -> None:
    for table in (
        "consent_changes",
        "minors",
        "consent_defaults",
        "consent_state",
        "consent_entry_keys",
        "consent_entries",
    ):
        op.drop_table(table)
