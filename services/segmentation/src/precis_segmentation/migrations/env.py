"""Alembic environment of the segmentation service."""

from precis_common.db import run_migrations_online
from precis_segmentation.store import metadata

run_migrations_online(metadata)
