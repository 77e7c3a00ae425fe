"""Fixtures of the consent tests: the consent service in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from consent_support import Consent, make_consent


@pytest.fixture
def consent(database_url_factory: object, tmp_path: Path) -> Iterator[Consent]:
    yield from make_consent(database_url_factory, tmp_path)
