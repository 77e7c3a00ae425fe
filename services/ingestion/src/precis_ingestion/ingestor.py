"""Persisting validated events: deduplicated by message_id per workspace, durable (committed)
before anything is acknowledged, and appended to the "events" feed in the same statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from precis.ingestion.v1 import ingestion_pb2
from precis_common.db import Database, affected
from precis_common.feed import FeedWriter, NewEntry
from precis_common.identifiers import IdentifierKind
from precis_ingestion.store import events
from precis_ingestion.validation import TYPE_NAMES, Accepted

MAX_REPLAY = 10_000


@dataclass(frozen=True, slots=True)
class StoreResult:
    inserted: set[str]  # message ids stored by this call; the others were duplicates


class EventStore:
    def __init__(self, database: Database, writer: FeedWriter) -> None:
        self.db = database
        self.writer = writer

    def store(self, workspace_id: str, accepted: Sequence[Accepted]) -> StoreResult:
        unique: dict[str, Accepted] = {}
        for item in accepted:
            unique.setdefault(item.stored.message_id, item)
        entries = [
            NewEntry(
                workspace_id=workspace_id,
                kind=TYPE_NAMES[a.stored.type],
                payload=a.stored.SerializeToString(),
                extra={
                    "message_id": a.stored.message_id,
                    "event_type": TYPE_NAMES[a.stored.type],
                    "event_name": a.stored.event,
                    "user_id": a.stored.user_id or None,
                    "anonymous_id": a.stored.anonymous_id or None,
                    "email_hash": a.stored.email_hash or None,
                    "phone_hash": a.stored.phone_hash or None,
                    "event_time": a.event_time,
                },
            )
            for a in unique.values()
        ]
        if not entries:
            return StoreResult(set())
        with self.db.write() as session:
            self.writer.lock(session)
            dialect = session.get_bind().dialect.name
            insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = (
                insert_fn(events)
                .on_conflict_do_nothing(index_elements=["workspace_id", "message_id"])
                .returning(events.c.message_id)
            )
            inserted = {row.message_id for row in session.execute(stmt, self.writer.rows(entries))}
        self.writer.committed()
        return StoreResult(inserted)

    def replay(self, workspace_id: str, start: datetime, end: datetime, limit: int) -> list[bytes]:
        c = events.c
        with self.db.read() as session:
            return list(
                session.execute(
                    select(c.payload)
                    .where(
                        c.workspace_id == workspace_id, c.event_time >= start, c.event_time < end
                    )
                    .order_by(c.event_time, c.seq)
                    .limit(min(limit or MAX_REPLAY, MAX_REPLAY))
                ).scalars()
            )

    def subject_rows(
        self, workspace_id: str, values: dict[IdentifierKind, set[str]]
    ) -> list[bytes]:
        with self.db.read() as session:
            return list(
                session.execute(
                    select(events.c.payload)
                    .where(_subject_filter(workspace_id, values))
                    .order_by(events.c.seq)
                ).scalars()
            )

    def erase_subject(self, workspace_id: str, values: dict[IdentifierKind, set[str]]) -> int:
        with self.db.write() as session:
            self.writer.lock(session)
            return affected(
                session.execute(delete(events).where(_subject_filter(workspace_id, values)))
            )


_COLUMNS = {
    IdentifierKind.USER_ID: events.c.user_id,
    IdentifierKind.ANONYMOUS_ID: events.c.anonymous_id,
    IdentifierKind.EMAIL: events.c.email_hash,
    IdentifierKind.PHONE: events.c.phone_hash,
}


def _subject_filter(
    workspace_id: str, values: dict[IdentifierKind, set[str]]
) -> ColumnElement[bool]:
    clauses = [_COLUMNS[k].in_(sorted(v)) for k, v in values.items() if k in _COLUMNS and v]
    if not clauses:
        return and_(events.c.workspace_id == workspace_id, events.c.seq < 0)
    return and_(events.c.workspace_id == workspace_id, or_(*clauses))


def decode(payload: bytes) -> ingestion_pb2.StoredEvent:
    stored = ingestion_pb2.StoredEvent()
    stored.ParseFromString(payload)
    return stored
