"""Database plumbing: engines and unit-of-work sessions from a URL, and Alembic upgrades.

SQLite (the embedded default) gets WAL, full fsync on commit, a busy timeout, and writers
that take the write lock when they begin (BEGIN IMMEDIATE): with SQLite's default deferred
transactions, two writers that both read first deadlock on the lock upgrade and one fails at
once instead of waiting. Readers use a second engine with plain deferred transactions, which
in WAL mode never block or wait for the writer. PostgreSQL (psycopg 3) uses one engine for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from precis_common.errors import Unavailable

T = TypeVar("T")

# Key of the PostgreSQL advisory lock held while a service migrates its database.
_MIGRATION_LOCK = 0x70726563  # "prec"


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=False
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not pysqlite, decide when a transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """A service's database: write and read engines, and sessions scoped to a unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.engine
        self._write_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def engines(self) -> list[Engine]:
        return [self.engine] if self.read_engine is self.engine else [self.engine, self.read_engine]

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends, or rolls back on error."""
        with (
            _unavailable_on_connection_errors(),
            self._write_sessions() as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with _unavailable_on_connection_errors(), self._read_sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        """True when the database answers; drives the gRPC health status."""
        try:
            with self.read_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except (OperationalError, DBAPIError):
            return False

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


@contextmanager
def _unavailable_on_connection_errors() -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if getattr(exc, "connection_invalidated", False) or _is_connection_problem(exc):
            raise Unavailable("the service's database is unavailable; retry later") from exc
        raise


def _is_connection_problem(exc: OperationalError) -> bool:
    text_ = str(exc.orig).lower()
    return any(
        s in text_
        for s in (
            "connection refused",
            "could not connect",
            "server closed",
            "terminating connection",
            "connection is closed",
            "database is locked",
        )
    )


def affected(result: Any) -> int:
    """Rows matched by an UPDATE or DELETE (typed access to CursorResult.rowcount)."""
    return int(result.rowcount)


def retry_on_conflict(fn: Callable[[], T], *, attempts: int = 5, delay: float = 0.05) -> T:
    """Run a unit of work again when the database reports a serialization failure/deadlock."""
    for attempt in range(attempts):
        try:
            return fn()
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in ("40001", "40P01") or attempt == attempts - 1:
                raise
            time.sleep(delay * (2**attempt))
    raise AssertionError("unreachable")


def upgrade_database(database: Database, script_location: str | Path) -> None:
    """Run the service's Alembic migrations to head on its database."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("path_separator", "os")
    with database.engine.connect() as connection:
        if database.is_postgresql:
            # Replicas starting together on a fresh database would race to create the same
            # tables; a session-level advisory lock lets one migrate while the others wait.
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            connection.commit()
        try:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
            connection.commit()
        finally:
            if database.is_postgresql:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                connection.commit()


def run_migrations_online(target_metadata: Any) -> None:
    """The body of every service's migrations/env.py: run on the connection handed in by
    upgrade_database (services migrate themselves at start-up, under a lock on PostgreSQL)."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise SystemExit("migrations run through precis_common.db.upgrade_database()")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def insert_ignoring_duplicates(
    session: Session,
    table: Any,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    chunk: int = 500,
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on the unique `keys` (replayed feed entries), on
    PostgreSQL and SQLite, `chunk` rows per statement."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), chunk):
        statement = module.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        session.execute(statement, list(rows[start : start + chunk]))
