"""Fixtures of the profile tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers live in a module of their own (conftest cannot be imported under
# --import-mode=importlib); its name is unique across the workspace's test folders.
sys.path.insert(0, str(Path(__file__).parent))

from profile_support import Suite, make_suite


@pytest.fixture
def suite(database_url_factory: object, tmp_path: object) -> Iterator[Suite]:
    yield from make_suite(database_url_factory, tmp_path)
