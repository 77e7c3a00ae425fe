"""Each service's Alembic migrations build exactly the schema its code declares, on SQLite and
PostgreSQL, and running them twice is harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from precis_common.db import Database, upgrade_database
from precis_consent import app as consent_app
from precis_consent.store import metadata as consent_metadata
from precis_ingestion import app as ingestion_app
from precis_ingestion.store import metadata as ingestion_metadata
from precis_measurement import app as measurement_app
from precis_measurement.store import metadata as measurement_metadata
from precis_profile import app as profile_app
from precis_profile.store import metadata as profile_metadata
from precis_recommendation import app as recommendation_app
from precis_recommendation.store import metadata as recommendation_metadata
from precis_segmentation import app as segmentation_app
from precis_segmentation.store import metadata as segmentation_metadata

SERVICES = {
    "ingestion": (ingestion_app.MIGRATIONS, ingestion_metadata),
    "profile": (profile_app.MIGRATIONS, profile_metadata),
    "consent": (consent_app.MIGRATIONS, consent_metadata),
    "segmentation": (segmentation_app.MIGRATIONS, segmentation_metadata),
    "recommendation": (recommendation_app.MIGRATIONS, recommendation_metadata),
    "measurement": (measurement_app.MIGRATIONS, measurement_metadata),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_match_the_declared_tables(service: str, database_url: str) -> None:
    migrations, metadata = SERVICES[service]
    database = Database(database_url)
    try:
        upgrade_database(database, Path(migrations))
        upgrade_database(database, Path(migrations))  # a second run finds nothing to do
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
        assert diff == [], f"{service}: migrations and store.py disagree: {diff}"
    finally:
        database.dispose()


def test_every_table_is_declared() -> None:
    for _, metadata in SERVICES.values():
        assert isinstance(metadata, MetaData) and metadata.tables
