"""Order statistics per profile and RFM boundaries per workspace.

Revision ID: 20261122_0006
Revises: 20261122_0005
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "20261122_0006"
down_revision = "20261122_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profiles") as batch:
        batch.add_column(sa.Column("order_stats", sa.JSON(), nullable=True))
    op.create_table(
        "rfm_breaks",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.Column("cells", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rfm_breaks")
    with op.batch_alter_table("profiles") as batch:
        batch.drop_column("order_stats")
