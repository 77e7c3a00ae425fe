"""Fixtures of the segmentation tests: the read model migrated on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from segmentation_support import ReadModel, make_read_model
from service_support import Service, make_service


@pytest.fixture
def read_model(database_url_factory: object) -> Iterator[ReadModel]:
    yield from make_read_model(database_url_factory)


@pytest.fixture
def service(database_url_factory: object, tmp_path: Path) -> Iterator[Service]:
    """The segmentation service in process, fed by stand-in profile and consent producers."""
    yield from make_service(database_url_factory, tmp_path)
