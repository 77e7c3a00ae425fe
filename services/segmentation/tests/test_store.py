"""The read model: the migration creates exactly the tables store.py declares, on both
databases, and event facts fill their numeric columns the way the compiler expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from segmentation_support import ReadModel

from precis_segmentation.store import canonical_time, event_fact_row, metadata


def test_the_migration_creates_what_store_declares(read_model: ReadModel) -> None:
    with read_model.database.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_event_facts_copy_numeric_revenue_and_quantity_only() -> None:
    at = datetime(2026, 11, 28, 18, 30, tzinfo=timezone(timedelta(hours=8)))
    row = event_fact_row(
        workspace_id="ws",
        profile_id="p1",
        event="purchase",
        occurred_at=at,
        properties={"revenue": 12, "quantity": True, "sku": "A1"},
    )
    assert (row["revenue"], row["quantity"]) == (12.0, None)
    assert row["occurred_at"] == datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    assert row["occurred_at"].tzinfo is UTC
    text = event_fact_row(
        workspace_id="ws",
        profile_id="p1",
        event="purchase",
        occurred_at=at,
        properties={"revenue": "12"},
    )
    assert text["revenue"] is None


def test_canonical_time_orders_as_time_does() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert canonical_time(datetime(2026, 1, 2, 7, 0, tzinfo=shanghai)) == "2026-01-01T23:00:00Z"
    assert canonical_time(datetime(2026, 1, 1, 23, 0, 0, 999_999)) == "2026-01-01T23:00:00Z"
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h * 7) for h in range(-30, 30)]
    assert sorted(moments, key=canonical_time) == sorted(moments)
