"""Alembic environment of the measurement service."""

from precis_common.db import run_migrations_online
from precis_measurement.store import metadata

run_migrations_online(metadata)
