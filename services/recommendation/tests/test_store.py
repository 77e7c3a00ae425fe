"""The migration creates exactly the tables store.py declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from precis_common.db import Database, upgrade_database
from precis_recommendation.app import MIGRATIONS
from precis_recommendation.store import metadata


def test_the_migration_creates_what_store_declares(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade_database(database, MIGRATIONS)
        with database.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == []
    finally:
        database.dispose()
