"""Change feeds: the producer side (an ordered, append-only table served over FeedService)
and the consumer side (a loop that applies entries and commits its cursor with them).

Ordering guarantee: a reader that has seen seq N never later sees a smaller seq appear. With
concurrent writers, sequence numbers are allocated at insert time but become visible at commit
time, so an unserialized writer could commit seq 7 before seq 6 commits and a reader would skip
6 for ever. Appends are therefore serialized per feed: on PostgreSQL by a transaction-level
advisory lock taken just before the insert (held to commit), on SQLite by the database's single
writer lock (every write transaction begins IMMEDIATE).
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import SchemaItem

from precis.common.v1 import feed_pb2, feed_pb2_grpc
from precis_common.db import Database, affected
from precis_common.errors import InvalidArgument, NotFound, Unavailable
from precis_common.grpc_client import workspace_metadata
from precis_common.grpc_server import MAX_MESSAGE_BYTES
from precis_common.telemetry import (
    ATTR_FEED,
    ATTR_FEED_KIND,
    ATTR_FEED_SEQ,
    ATTR_WORKSPACE,
    current_traceparent,
    link_from_traceparent,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 500
MAX_ENTRIES = 5000
# ReadFeed streams a read in responses of at most this many entries and, unless one entry alone
# is larger, this many bytes: half the gRPC message limit, so that big payloads never make a
# response the client refuses.
RESPONSE_ENTRIES = 500
RESPONSE_BYTES = MAX_MESSAGE_BYTES // 2
MAX_WAIT_MS = 30_000
# BigInteger on PostgreSQL, but SQLite only auto-increments an INTEGER PRIMARY KEY.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


def feed_table(metadata: MetaData, name: str, *extra: SchemaItem) -> Table:
    """A feed table: (seq, workspace_id, kind, payload, traceparent, created_at) plus any
    producer-specific indexed columns (ingestion adds message_id, user_id, event time...)."""
    return Table(
        name,
        metadata,
        Column("seq", SeqType, primary_key=True, autoincrement=True),
        Column("workspace_id", String(64), nullable=False),
        Column("kind", String(64), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("traceparent", String(64), nullable=False, default=""),
        Column("created_at", DateTime(timezone=True), nullable=False),
        *extra,
        Index(f"ix_{name}_workspace_seq", "workspace_id", "seq"),
    )


def cursor_table(metadata: MetaData) -> Table:
    """Where a consumer keeps its position in each feed it reads, in its own database."""
    return Table(
        "feed_cursors",
        metadata,
        Column("consumer", String(64), primary_key=True),
        Column("feed", String(64), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )


def lock_feed(session: Session, feed: str) -> None:
    """Serialize appends to `feed` until this transaction ends (no-op on SQLite, see module doc)."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"precis.feed.{feed}".encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


@dataclass(frozen=True, slots=True)
class NewEntry:
    workspace_id: str
    kind: str
    payload: bytes
    extra: dict[str, Any] | None = None


class FeedWriter:
    """Appends entries to one feed inside the caller's transaction."""

    def __init__(self, table: Table, notifier: FeedNotifier | None = None) -> None:
        self.table = table
        self.name = table.name
        self.notifier = notifier or FeedNotifier()

    def rows(self, entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        traceparent = current_traceparent()
        return [
            {
                "workspace_id": e.workspace_id,
                "kind": e.kind,
                "payload": e.payload,
                "traceparent": traceparent,
                "created_at": now,
                **(e.extra or {}),
            }
            for e in entries
        ]

    def append(self, session: Session, entries: Sequence[NewEntry]) -> None:
        if not entries:
            return
        lock_feed(session, self.name)
        session.execute(self.table.insert(), self.rows(entries))

    def lock(self, session: Session) -> None:
        """Take this feed's append lock for the rest of the session's transaction."""
        lock_feed(session, self.name)

    def committed(self) -> None:
        """Call after the appending transaction committed: wakes long-polling readers."""
        self.notifier.notify()


class FeedNotifier:
    """Wakes this process's long-polling readers when an append commits. Other processes'
    appends are still seen within the poll interval."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def version(self) -> int:
        with self._cond:
            return self._version

    def wait(self, since: int, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._version != since, timeout=timeout)


def to_timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    ts.FromDatetime(value)
    return ts


class FeedServicer(feed_pb2_grpc.FeedServiceServicer):
    """Serves one or more feeds of a service's database over FeedService.ReadFeed."""

    POLL_INTERVAL_S = 0.2

    def __init__(self, database: Database, writers: Sequence[FeedWriter]) -> None:
        self._db = database
        self._feeds = {w.name: w for w in writers}

    def ReadFeed(
        self, request: feed_pb2.ReadFeedRequest, context: grpc.ServicerContext
    ) -> Iterator[feed_pb2.ReadFeedResponse]:
        writer = self._feeds.get(request.feed)
        if writer is None:
            raise NotFound(
                f"no feed named {request.feed!r}; this service serves {sorted(self._feeds)}"
            )
        if request.after_seq < 0:
            raise InvalidArgument.field("after_seq", "must be >= 0")
        if not 0 <= request.max_entries <= MAX_ENTRIES:
            raise InvalidArgument.field("max_entries", f"must be between 0 and {MAX_ENTRIES}")
        if not 0 <= request.wait_ms <= MAX_WAIT_MS:
            raise InvalidArgument.field("wait_ms", f"must be between 0 and {MAX_WAIT_MS}")
        limit = request.max_entries or DEFAULT_MAX_ENTRIES
        deadline = time.monotonic() + request.wait_ms / 1000
        table = writer.table
        while True:
            version = writer.notifier.version()
            with self._db.read() as session:
                rows = session.execute(
                    select(
                        table.c.seq,
                        table.c.workspace_id,
                        table.c.kind,
                        table.c.payload,
                        table.c.created_at,
                        table.c.traceparent,
                    )
                    .where(table.c.seq > request.after_seq)
                    .order_by(table.c.seq)
                    .limit(limit)
                ).all()
            if rows:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not context.is_active():
                return
            writer.notifier.wait(version, min(remaining, self.POLL_INTERVAL_S))
        entries: list[feed_pb2.FeedEntry] = []
        size = 0
        for r in rows:
            entry = feed_pb2.FeedEntry(
                seq=r.seq,
                workspace_id=r.workspace_id,
                kind=r.kind,
                payload=r.payload,
                created_at=to_timestamp(r.created_at),
                traceparent=r.traceparent,
            )
            n = entry.ByteSize() + 8  # with its tag and length
            if entries and (len(entries) == RESPONSE_ENTRIES or size + n > RESPONSE_BYTES):
                yield feed_pb2.ReadFeedResponse(entries=entries)
                entries, size = [], 0
            entries.append(entry)
            size += n
        yield feed_pb2.ReadFeedResponse(entries=entries)


ApplyBatch = Callable[[Session, Sequence[feed_pb2.FeedEntry]], None]


class FeedConsumer:
    """Pulls a remote feed into this service's read model.

    Each batch is applied and the cursor advanced in one transaction, so effects happen exactly
    once even though delivery is at least once. The cursor update is conditional on the value
    read, so two replicas running the same consumer cannot both apply a batch. A producer that
    is down delays the consumer (it retries with backoff) but loses nothing.
    """

    def __init__(
        self,
        *,
        consumer: str,
        feed: str,
        channel: grpc.Channel,
        database: Database,
        cursors: Table,
        apply: ApplyBatch,
        tracer: trace.Tracer,
        batch_size: int = DEFAULT_MAX_ENTRIES,
        wait_ms: int = 1000,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.feed = feed
        self._stub = feed_pb2_grpc.FeedServiceStub(channel)
        self._db = database
        self._cursors = cursors
        self._apply = apply
        self._tracer = tracer
        self._batch_size = batch_size
        self._wait_ms = wait_ms
        self._on_applied = on_applied
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._call: Any = None  # the long poll in flight, cancelled by stop() when it can be
        self._fetching = False
        self.last_error: str | None = None
        # time.monotonic() of the last read that reached the producer (with or without entries).
        self.last_success: float | None = None

    def position(self) -> int:
        c = self._cursors.c
        with self._db.read() as session:
            seq = session.execute(
                select(c.seq).where(c.consumer == self.consumer, c.feed == self.feed)
            ).scalar_one_or_none()
        return int(seq or 0)

    def fetch(self, after_seq: int, wait_ms: int) -> list[feed_pb2.FeedEntry]:
        request = feed_pb2.ReadFeedRequest(
            feed=self.feed, after_seq=after_seq, max_entries=self._batch_size, wait_ms=wait_ms
        )
        entries: list[feed_pb2.FeedEntry] = []
        # Feed reads span workspaces; the metadata names the reader for the producer's logs.
        call = self._stub.ReadFeed(
            request, timeout=wait_ms / 1000 + 30, metadata=workspace_metadata("system")
        )
        self._call = call
        self._fetching = True
        try:
            for response in call:
                entries.extend(response.entries)
        finally:
            self._call = None
            self._fetching = False
        return entries

    def run_once(self, wait_ms: int = 0) -> int:
        """Read one batch after the cursor and apply it; returns the number of entries applied."""
        after = self.position()
        entries = self.fetch(after, wait_ms)
        if not entries:
            self.last_success = time.monotonic()
            return 0
        if self._stop.is_set() and threading.current_thread() is self._thread:
            return 0  # the follower was stopped while it waited: the next start reads it again
        links = [
            link for link in (link_from_traceparent(e.traceparent) for e in entries[:128]) if link
        ]
        with (
            self._tracer.start_as_current_span(
                f"consume {self.feed}",
                kind=trace.SpanKind.CONSUMER,
                links=links,
                attributes={
                    ATTR_FEED: self.feed,
                    ATTR_FEED_SEQ: entries[-1].seq,
                    "messaging.batch.message_count": len(entries),
                },
            ),
            self._db.write() as session,
        ):
            c = self._cursors.c
            now = datetime.now(UTC)
            moved = affected(
                session.execute(
                    update(self._cursors)
                    .where(c.consumer == self.consumer, c.feed == self.feed, c.seq == after)
                    .values(seq=entries[-1].seq, updated_at=now)
                )
            )
            if moved == 0:
                if after != 0:
                    raise _CursorMoved()
                session.execute(
                    self._cursors.insert().values(
                        consumer=self.consumer, feed=self.feed, seq=entries[-1].seq, updated_at=now
                    )
                )
            self._apply(session, entries)
        self.last_success = time.monotonic()
        if self._on_applied is not None:
            self._on_applied()
        return len(entries)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"consumer-{self.feed}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        # A thread waiting on the network is not waited out: a long poll to a producer that
        # stopped first can take until its deadline, and once it returns the thread applies
        # nothing more (run_once checks for the stop). A call through the OpenTelemetry client
        # interceptor is a plain generator that cannot be cancelled; a bare call is cancelled.
        cancel = getattr(self._call, "cancel", None)
        if cancel is not None:
            cancel()
        if self._thread is not None and self._fetching:
            timeout = min(timeout, 0.5)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self.run_once(wait_ms=self._wait_ms)
                backoff = 0.1
                self.last_error = None
            except _CursorMoved:
                continue
            except (grpc.RpcError, Unavailable) as exc:
                if self._stop.is_set():
                    break
                self.last_error = str(exc)
                log.warning(
                    "feed %s unavailable (%s); retrying in %.1fs",
                    self.feed,
                    _rpc_code(exc),
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                # A batch that fails to apply is retried, not skipped: skipping would lose data.
                log.exception("applying feed %s failed; retrying in %.1fs", self.feed, backoff)
                self.last_error = "apply failed"
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)


class _CursorMoved(Exception):
    """Another replica advanced the cursor first; re-read it."""


def _rpc_code(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    return str(code()) if callable(code) else type(exc).__name__


def entry_span(tracer: trace.Tracer, feed: str, entry: feed_pb2.FeedEntry, name: str) -> trace.Span:
    """A span for applying one entry, linked to the producer's span (the data lineage edge)."""
    link = link_from_traceparent(entry.traceparent)
    return tracer.start_span(
        name,
        links=[link] if link else [],
        attributes={
            ATTR_FEED: feed,
            ATTR_FEED_SEQ: entry.seq,
            ATTR_FEED_KIND: entry.kind,
            ATTR_WORKSPACE: entry.workspace_id,
        },
    )
