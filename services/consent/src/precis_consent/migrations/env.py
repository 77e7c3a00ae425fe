"""Alembic environment of the consent service."""

from precis_common.db import run_migrations_online
from precis_consent.store import metadata

run_migrations_online(metadata)
