"""Retention: how long each kind of data is kept, per workspace, and the job that enforces it
in every service that holds the data.

Decisions written down here:
  - Built-in defaults keep data until a workspace sets a period, except export bundles (copies
    of a person's data made for them), which go after 30 days. How long data may be kept
    depends on the purposes a workspace processes it for (GDPR art. 5(1)(e), PIPL art. 19),
    which only the workspace knows; deleting a workspace's history on a guess would be worse.
  - Periods are whole days; 0 means keep until erased. The consent ledger is proof of consent
    and keeps at least 365 days, and only entries no longer in force go (the entry behind a
    subject's current state is kept whatever its age). The audit log keeps at least 90 days.
  - Only deletion is supported. Anonymization is refused with a reason rather than accepted and
    not done.
  - What each kind means where it is held: raw_events are ingestion's event log and the
    profile service's copies of events, by event time; inactive_profiles are profiles whose
    last event (or creation) is older than the period, erased as a data-subject erasure would;
    consent_ledger is the ledger here and ingestion's copies of consent stated in events;
    audit_log and export_bundles are held here. Other kinds (segment memberships, training
    data, campaign assignments, feed entries) are stored and sent to every service; a service
    that holds them applies them, and `enforced_by` shows which did.
  - The job runs every PRECIS_CONSENT_RETENTION_INTERVAL_SECONDS: each workspace with a policy
    of its own is applied on its own (so its outcome can be shown to it), then everything else
    under the built-in defaults. Each service deletes in bounded chunks and is called until it
    has nothing more to delete; a service that is down is retried on the next run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis.consent.v1 import consent_pb2 as pb
from precis_common.db import Database, affected
from precis_common.errors import InvalidArgument
from precis_common.grpc_client import workspace_metadata
from precis_common.retention import DATA_KINDS, RetentionScope
from precis_common.timeutil import aware
from precis_consent.audit import AuditLog
from precis_consent.store import (
    audit_log,
    consent_entries,
    consent_entry_keys,
    consent_state,
    dsr_requests,
    retention_policies,
    retention_runs,
)

log = logging.getLogger(__name__)

KIND_NAMES = {number: name for name, number in DATA_KINDS.items()}
DELETE = "delete"
# Built-in periods in days (0: keep until erased).
BUILT_IN: dict[str, int] = {name: 0 for name in DATA_KINDS} | {"export_bundles": 30}
MINIMUM_DAYS = {"consent_ledger": 365, "audit_log": 90}
MAX_DAYS = 36_500
MAX_CALLS = 100  # per service and kind in one run: 100 x 10,000 rows
SERVICE = "consent"
SYSTEM = "*"  # the run record of everything applied under the built-in defaults


@dataclass(frozen=True, slots=True)
class Policy:
    data_kind: str
    retention_days: int
    action: str
    is_default: bool
    updated_at: datetime | None = None
    updated_by: str = ""
    last_applied_at: datetime | None = None
    enforced_by: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    data_kind: str
    service: str
    erased: dict[str, int]
    error: str = ""


def data_kind_name(value: int, field_name: str = "data_kind") -> str:
    name = KIND_NAMES.get(value)
    if name is None:
        raise InvalidArgument.field(field_name, "must be a data kind (not unspecified)")
    return name


def check_policy(data_kind: str, days: int, action: int) -> None:
    if action not in (pb.RETENTION_ACTION_UNSPECIFIED, pb.RETENTION_ACTION_DELETE):
        raise InvalidArgument.field(
            "policy.action", "only DELETE is supported; anonymization is not available yet"
        )
    if not 0 <= days <= MAX_DAYS:
        raise InvalidArgument.field(
            "policy.retention_days", f"must be between 0 (keep) and {MAX_DAYS}"
        )
    minimum = MINIMUM_DAYS.get(data_kind)
    if minimum and 0 < days < minimum:
        raise InvalidArgument.field(
            "policy.retention_days",
            f"{data_kind} must be kept at least {minimum} days (or 0 to keep until erased)",
        )


# The data kinds this service holds, each applied to the workspaces' cutoffs in one transaction.
LocalApply = Callable[[Session, RetentionScope], dict[str, int]]


class Retention:
    def __init__(
        self,
        database: Database,
        audit: AuditLog,
        services: Mapping[str, privacy_pb2_grpc.PrivacyServiceStub],
        deadline_s: float = 60.0,
    ) -> None:
        self.db = database
        self.audit = audit
        self.services = dict(services)
        self.deadline_s = deadline_s
        self._local: dict[str, LocalApply] = {
            "consent_ledger": self._expire_ledger,
            "export_bundles": self._expire_bundles,
        }

    # ---- policies --------------------------------------------------------------------------

    def policies(self, workspace_id: str) -> list[Policy]:
        p, r = retention_policies.c, retention_runs.c
        with self.db.read() as session:
            set_ = {
                row.data_kind: row
                for row in session.execute(
                    select(retention_policies).where(p.workspace_id == workspace_id)
                )
            }
            runs = {
                row.data_kind: row
                for row in session.execute(
                    select(retention_runs).where(r.workspace_id == workspace_id)
                )
            }
        out = []
        for kind in sorted(DATA_KINDS, key=DATA_KINDS.__getitem__):
            row, run = set_.get(kind), runs.get(kind)
            out.append(
                Policy(
                    data_kind=kind,
                    retention_days=row.retention_days if row else BUILT_IN[kind],
                    action=row.action if row else DELETE,
                    is_default=row is None,
                    updated_at=aware(row.updated_at) if row else None,
                    updated_by=row.updated_by if row else "",
                    last_applied_at=aware(run.applied_at) if run else None,
                    enforced_by=list(run.enforced_by) if run else [],
                )
            )
        return out

    def policy(self, workspace_id: str, data_kind: str) -> Policy:
        return next(p for p in self.policies(workspace_id) if p.data_kind == data_kind)

    def set_policy(
        self, workspace_id: str, data_kind: str, days: int, action: int, updated_by: str
    ) -> Policy:
        check_policy(data_kind, days, action)
        values = {
            "retention_days": days,
            "action": DELETE,
            "updated_at": datetime.now(UTC),
            "updated_by": updated_by,
        }
        with self.db.write() as session:
            _upsert(session, retention_policies, workspace_id, data_kind, values)
        return self.policy(workspace_id, data_kind)

    # ---- applying --------------------------------------------------------------------------

    def apply_workspace(self, workspace_id: str, kinds: list[str] | None = None) -> list[Outcome]:
        """Apply one workspace's policies now (its own or the built-in ones)."""
        now = datetime.now(UTC)
        outcomes: list[Outcome] = []
        for policy in self.policies(workspace_id):
            if kinds is not None and policy.data_kind not in kinds:
                continue
            if policy.retention_days == 0:
                continue
            cutoff = now - timedelta(days=policy.retention_days)
            scope = RetentionScope(policy.data_kind, None, {workspace_id: cutoff}, 0)
            found = self._apply(scope)
            self._record_run(workspace_id, policy.data_kind, found)
            outcomes.extend(found)
        return outcomes

    def run_once(self) -> list[Outcome]:
        """The scheduled job: every workspace with a policy of its own, then the rest under the
        built-in periods."""
        with self.db.read() as session:
            own = sorted(set(session.execute(select(retention_policies.c.workspace_id)).scalars()))
        outcomes: list[Outcome] = []
        for workspace_id in own:
            outcomes.extend(self.apply_workspace(workspace_id))
        now = datetime.now(UTC)
        for kind, days in BUILT_IN.items():
            if days == 0:
                continue
            # Workspaces with their own policy were applied above: excluded (kept) here.
            scope = RetentionScope(kind, now - timedelta(days=days), dict.fromkeys(own), 0)
            found = self._apply(scope)
            self._record_run(SYSTEM, kind, found)
            outcomes.extend(found)
        return outcomes

    def _apply(self, scope: RetentionScope) -> list[Outcome]:
        outcomes: list[Outcome] = []
        local = self._local.get(scope.data_kind)
        if local is not None:
            with self.db.write() as session:
                outcomes.append(Outcome(scope.data_kind, SERVICE, local(session, scope)))
        if scope.data_kind == "audit_log":
            outcomes.append(Outcome(scope.data_kind, SERVICE, self._expire_audit(scope)))
        request = privacy_pb2.ApplyRetentionRequest(data_kind=scope.data_kind)
        if scope.default_cutoff is not None:
            request.default_cutoff.FromDatetime(scope.default_cutoff)
        for workspace_id, cutoff in scope.cutoffs.items():
            item = request.workspaces.add(workspace_id=workspace_id)
            if cutoff is not None:
                item.cutoff.FromDatetime(cutoff)
        for service, stub in sorted(self.services.items()):
            erased: dict[str, int] = {}
            try:
                for _ in range(MAX_CALLS):
                    response = stub.ApplyRetention(
                        request, timeout=self.deadline_s, metadata=workspace_metadata("system")
                    )
                    if not response.held:
                        break
                    for row in response.erased:
                        erased[row.table] = erased.get(row.table, 0) + row.rows
                    if not response.more:
                        break  # otherwise the next run goes on where this one stopped
            except grpc.RpcError as exc:
                log.warning(
                    "retention of %s in %s failed (%s); retried on the next run",
                    scope.data_kind,
                    service,
                    exc.code().name,
                )
                outcomes.append(
                    Outcome(scope.data_kind, service, erased, f"{exc.code().name}: {exc.details()}")
                )
                continue
            if response.held:
                outcomes.append(Outcome(scope.data_kind, service, erased))
        return outcomes

    def _record_run(self, workspace_id: str, data_kind: str, outcomes: list[Outcome]) -> None:
        values = {
            "applied_at": datetime.now(UTC),
            "enforced_by": sorted({o.service for o in outcomes if not o.error}),
            "outcomes": [
                {"service": o.service, "erased": o.erased, "error": o.error} for o in outcomes
            ],
        }
        with self.db.write() as session:
            _upsert(session, retention_runs, workspace_id, data_kind, values)

    # ---- what this service holds -----------------------------------------------------------

    def _workspaces(self, session: Session, table: Any, scope: RetentionScope) -> dict[str, Any]:
        """Every workspace's cutoff for a local table (the default for unlisted ones)."""
        cutoffs = {ws: c for ws, c in scope.cutoffs.items() if c is not None}
        if scope.default_cutoff is not None:
            for ws in session.execute(select(table.c.workspace_id).distinct()).scalars():
                if ws not in scope.cutoffs:
                    cutoffs[ws] = scope.default_cutoff
        return cutoffs

    def _expire_ledger(self, session: Session, scope: RetentionScope) -> dict[str, int]:
        e, k, s = consent_entries.c, consent_entry_keys.c, consent_state.c
        entries = keys = 0
        for workspace_id, cutoff in sorted(
            self._workspaces(session, consent_entries, scope).items()
        ):
            in_force = select(s.entry_id).where(s.workspace_id == workspace_id)
            old: ColumnElement[bool] = (
                (e.workspace_id == workspace_id)
                & (e.occurred_at < cutoff)
                & e.entry_id.not_in(in_force)
            )
            ids = list(session.execute(select(e.entry_id).where(old)).scalars())
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                keys += affected(
                    session.execute(
                        delete(consent_entry_keys).where(
                            k.workspace_id == workspace_id, k.entry_id.in_(chunk)
                        )
                    )
                )
                entries += affected(
                    session.execute(delete(consent_entries).where(e.entry_id.in_(chunk)))
                )
        return {"consent_entries": entries, "consent_entry_keys": keys}

    def _expire_bundles(self, session: Session, scope: RetentionScope) -> dict[str, int]:
        r = dsr_requests.c
        cleared = 0
        for workspace_id, cutoff in sorted(self._workspaces(session, dsr_requests, scope).items()):
            cleared += affected(
                session.execute(
                    update(dsr_requests)
                    .where(
                        r.workspace_id == workspace_id,
                        r.kind == "export",
                        r.completed_at < cutoff,
                        r.bundle.is_not(None),
                    )
                    .values(bundle=None)
                )
            )
        return {"dsr_requests.bundle": cleared}

    def _expire_audit(self, scope: RetentionScope) -> dict[str, int]:
        with self.db.read() as session:
            cutoffs = self._workspaces(session, audit_log, scope)
        return {
            "audit_log": sum(
                self.audit.purge_before(ws, cutoff) for ws, cutoff in sorted(cutoffs.items())
            )
        }


def _upsert(
    session: Session, table: Any, workspace_id: str, data_kind: str, values: dict[str, Any]
) -> None:
    """Insert or replace the (workspace, data kind) row of `table`."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(table)
        .values(workspace_id=workspace_id, data_kind=data_kind, **values)
        .on_conflict_do_update(index_elements=["workspace_id", "data_kind"], set_=values)
    )


class RetentionWorker:
    """Runs the retention job on a schedule, in a thread of the consent service."""

    def __init__(self, retention: Retention, interval_s: float) -> None:
        self.retention = retention
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        # The first run soon after start (a service restarted daily would otherwise never run
        # an hourly job), then every interval.
        wait = min(self.interval_s, 30.0)
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                self.retention.run_once()
            except Exception:
                log.exception("the retention run failed; retried in %.0f s", self.interval_s)
