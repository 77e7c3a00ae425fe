"""Alembic environment of the recommendation service."""

from precis_common.db import run_migrations_online
from precis_recommendation.store import metadata

run_migrations_online(metadata)
