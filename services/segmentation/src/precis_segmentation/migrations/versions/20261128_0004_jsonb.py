"""PostgreSQL: the JSON documents rules read become JSONB (parsed once when written, not at every
access); nothing changes on SQLite.

Revision ID: 20261128_0004
Revises: 20261128_0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "20261128_0004"
down_revision = "20261128_0003"
branch_labels = None
depends_on = None

COLUMNS = (
    ("seg_profiles", "traits"),
    ("seg_profiles", "computed"),
    ("seg_event_facts", "properties"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")
