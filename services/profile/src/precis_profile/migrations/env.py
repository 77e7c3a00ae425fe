"""Alembic environment of the profile service."""

from precis_common.db import run_migrations_online
from precis_profile.store import metadata

run_migrations_online(metadata)
