"""Pytest fixtures shared by every test suite of the workspace (loaded from the root conftest).

Databases: tests that take `database_url` run twice, on a SQLite file and on the real
PostgreSQL server (127.0.0.1:5432, trust auth, database `test`). Each run creates a fresh
database of its own there and drops it at the end; each test gets a fresh schema in it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("PRECIS_TEST_POSTGRES_URL", DEFAULT_ADMIN_URL)


@pytest.fixture(scope="session")
def postgres_run_url() -> Iterator[str]:
    """A database created for this test run on the PostgreSQL server, dropped afterwards."""
    name = f"precis_run_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - turned into a clear failure below
        pytest.fail(f"PostgreSQL at {admin_url()} is not usable: {exc}")
    try:
        yield make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def fresh_postgres_schema(run_url: str) -> str:
    """A URL whose connections use a new, empty schema of the run's database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(run_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return (
        make_url(run_url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url_factory(
    database_backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> object:
    """Call it once per service database a test needs: each call gives a fresh, empty one."""

    def make(name: str = "db") -> str:
        if database_backend == "sqlite":
            folder = tmp_path_factory.mktemp(name)
            return f"sqlite:///{folder / (name + '.db')}"
        run_url: str = request.getfixturevalue("postgres_run_url")
        return fresh_postgres_schema(run_url)

    return make


@pytest.fixture
def database_url(database_url_factory: object) -> str:
    return database_url_factory("service")  # type: ignore[operator]


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider_factory(span_exporter: InMemorySpanExporter) -> object:
    """Tracer providers for in-process services, all exporting to one in-memory exporter."""
    providers: list[TracerProvider] = []

    def make(service_name: str) -> TracerProvider:
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.shutdown()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """The first truthy value of ``condition()``, polled every 20 ms; AssertionError naming
    ``what`` after ``timeout`` seconds. For tests of work done in the background (feed
    consumers, enrollment, jobs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
