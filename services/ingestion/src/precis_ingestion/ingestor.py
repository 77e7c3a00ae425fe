"""Persisting validated events: deduplicated by message_id per workspace, durable (committed)
before anything is acknowledged, and appended to the "events" feed in the same statement. The
consent events state goes to the "consent_captures" feed in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Table, and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from precis.consent.v1 import consent_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis_common.db import Database, affected
from precis_common.feed import FeedWriter, NewEntry
from precis_common.identifiers import IdentifierKind
from precis_common.privacy import KIND_FROM_PROTO
from precis_ingestion.store import consent_captures, events
from precis_ingestion.validation import TYPE_NAMES, Accepted

MAX_REPLAY = 10_000


@dataclass(frozen=True, slots=True)
class StoreResult:
    inserted: set[str]  # message ids stored by this call; the others were duplicates


CAPTURED = "consent.captured"


class EventStore:
    def __init__(
        self, database: Database, writer: FeedWriter, captures: FeedWriter | None = None
    ) -> None:
        self.db = database
        self.writer = writer
        self.captures = captures or FeedWriter(consent_captures)

    def store(
        self,
        workspace_id: str,
        accepted: Sequence[Accepted],
        captures: Sequence[consent_pb2.RecordConsentRequest] = (),
    ) -> StoreResult:
        """Store the events and the consent captures (of these events or of events not stored,
        see consent_context.py) in one transaction; duplicates of either are skipped."""
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
        consent_entries = list(
            {
                c.request_id: NewEntry(
                    workspace_id=workspace_id,
                    kind=CAPTURED,
                    payload=c.SerializeToString(),
                    extra={"message_id": c.request_id, **_capture_columns(c)},
                )
                for c in captures
            }.values()
        )
        if not entries and not consent_entries:
            return StoreResult(set())
        inserted: set[str] = set()
        with self.db.write() as session:
            dialect = session.get_bind().dialect.name
            insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
            if entries:
                self.writer.lock(session)
                stmt = (
                    insert_fn(events)
                    .on_conflict_do_nothing(index_elements=["workspace_id", "message_id"])
                    .returning(events.c.message_id)
                )
                inserted = {
                    row.message_id for row in session.execute(stmt, self.writer.rows(entries))
                }
            if consent_entries:
                self.captures.lock(session)  # always after the events lock: one lock order
                session.execute(
                    insert_fn(consent_captures).on_conflict_do_nothing(
                        index_elements=["workspace_id", "message_id"]
                    ),
                    self.captures.rows(consent_entries),
                )
        self.writer.committed()
        if consent_entries:
            self.captures.committed()
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
        self, workspace_id: str, values: dict[IdentifierKind, set[str]], table: Table = events
    ) -> list[bytes]:
        """Payloads of the subject's rows in `table` (events or consent_captures), in order."""
        with self.db.read() as session:
            return list(
                session.execute(
                    select(table.c.payload)
                    .where(_subject_filter(table, workspace_id, values))
                    .order_by(table.c.seq)
                ).scalars()
            )

    def erase_subject(
        self, workspace_id: str, values: dict[IdentifierKind, set[str]]
    ) -> dict[str, int]:
        """Delete the subject's events and consent captures; rows deleted per table."""
        with self.db.write() as session:
            self.writer.lock(session)
            self.captures.lock(session)
            return {
                table.name: affected(
                    session.execute(
                        delete(table).where(_subject_filter(table, workspace_id, values))
                    )
                )
                for table in (events, consent_captures)
            }

    def expire(
        self, table: Table, condition: ColumnElement[bool], max_rows: int
    ) -> tuple[int, bool]:
        """Delete up to max_rows rows of `table` (a feed) matching `condition`, oldest first;
        returns (rows deleted, whether more match)."""
        with self.db.write() as session:
            (self.writer if table is events else self.captures).lock(session)
            seqs = list(
                session.execute(
                    select(table.c.seq).where(condition).order_by(table.c.seq).limit(max_rows + 1)
                ).scalars()
            )
            more = len(seqs) > max_rows
            deleted = 0
            for start in range(0, min(len(seqs), max_rows), 500):
                chunk = seqs[start : min(start + 500, max_rows)]
                deleted += affected(session.execute(delete(table).where(table.c.seq.in_(chunk))))
        return deleted, more


# Identifier kinds that events and consent captures keep in indexed columns.
_COLUMN_NAMES = {
    IdentifierKind.USER_ID: "user_id",
    IdentifierKind.ANONYMOUS_ID: "anonymous_id",
    IdentifierKind.EMAIL: "email_hash",
    IdentifierKind.PHONE: "phone_hash",
}


def _capture_columns(capture: consent_pb2.RecordConsentRequest) -> dict[str, str | None]:
    columns: dict[str, str | None] = dict.fromkeys(_COLUMN_NAMES.values())
    for identifier in capture.subject.identifiers:
        name = _COLUMN_NAMES.get(KIND_FROM_PROTO.get(identifier.type))  # type: ignore[arg-type]
        if name is not None and columns[name] is None:
            columns[name] = identifier.value
    return columns


def _subject_filter(
    table: Table, workspace_id: str, values: dict[IdentifierKind, set[str]]
) -> ColumnElement[bool]:
    clauses = [
        table.c[_COLUMN_NAMES[k]].in_(sorted(v))
        for k, v in values.items()
        if k in _COLUMN_NAMES and v
    ]
    if not clauses:
        return and_(table.c.workspace_id == workspace_id, table.c.seq < 0)
    return and_(table.c.workspace_id == workspace_id, or_(*clauses))


def decode(payload: bytes) -> ingestion_pb2.StoredEvent:
    stored = ingestion_pb2.StoredEvent()
    stored.ParseFromString(payload)
    return stored
