"""Alembic environment of the ingestion service."""

from precis_common.db import run_migrations_online
from precis_ingestion.store import metadata

run_migrations_online(metadata)
