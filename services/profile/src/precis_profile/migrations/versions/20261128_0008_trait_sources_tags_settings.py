"""Trait provenance, tag definitions and per-workspace profile settings (life-stage rule).

Revision ID: 20261128_0008
Revises: 20261122_0007
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_0008"
down_revision = "20261122_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        # {trait: {"source": ..., "message_id": ...}}; null on profiles written before this.
        batch.add_column(sa.Column("trait_sources", sa.JSON(), nullable=True))
    op.create_table(
        "tag_definitions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("tag", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profile_settings",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("profile_settings")
    op.drop_table("tag_definitions")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("trait_sources")
