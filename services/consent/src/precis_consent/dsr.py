"""Data-subject requests: export and erasure orchestrated over every data-holding service's
PrivacyService, with a task and a receipt per service, retried until every service confirms.

How a request runs (a worker thread calls `run_once` every second):
  1. expansion: the subject's identifiers are expanded through the profile service (its export
     names every identifier and profile id of the subject), so that each service is asked with
     everything that identifies the subject, not only what the requester knew;
  2. one call per service (ingestion, profile, and this service's own ledger); a failure is
     recorded on the task and retried with exponential backoff (1 s doubling to 5 min); after
     10 attempts the task shows needs_attention but is still retried;
  3. when every task has completed, the request completes. An export keeps the bundle (one JSON
     object keyed by service). An erasure forgets the subject's identifiers: the request keeps
     only suppression tokens, like the suppression list.

Suppression: when an erasure is accepted, the subject's identifiers go to the suppression list
as PiiHasher.suppression_token values, keyed hashes that match no stored value anywhere, so the
list can tell that an incoming identifier belongs to an erased subject (CheckSuppression) while
a scan of every table for the subject's identifiers, their hashes and its profile id finds
nothing once the erasure completes.

Audit: a completed export records an EXPORT of its subject's data in the audit log, a completed
erasure an ERASE that names no one (the subject is gone), both with the requester as principal
and the purpose "data_subject_request", in the transaction that completes the request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2
from precis_common.db import Database
from precis_common.errors import InvalidArgument, NotFound
from precis_common.feed import NewEntry, to_timestamp
from precis_common.grpc_client import workspace_metadata
from precis_common.identifiers import PiiHasher
from precis_common.privacy import DSR_RESOURCE, identifier_of
from precis_common.timeutil import aware
from precis_consent import audit
from precis_consent.audit import AuditEntry, AuditLog
from precis_consent.service import (
    ConsentStore,
    Key,
    decode_token,
    encode_token,
)
from precis_consent.store import dsr_requests, dsr_tasks, suppressions

log = logging.getLogger(__name__)

EXPORT, ERASURE = "export", "erasure"
PENDING, IN_PROGRESS, COMPLETED, NEEDS_ATTENTION = (
    "pending",
    "in_progress",
    "completed",
    "needs_attention",
)
LOCAL = "consent"
LOOKUP = "profile"  # the service that knows every identifier of a subject
DUE = timedelta(days=30)  # GDPR article 12(3): one month
ATTENTION_AFTER = 10
MAX_BACKOFF_S = 300.0
AUDIT_PURPOSE = "data_subject_request"


@dataclass(frozen=True, slots=True)
class Target:
    """How to reach one service's PrivacyService."""

    export: Callable[[str, privacy_pb2.DataSubject], privacy_pb2.ExportSubjectResponse]
    erase: Callable[[str, privacy_pb2.DataSubject], privacy_pb2.EraseSubjectResponse]


def remote_target(channel: grpc.Channel, deadline_s: float = 30.0) -> Target:
    stub = privacy_pb2_grpc.PrivacyServiceStub(channel)

    def export(workspace: str, subject: privacy_pb2.DataSubject) -> Any:
        return stub.ExportSubject(
            privacy_pb2.ExportSubjectRequest(subject=subject),
            timeout=deadline_s,
            metadata=workspace_metadata(workspace),
        )

    def erase(workspace: str, subject: privacy_pb2.DataSubject) -> Any:
        return stub.EraseSubject(
            privacy_pb2.EraseSubjectRequest(subject=subject),
            timeout=deadline_s,
            metadata=workspace_metadata(workspace),
        )

    return Target(export, erase)


def subject_proto(keys: Sequence[Sequence[str]]) -> privacy_pb2.DataSubject:
    """Stored keys as a DataSubject the services accept (email and phone as stored hashes)."""
    subject = privacy_pb2.DataSubject()
    for kind, value in keys:
        if kind == "profile_id":
            if not subject.profile_id:
                subject.profile_id = value
            continue
        subject.identifiers.append(identifier_of((kind, value)))
    return subject


class DataSubjectRequests:
    def __init__(
        self,
        database: Database,
        hasher: PiiHasher,
        local: ConsentStore,
        targets: Mapping[str, Target],
        *,
        audit_log: AuditLog,
    ) -> None:
        self.db = database
        self.hasher = hasher
        self.local = local
        self.targets = dict(targets)
        self.audit_log = audit_log

    def services(self) -> list[str]:
        return sorted({*self.targets, LOCAL})

    # ---- opening and reading ---------------------------------------------------------------

    def create(
        self,
        workspace_id: str,
        kind: str,
        request_id: str,
        keys: Sequence[Key],
        note: str,
        requested_by: str,
    ) -> Any:
        """Open a request (idempotent per request_id: a repeat returns the original, and a
        request id used for another kind is refused)."""
        now = datetime.now(UTC)
        r = dsr_requests.c
        with self.db.write() as session:
            existing = session.execute(
                select(dsr_requests).where(
                    r.workspace_id == workspace_id, r.request_id == request_id
                )
            ).one_or_none()
            if existing is not None:
                if existing.kind != kind:
                    raise InvalidArgument.field(
                        "request_id", f"is already used by an {existing.kind} request"
                    )
                return existing
            session.execute(
                dsr_requests.insert().values(
                    workspace_id=workspace_id,
                    request_id=request_id,
                    kind=kind,
                    state=PENDING,
                    subject=[list(k) for k in keys],
                    expanded=False,
                    note=note,
                    requested_by=requested_by,
                    created_at=now,
                    due_at=now + DUE,
                    completed_at=None,
                    suppressed=kind == ERASURE,
                    last_error="",
                    bundle=None,
                )
            )
            session.execute(
                dsr_tasks.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "request_id": request_id,
                        "service": service,
                        "state": PENDING,
                        "attempts": 0,
                        "last_error": "",
                        "last_attempt_at": None,
                        "next_attempt_at": now,
                        "completed_at": None,
                        "erased": [],
                        "export_bytes": 0,
                        "part": None,
                    }
                    for service in self.services()
                ],
            )
            if kind == ERASURE:
                self._suppress(session, workspace_id, request_id, keys)
            created = session.execute(
                select(dsr_requests).where(
                    r.workspace_id == workspace_id, r.request_id == request_id
                )
            ).one()
        self.local.writer.committed()
        return created

    def _suppress(
        self, session: Session, workspace_id: str, request_id: str, keys: Sequence[Sequence[str]]
    ) -> None:
        s = suppressions.c
        tokens = {self.hasher.suppression_token(workspace_id, k, v) for k, v in keys}
        have = set(
            session.execute(
                select(s.token).where(s.workspace_id == workspace_id, s.token.in_(sorted(tokens)))
            ).scalars()
        )
        fresh = sorted(tokens - have)
        if fresh:
            # Announced with the tokens only: ingestion keeps its own copy of the list.
            change = consent_pb2.ConsentChange(
                kind=consent_pb2.CONSENT_CHANGE_KIND_SUBJECT_SUPPRESSED,
                identifiers=[types_pb2.Identifier(value=t) for t in fresh],
                occurred_at=to_timestamp(datetime.now(UTC)),
            )
            self.local.writer.append(
                session,
                [NewEntry(workspace_id, "consent.subject_suppressed", change.SerializeToString())],
            )
            now = datetime.now(UTC)
            session.execute(
                suppressions.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "token": t,
                        "request_id": request_id,
                        "created_at": now,
                    }
                    for t in fresh
                ],
            )

    def get(self, workspace_id: str, request_id: str) -> tuple[Any, list[Any]]:
        r, t = dsr_requests.c, dsr_tasks.c
        with self.db.read() as session:
            row = session.execute(
                select(dsr_requests).where(
                    r.workspace_id == workspace_id, r.request_id == request_id
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"no data-subject request {request_id!r} in this workspace")
            tasks = session.execute(
                select(dsr_tasks)
                .where(t.workspace_id == workspace_id, t.request_id == request_id)
                .order_by(t.service)
            ).all()
        return row, list(tasks)

    def page(
        self, workspace_id: str, kind: str, state: str, page_size: int, token: str
    ) -> tuple[list[tuple[Any, list[Any]]], str]:
        r, t = dsr_requests.c, dsr_tasks.c
        query = select(dsr_requests).where(r.workspace_id == workspace_id)
        if kind:
            query = query.where(r.kind == kind)
        if state:
            query = query.where(r.state == state)
        if token:
            at, rid = decode_token(token)
            query = query.where(
                or_(r.created_at < at, and_(r.created_at == at, r.request_id < rid))
            )
        with self.db.read() as session:
            rows = session.execute(
                query.order_by(r.created_at.desc(), r.request_id.desc()).limit(page_size + 1)
            ).all()
            out = []
            for row in rows[:page_size]:
                tasks = session.execute(
                    select(dsr_tasks)
                    .where(t.workspace_id == workspace_id, t.request_id == row.request_id)
                    .order_by(t.service)
                ).all()
                out.append((row, list(tasks)))
        last = rows[page_size - 1] if len(rows) > page_size else None
        return out, encode_token(last.created_at, last.request_id) if last is not None else ""

    def suppressed(self, workspace_id: str, keys: Sequence[Key]) -> list[bool]:
        s = suppressions.c
        tokens = [self.hasher.suppression_token(workspace_id, k, v) for k, v in keys]
        with self.db.read() as session:
            found = set(
                session.execute(
                    select(s.token).where(
                        s.workspace_id == workspace_id, s.token.in_(sorted(set(tokens)))
                    )
                ).scalars()
            )
        return [t in found for t in tokens]

    # ---- running ---------------------------------------------------------------------------

    def run_once(self, limit: int = 20) -> int:
        """Advance every open request with a task due now; returns the tasks attempted."""
        now = datetime.now(UTC)
        t = dsr_tasks.c
        with self.db.read() as session:
            due = session.execute(
                select(t.workspace_id, t.request_id)
                .where(t.state != COMPLETED, t.next_attempt_at <= now)
                .distinct()
                .limit(limit)
            ).all()
        attempted = 0
        for workspace_id, request_id in due:
            attempted += self._advance(workspace_id, request_id)
        return attempted

    def _advance(self, workspace_id: str, request_id: str) -> int:
        row, tasks = self.get(workspace_id, request_id)
        keys: list[list[str]] = [list(k) for k in row.subject]
        if not row.expanded:
            try:
                keys = self._expand(workspace_id, keys)
            except grpc.RpcError as exc:
                self._failed(workspace_id, request_id, LOOKUP, _error(exc))
                return 1
            with self.db.write() as session:
                session.execute(
                    update(dsr_requests)
                    .where(
                        dsr_requests.c.workspace_id == workspace_id,
                        dsr_requests.c.request_id == request_id,
                    )
                    .values(subject=keys, expanded=True, state=IN_PROGRESS)
                )
                if row.kind == ERASURE:
                    self._suppress(session, workspace_id, request_id, keys)
            self.local.writer.committed()
        subject = subject_proto(keys)
        now = datetime.now(UTC)
        attempted = 0
        for task in tasks:
            if task.state == COMPLETED or aware(task.next_attempt_at) > now:
                continue
            attempted += 1
            try:
                result = self._call(task.service, row.kind, workspace_id, keys, subject)
            except grpc.RpcError as exc:
                self._failed(workspace_id, request_id, task.service, _error(exc))
                continue
            except Exception as exc:  # a local failure must not stop the other services
                log.exception("data-subject request %s: %s failed", request_id, task.service)
                self._failed(workspace_id, request_id, task.service, repr(exc)[:500])
                continue
            self._completed(workspace_id, request_id, task.service, result)
        self._finish_if_done(workspace_id, request_id)
        return attempted

    def _expand(self, workspace_id: str, keys: list[list[str]]) -> list[list[str]]:
        """Every identifier and profile id the profile service links to the subject."""
        target = self.targets.get(LOOKUP)
        if target is None:
            return keys
        response = target.export(workspace_id, subject_proto(keys))
        bundle = orjson.loads(response.bundle_json) if response.bundle_json else {}
        found = [tuple(k) for k in keys]
        for profile in bundle.get("profiles", []):
            found.append(("profile_id", profile["profile_id"]))
            for identifier in profile.get("identifiers", []):
                found.append((identifier["type"], identifier["value"]))
        return [list(k) for k in dict.fromkeys(found)]

    def _call(
        self,
        service: str,
        kind: str,
        workspace_id: str,
        keys: list[list[str]],
        subject: privacy_pb2.DataSubject,
    ) -> dict[str, Any]:
        if service == LOCAL:
            local_keys: list[Key] = [(k, v) for k, v in keys]
            if kind == EXPORT:
                part = orjson.dumps(self.local.export(workspace_id, local_keys))
                return {"part": part}
            return {"erased": self.local.erase(workspace_id, local_keys)}
        target = self.targets[service]
        if kind == EXPORT:
            return {"part": target.export(workspace_id, subject).bundle_json}
        response = target.erase(workspace_id, subject)
        return {"erased": {e.table: int(e.rows) for e in response.erased}}

    def _failed(self, workspace_id: str, request_id: str, service: str, error: str) -> None:
        t = dsr_tasks.c
        now = datetime.now(UTC)
        with self.db.write() as session:
            task = session.execute(
                select(dsr_tasks).where(
                    t.workspace_id == workspace_id,
                    t.request_id == request_id,
                    t.service == service,
                )
            ).one()
            attempts = task.attempts + 1
            backoff = min(2.0 ** (attempts - 1), MAX_BACKOFF_S)
            session.execute(
                update(dsr_tasks)
                .where(
                    t.workspace_id == workspace_id,
                    t.request_id == request_id,
                    t.service == service,
                )
                .values(
                    attempts=attempts,
                    last_error=error[:1000],
                    last_attempt_at=now,
                    next_attempt_at=now + timedelta(seconds=backoff),
                    state=NEEDS_ATTENTION if attempts >= ATTENTION_AFTER else IN_PROGRESS,
                )
            )
            if service == LOOKUP:
                # Nothing can run before the subject is expanded: everything waits with it.
                session.execute(
                    update(dsr_tasks)
                    .where(
                        t.workspace_id == workspace_id,
                        t.request_id == request_id,
                        t.state != COMPLETED,
                    )
                    .values(next_attempt_at=now + timedelta(seconds=backoff))
                )
            state = NEEDS_ATTENTION if attempts >= ATTENTION_AFTER else IN_PROGRESS
            session.execute(
                update(dsr_requests)
                .where(
                    dsr_requests.c.workspace_id == workspace_id,
                    dsr_requests.c.request_id == request_id,
                )
                .values(state=state, last_error=f"{service}: {error}"[:1000])
            )

    def _completed(
        self, workspace_id: str, request_id: str, service: str, result: dict[str, Any]
    ) -> None:
        t = dsr_tasks.c
        now = datetime.now(UTC)
        part: bytes | None = result.get("part")
        erased = result.get("erased") or {}
        with self.db.write() as session:
            session.execute(
                update(dsr_tasks)
                .where(
                    t.workspace_id == workspace_id,
                    t.request_id == request_id,
                    t.service == service,
                )
                .values(
                    state=COMPLETED,
                    attempts=t.attempts + 1,
                    last_error="",
                    last_attempt_at=now,
                    completed_at=now,
                    erased=[{"table": k, "rows": v} for k, v in sorted(erased.items())],
                    export_bytes=len(part) if part is not None else 0,
                    part=part,
                )
            )

    def _finish_if_done(self, workspace_id: str, request_id: str) -> None:
        r, t = dsr_requests.c, dsr_tasks.c
        with self.db.write() as session:
            tasks = session.execute(
                select(dsr_tasks).where(t.workspace_id == workspace_id, t.request_id == request_id)
            ).all()
            if any(task.state != COMPLETED for task in tasks):
                return
            row = session.execute(
                select(dsr_requests).where(
                    r.workspace_id == workspace_id, r.request_id == request_id
                )
            ).one()
            values: dict[str, Any] = {
                "state": COMPLETED,
                "completed_at": datetime.now(UTC),
                "last_error": "",
            }
            if row.kind == EXPORT:
                values["bundle"] = orjson.dumps(
                    {task.service: orjson.loads(task.part or b"{}") for task in tasks},
                )
            else:
                # Forget the subject: keep only what the suppression list keeps, here and in
                # the subject's earlier export requests (whose bundles are its data).
                values["subject"] = self._forget(workspace_id, row.subject)
                wanted = {tuple(k) for k in row.subject}
                for other in session.execute(
                    select(dsr_requests).where(
                        r.workspace_id == workspace_id,
                        r.kind == EXPORT,
                        r.request_id != request_id,
                    )
                ).all():
                    if wanted & {tuple(k) for k in other.subject}:
                        session.execute(
                            update(dsr_requests)
                            .where(
                                r.workspace_id == workspace_id,
                                r.request_id == other.request_id,
                            )
                            .values(subject=self._forget(workspace_id, other.subject), bundle=None)
                        )
                        session.execute(
                            update(dsr_tasks)
                            .where(t.workspace_id == workspace_id, t.request_id == other.request_id)
                            .values(part=None)
                        )
            session.execute(
                update(dsr_requests)
                .where(r.workspace_id == workspace_id, r.request_id == request_id)
                .values(**values)
            )
            session.execute(
                update(dsr_tasks)
                .where(t.workspace_id == workspace_id, t.request_id == request_id)
                .values(part=None)
            )
            self.audit_log.record_in(session, workspace_id, [_audit_entry(workspace_id, row)])

    def _forget(self, workspace_id: str, keys: Sequence[Sequence[str]]) -> list[list[str]]:
        return [
            [
                "suppressed",
                v if k == "suppressed" else self.hasher.suppression_token(workspace_id, k, v),
            ]
            for k, v in keys
        ]


class DsrWorker:
    """Runs DataSubjectRequests.run_once every `interval` seconds in a daemon thread."""

    def __init__(self, requests: DataSubjectRequests, interval: float = 1.0) -> None:
        self._requests = requests
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="dsr-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._requests.run_once()
            except Exception:  # the worker must survive a bad round; the next one retries
                log.exception("data-subject request round failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _audit_entry(workspace_id: str, row: Any) -> AuditEntry:
    """The audit event of a request that just completed: an export of its subject's data, or an
    erasure that names no one."""
    export = row.kind == EXPORT
    return AuditEntry(
        audit_event_id=audit.dsr_audit_event_id(workspace_id, row.request_id, row.kind),
        occurred_at=datetime.now(UTC),
        principal=row.requested_by,
        api_key_id="",  # the requester's key is known to the gateway, which records it
        service=LOCAL,
        operation=f"data_subject_request/{row.kind}",
        action=audit.EXPORT if export else audit.ERASE,
        purpose=AUDIT_PURPOSE,
        keys=tuple((k, v) for k, v in row.subject if k != "suppressed") if export else (),
        resource=DSR_RESOURCE + row.request_id,
        record_count=1,
        trace_id=audit.current_trace_id(),
    )


def _error(exc: grpc.RpcError) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return f"{code.name if code else 'UNKNOWN'}: {details}"
