"""The change feed: ordered visibility under concurrent writers, and a consumer whose effects
happen exactly once (cursor committed with the read-model writes)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from precis.common.v1 import feed_pb2, feed_pb2_grpc
from precis_common.db import Database
from precis_common.feed import (
    RESPONSE_BYTES,
    RESPONSE_ENTRIES,
    FeedConsumer,
    FeedServicer,
    FeedWriter,
    NewEntry,
    cursor_table,
    feed_table,
)
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer

metadata = MetaData()
changes = feed_table(metadata, "changes")
cursors = cursor_table(metadata)
applied = Table(
    "applied",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("kind", String(64), nullable=False),
)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    metadata.create_all(database.engine)
    yield database
    database.dispose()


def append(db: Database, writer: FeedWriter, kind: str, hold: float = 0.0) -> None:
    with db.write() as session:
        writer.append(session, [NewEntry("w1", kind, kind.encode())])
        if hold:
            time.sleep(hold)  # keep the transaction open after the seq was allocated
    writer.committed()


def read_after(db: Database, after: int) -> list[int]:
    with db.read() as session:
        return list(
            session.execute(
                select(changes.c.seq).where(changes.c.seq > after).order_by(changes.c.seq)
            ).scalars()
        )


def test_a_second_writer_waits_until_the_first_commits(db: Database) -> None:
    """The mechanism behind ordered visibility: appends to one feed are serialized."""
    writer = FeedWriter(changes)
    done = threading.Event()
    with db.write() as session:
        writer.append(session, [NewEntry("w1", "first", b"1")])
        second = threading.Thread(target=lambda: (append(db, writer, "second"), done.set()))
        second.start()
        assert not done.wait(0.5), "a second append committed while the first was still open"
    second.join(10)
    assert done.is_set()
    with db.read() as session:
        rows = session.execute(select(changes.c.seq, changes.c.kind).order_by(changes.c.seq)).all()
    assert [r.kind for r in rows] == ["first", "second"]


def test_concurrent_writers_never_make_a_reader_skip_an_entry(db: Database) -> None:
    writer = FeedWriter(changes)
    writers, per_writer = 8, 25
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        cursor = 0
        while True:
            finished = stop.is_set()
            batch = read_after(db, cursor)
            seen.extend(batch)
            if batch:
                cursor = batch[-1]
            elif finished:
                return

    def produce(n: int) -> None:
        rng = random.Random(n)
        for i in range(per_writer):
            append(db, writer, f"w{n}-{i}", hold=rng.random() * 0.004)

    reading = threading.Thread(target=reader)
    reading.start()
    producers = [threading.Thread(target=produce, args=(n,)) for n in range(writers)]
    for t in producers:
        t.start()
    for t in producers:
        t.join(120)
    stop.set()
    reading.join(30)
    with db.read() as session:
        all_seqs = list(session.execute(select(changes.c.seq).order_by(changes.c.seq)).scalars())
    assert len(all_seqs) == writers * per_writer
    assert seen == all_seqs, "the reader missed or repeated entries"


@pytest.fixture
def feed_server(db: Database) -> Iterator[tuple[GrpcServer, FeedWriter]]:
    writer = FeedWriter(changes)
    server = GrpcServer(name="producer", host="127.0.0.1", port=0)
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(db, [writer]),
        "precis.common.v1.FeedService",
    )
    server.start()
    yield server, writer
    server.stop(0)


def consumer_for(db: Database, port: int, apply: Any) -> FeedConsumer:
    return FeedConsumer(
        consumer="test",
        feed="changes",
        channel=open_channel(f"127.0.0.1:{port}"),
        database=db,
        cursors=cursors,
        apply=apply,
        tracer=TracerProvider().get_tracer("test"),
        batch_size=7,
    )


def test_consumer_applies_every_entry_once_even_when_a_batch_fails(
    db: Database, feed_server: Any
) -> None:
    server, writer = feed_server
    for i in range(30):
        append(db, writer, f"k{i}")
    failures = {"left": 1}

    def apply(session: Any, entries: Any) -> None:
        session.execute(applied.insert(), [{"seq": e.seq, "kind": e.kind} for e in entries])
        if entries[0].seq > 10 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("read model write failed half-way")

    consumer = consumer_for(db, server.port, apply)
    total = 0
    for _ in range(20):
        try:
            n = consumer.run_once()
        except RuntimeError:
            continue
        if n == 0:
            break
        total += n
    assert total == 30
    with db.read() as session:
        kinds = list(session.execute(select(applied.c.kind).order_by(applied.c.seq)).scalars())
    assert kinds == [f"k{i}" for i in range(30)]
    assert consumer.position() == read_after(db, 0)[-1]


def test_consumer_thread_catches_up_after_the_producer_was_down(db: Database) -> None:
    writer = FeedWriter(changes)
    for i in range(5):
        append(db, writer, f"early{i}")
    server = GrpcServer(name="producer", host="127.0.0.1", port=0)
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(db, [writer]),
        "precis.common.v1.FeedService",
    )
    port = server.start()
    server.stop(0)  # the producer goes away; its port is remembered

    def apply(session: Any, entries: Any) -> None:
        session.execute(applied.insert(), [{"seq": e.seq, "kind": e.kind} for e in entries])

    consumer = consumer_for(db, port, apply)
    consumer.start()
    time.sleep(0.5)
    assert consumer.position() == 0 and consumer.last_error
    again = GrpcServer(name="producer", host="127.0.0.1", port=port)
    again.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(db, [writer]),
        "precis.common.v1.FeedService",
    )
    again.start()
    try:
        append(db, writer, "late")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.read() as session:
                if session.execute(select(func.count()).select_from(applied)).scalar_one() == 6:
                    break
            time.sleep(0.05)
        with db.read() as session:
            kinds = list(session.execute(select(applied.c.kind).order_by(applied.c.seq)).scalars())
        assert kinds == [*(f"early{i}" for i in range(5)), "late"]
    finally:
        consumer.stop()
        again.stop(0)


def test_read_feed_long_polls_until_an_append_arrives(db: Database, feed_server: Any) -> None:
    server, writer = feed_server
    stub = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    threading.Timer(0.3, lambda: append(db, writer, "wake")).start()
    started = time.monotonic()
    responses = list(
        stub.ReadFeed(feed_pb2.ReadFeedRequest(feed="changes", wait_ms=5000), timeout=10)
    )
    assert [e.kind for r in responses for e in r.entries] == ["wake"]
    assert time.monotonic() - started < 4


def test_read_feed_splits_a_read_into_responses_the_client_accepts(
    db: Database, feed_server: Any
) -> None:
    """Twelve 700 KiB entries (8.4 MiB) and one of 3 MiB would not fit one 4 MiB message: each
    response stays under RESPONSE_BYTES unless a single entry is larger, and comes alone then;
    small entries still come RESPONSE_ENTRIES at a time."""
    server, writer = feed_server
    big = [NewEntry("w1", f"big{i}", bytes([i]) * 700 * 1024) for i in range(12)]
    huge = NewEntry("w1", "huge", b"h" * 3 * 1024 * 1024)
    small = [NewEntry("w1", f"small{i}", b"s") for i in range(RESPONSE_ENTRIES + 100)]
    with db.write() as session:
        writer.append(session, [*big[:6], huge, *big[6:], *small])
    stub = feed_pb2_grpc.FeedServiceStub(open_channel(f"127.0.0.1:{server.port}"))
    responses = list(
        stub.ReadFeed(feed_pb2.ReadFeedRequest(feed="changes", max_entries=1000), timeout=30)
    )
    entries = [e for r in responses for e in r.entries]
    assert [e.kind for e in entries] == [e.kind for e in (*big[:6], huge, *big[6:], *small)]
    assert [e.payload for e in entries[:6]] == [e.payload for e in big[:6]]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    for r in responses:
        assert r.ByteSize() <= RESPONSE_BYTES or len(r.entries) == 1
        assert 1 <= len(r.entries) <= RESPONSE_ENTRIES
    assert [len(r.entries) for r in responses if r.entries[0].kind == "huge"] == [1]
    assert len(responses) >= 8  # 2 MiB hold two 700 KiB entries


def test_read_feed_rejects_bad_requests(feed_server: Any) -> None:
    server, _ = feed_server
    stub = feed_pb2_grpc.FeedServiceStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ReadFeed(feed_pb2.ReadFeedRequest(feed="nope")))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ReadFeed(feed_pb2.ReadFeedRequest(feed="changes", max_entries=99999)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
