"""The "consent_captures" feed: consent stated inside events, for the consent service.

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

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_captures",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(256), nullable=True),
        sa.Column("anonymous_id", sa.String(256), nullable=True),
        sa.Column("email_hash", sa.String(64), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_consent_captures_workspace_seq", "consent_captures", ["workspace_id", "seq"]
    )
    op.create_index(
        "ux_consent_captures_workspace_message",
        "consent_captures",
        ["workspace_id", "message_id"],
        unique=True,
    )
    for column in ("user_id", "anonymous_id", "email_hash", "phone_hash"):
        op.create_index(
            f"ix_consent_captures_workspace_{column.removesuffix('_hash').removesuffix('_id')}",
            "consent_captures",
            ["workspace_id", column],
        )


def downgrade() -> None:
    op.drop_table("consent_captures")
