"""The audit log of accesses to personal data: who (principal, API key id) read, exported, erased
or updated whose data, when, through which operation and for which declared purpose. The gateway
and the services write it (RecordAuditEvents), the data-subject request worker writes its own
exports and erasures, admins query it (QueryAuditLog), retention purges it (`purge_before`).

Storage: one audit_log row per access, which names no one, and one audit_log_subjects row per
stored key of the subject it was about (the stored-key vocabulary of precis_common.privacy:
email and phone as keyed hashes, never in clear; profile ids as ("profile_id", id)). A query for
a subject's accesses is a range scan of the (workspace, kind, value, occurred_at) index per
identifier.

Erasure: when a subject is erased (EraseSubject, or a data-subject erasure through it), its key
rows are deleted and the access rows stay: the audit trail survives, the personal link does not.
Identifiers already on the suppression list (erased, or being erased) are never linked, so an
access reported late, after the erasure, cannot bring the link back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from precis_common.db import Database, affected
from precis_common.identifiers import PiiHasher
from precis_common.privacy import DSR_RESOURCE
from precis_common.timeutil import aware
from precis_consent.service import Key, _chunks, _keys_match, decode_token, encode_token
from precis_consent.store import audit_log, audit_log_subjects, dsr_requests, suppressions

READ, EXPORT, ERASE, UPDATE = "read", "export", "erase", "update"
ACTIONS = (READ, EXPORT, ERASE, UPDATE)
PURGE_CHUNK = 1000
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")  # W3C trace id
# Concurrent writers of the same audit_event_id (a client's retry racing its original) collide
# on the primary key; the loser runs again and finds the winner's row: a duplicate.
RECORD_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access, validated, with the subject's identifiers as stored keys."""

    audit_event_id: str
    occurred_at: datetime
    principal: str
    api_key_id: str
    service: str
    operation: str
    action: str
    purpose: str
    keys: tuple[Key, ...] = ()
    resource: str = ""
    record_count: int = 0
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of QueryAuditLog, AND-combined; empty ones match everything."""

    keys: tuple[Key, ...] = ()  # any of them
    principal: str = ""
    api_key_id: str = ""
    actions: tuple[str, ...] = ()
    purpose: str = ""
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A stored access with the keys of its subject (none once the subject was erased)."""

    audit_event_id: str
    occurred_at: datetime
    principal: str
    api_key_id: str
    service: str
    operation: str
    action: str
    purpose: str
    resource: str
    record_count: int
    trace_id: str
    keys: list[Key] = field(default_factory=list)


def current_trace_id() -> str:
    """The W3C trace id of the current span, "" outside a trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def dsr_audit_event_id(workspace_id: str, request_id: str, kind: str) -> str:
    """The one audit event of a data-subject request's export or erasure (idempotent if the
    request is finished twice)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"precis:dsr:{workspace_id}:{request_id}:{kind}"))


class AuditLog:
    def __init__(self, database: Database, hasher: PiiHasher) -> None:
        self.db = database
        self.hasher = hasher

    # ---- recording -------------------------------------------------------------------------

    def record(self, workspace_id: str, entries: Sequence[AuditEntry]) -> tuple[int, int]:
        """Store the entries not stored yet; returns (recorded, duplicates)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                with self.db.write() as session:
                    return self.record_in(session, workspace_id, entries)
            except IntegrityError:
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def record_in(
        self, session: Session, workspace_id: str, entries: Sequence[AuditEntry]
    ) -> tuple[int, int]:
        """record() inside the caller's transaction (the data-subject request worker's)."""
        a = audit_log.c
        unique: dict[str, AuditEntry] = {}
        for e in entries:
            unique.setdefault(e.audit_event_id, e)  # a repeat within the batch is a duplicate
        stored = {
            r
            for chunk in _chunks(unique)
            for r in session.execute(
                select(a.audit_event_id).where(
                    a.workspace_id == workspace_id, a.audit_event_id.in_(chunk)
                )
            ).scalars()
        }
        fresh = [e for e in unique.values() if e.audit_event_id not in stored]
        if not fresh:
            return 0, len(entries)
        linked = self._linkable(session, workspace_id, fresh)
        now = datetime.now(UTC)
        session.execute(
            audit_log.insert(),
            [
                {
                    "workspace_id": workspace_id,
                    "audit_event_id": e.audit_event_id,
                    "occurred_at": e.occurred_at,
                    "recorded_at": now,
                    "principal": e.principal,
                    "api_key_id": e.api_key_id,
                    "service": e.service,
                    "operation": e.operation,
                    "action": e.action,
                    "purpose": e.purpose,
                    "resource": e.resource,
                    "record_count": e.record_count,
                    "trace_id": e.trace_id,
                }
                for e in fresh
            ],
        )
        subject_rows = [
            {
                "workspace_id": workspace_id,
                "audit_event_id": e.audit_event_id,
                "kind": kind,
                "value": value,
                "occurred_at": e.occurred_at,
            }
            for e, keys in zip(fresh, linked, strict=True)
            for kind, value in keys
        ]
        if subject_rows:
            session.execute(audit_log_subjects.insert(), subject_rows)
        return len(fresh), len(entries) - len(fresh)

    def _linkable(
        self, session: Session, workspace_id: str, entries: Sequence[AuditEntry]
    ) -> list[list[Key]]:
        """The keys each entry is linked to: its own, or for a read or export of a data-subject
        request's bundle (resource "data_subject_request:<id>") that request's subject; minus
        every key on the suppression list."""
        wanted: list[list[Key]] = []
        for e in entries:
            keys = list(dict.fromkeys(e.keys))
            if not keys and e.action in (READ, EXPORT) and e.resource.startswith(DSR_RESOURCE):
                keys = self._request_subject(session, workspace_id, e.resource)
            wanted.append(keys)
        tokens = {
            key: self.hasher.suppression_token(workspace_id, *key)
            for keys in wanted
            for key in keys
        }
        s = suppressions.c
        suppressed = {
            t
            for chunk in _chunks(sorted(set(tokens.values())))
            for t in session.execute(
                select(s.token).where(s.workspace_id == workspace_id, s.token.in_(chunk))
            ).scalars()
        }
        return [[k for k in keys if tokens[k] not in suppressed] for keys in wanted]

    def _request_subject(self, session: Session, workspace_id: str, resource: str) -> list[Key]:
        r = dsr_requests.c
        subject = session.execute(
            select(r.subject).where(
                r.workspace_id == workspace_id,
                r.request_id == resource.removeprefix(DSR_RESOURCE),
            )
        ).scalar_one_or_none()
        # An erasure's forgotten subject is only suppression tokens: nothing to link.
        return [(k, v) for k, v in subject or [] if k != "suppressed"]

    # ---- querying --------------------------------------------------------------------------

    def query(
        self, workspace_id: str, query: AuditQuery, page_size: int, token: str
    ) -> tuple[list[AuditRecord], str]:
        """Matching accesses, newest first (ties by audit_event_id), and the next page's token."""
        s = audit_log_subjects.c
        statement = self.statement(workspace_id, query, token)
        with self.db.read() as session:
            rows = session.execute(statement.limit(page_size + 1)).all()
            page = rows[:page_size]
            keys: dict[str, list[Key]] = {}
            for chunk in _chunks([r.audit_event_id for r in page]):
                for k in session.execute(
                    select(s.audit_event_id, s.kind, s.value)
                    .where(s.workspace_id == workspace_id, s.audit_event_id.in_(chunk))
                    .order_by(s.audit_event_id, s.kind, s.value)
                ):
                    keys.setdefault(k.audit_event_id, []).append((k.kind, k.value))
        last = rows[page_size - 1] if len(rows) > page_size else None
        next_token = encode_token(last.occurred_at, last.audit_event_id) if last else ""
        return [_record(r, keys.get(r.audit_event_id, [])) for r in page], next_token

    def statement(self, workspace_id: str, query: AuditQuery, token: str = "") -> Select[Any]:
        """The query's SELECT of audit_log rows in page order (without the page limit)."""
        a, s = audit_log.c, audit_log_subjects.c
        statement = select(audit_log).where(a.workspace_id == workspace_id)
        if query.keys:
            about = select(s.audit_event_id).where(
                s.workspace_id == workspace_id, _keys_match(s, query.keys)
            )
            if query.start is not None:
                about = about.where(s.occurred_at >= query.start)
            if query.end is not None:
                about = about.where(s.occurred_at < query.end)
            statement = statement.where(a.audit_event_id.in_(about))
        if query.principal:
            statement = statement.where(a.principal == query.principal)
        if query.api_key_id:
            statement = statement.where(a.api_key_id == query.api_key_id)
        if query.actions:
            statement = statement.where(a.action.in_(sorted(set(query.actions))))
        if query.purpose:
            statement = statement.where(a.purpose == query.purpose)
        if query.start is not None:
            statement = statement.where(a.occurred_at >= query.start)
        if query.end is not None:
            statement = statement.where(a.occurred_at < query.end)
        if token:
            at, audit_event_id = decode_token(token)
            statement = statement.where(
                or_(
                    a.occurred_at < at,
                    and_(a.occurred_at == at, a.audit_event_id < audit_event_id),
                )
            )
        return statement.order_by(a.occurred_at.desc(), a.audit_event_id.desc())

    # ---- erasure and retention -------------------------------------------------------------

    def erase_subject(
        self, session: Session, workspace_id: str, keys: Sequence[Key]
    ) -> dict[str, int]:
        """Unlink the subject from every access to its data (ConsentStore.erase calls this in
        its transaction); the accesses themselves stay."""
        s = audit_log_subjects.c
        unlinked = 0
        for chunk in _chunks(keys):
            unlinked += affected(
                session.execute(
                    delete(audit_log_subjects).where(
                        s.workspace_id == workspace_id, _keys_match(s, chunk)
                    )
                )
            )
        return {"audit_log_subjects": unlinked}

    def purge_before(self, workspace_id: str, cutoff: datetime) -> int:
        """Delete the workspace's accesses that occurred before `cutoff` (timezone-aware), with
        their subject links, in short transactions; returns how many accesses were deleted."""
        if cutoff.tzinfo is None:
            raise ValueError("cutoff must be timezone-aware")
        cutoff = cutoff.astimezone(UTC)
        a, s = audit_log.c, audit_log_subjects.c
        deleted = 0
        while True:
            with self.db.write() as session:
                ids = list(
                    session.execute(
                        select(a.audit_event_id)
                        .where(a.workspace_id == workspace_id, a.occurred_at < cutoff)
                        .limit(PURGE_CHUNK)
                    ).scalars()
                )
                if not ids:
                    return deleted
                session.execute(
                    delete(audit_log_subjects).where(
                        s.workspace_id == workspace_id, s.audit_event_id.in_(ids)
                    )
                )
                deleted += affected(
                    session.execute(
                        delete(audit_log).where(
                            a.workspace_id == workspace_id, a.audit_event_id.in_(ids)
                        )
                    )
                )


def _record(row: Any, keys: Iterable[Key]) -> AuditRecord:
    return AuditRecord(
        audit_event_id=row.audit_event_id,
        occurred_at=aware(row.occurred_at),
        principal=row.principal,
        api_key_id=row.api_key_id,
        service=row.service,
        operation=row.operation,
        action=row.action,
        purpose=row.purpose,
        resource=row.resource,
        record_count=int(row.record_count),
        trace_id=row.trace_id,
        keys=list(keys),
    )
