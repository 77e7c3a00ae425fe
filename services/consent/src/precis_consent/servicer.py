"""gRPC transport of the consent service: validation of requests and conversion to and from the
contracts. Every error names the field it is about."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson

from precis.common.v1 import privacy_pb2, privacy_pb2_grpc
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis_common.errors import InvalidArgument
from precis_common.feed import to_timestamp
from precis_common.grpc_client import PRINCIPAL_METADATA_KEY
from precis_common.grpc_server import workspace_of
from precis_common.identifiers import PiiHasher, mask_hash
from precis_common.privacy import ACCESS_PURPOSE, identifier_of, stored_key
from precis_common.retention import DATA_KINDS
from precis_common.timeutil import aware
from precis_consent import audit
from precis_consent.audit import AuditEntry, AuditLog, AuditQuery, AuditRecord
from precis_consent.dsr import (
    COMPLETED,
    ERASURE,
    EXPORT,
    IN_PROGRESS,
    NEEDS_ATTENTION,
    PENDING,
    DataSubjectRequests,
)
from precis_consent.ledger import (
    CHANNEL_IDS,
    CHANNELS,
    LEGAL_BASES,
    LEGAL_BASIS_IDS,
    PURPOSE_IDS,
    PURPOSES,
    STATUS_IDS,
    STATUSES,
    Decision,
    JurisdictionDefaults,
    Minor,
    check_jurisdiction,
    validate_defaults,
)
from precis_consent.retention import Policy, Retention, data_kind_name
from precis_consent.service import Capture, Choice, ConsentStore, Key

MAX_IDENTIFIERS = 20
MAX_PAGE = 500
DEFAULT_PAGE = 50
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
SERVICE_NAME = "consent"


def subject_keys(
    hasher: PiiHasher, workspace_id: str, subject: privacy_pb2.DataSubject, field: str
) -> list[Key]:
    """(kind, stored value) of every identifier of the subject, and its profile id if given."""
    if len(subject.identifiers) > MAX_IDENTIFIERS:
        raise InvalidArgument.field(f"{field}.identifiers", f"at most {MAX_IDENTIFIERS}")
    keys: list[Key] = []
    for i, identifier in enumerate(subject.identifiers):
        keys.append(stored_key(hasher, workspace_id, identifier, field=f"{field}.identifiers[{i}]"))
    if subject.profile_id:
        if len(subject.profile_id) > 64:
            raise InvalidArgument.field(f"{field}.profile_id", "must be at most 64 characters")
        keys.append(("profile_id", subject.profile_id))
    if not keys:
        raise InvalidArgument.field(
            f"{field}.identifiers", "at least one identifier (or the profile id) is required"
        )
    return list(dict.fromkeys(keys))


def shown_subject(keys: list[list[str]]) -> privacy_pb2.DataSubject:
    """Stored keys as a DataSubject for responses: email and phone masked."""
    subject = privacy_pb2.DataSubject()
    for kind, value in keys:
        if kind == "profile_id":
            subject.profile_id = value
            continue
        identifier = identifier_of((kind, value))
        if kind in ("email", "phone"):
            identifier.value = mask_hash(value)
        subject.identifiers.append(identifier)
    return subject


def entry_proto(r: Any) -> pb.ConsentEntry:
    entry = pb.ConsentEntry(
        entry_id=r.entry_id,
        subject=shown_subject(r.subject),
        purpose=PURPOSE_IDS[r.purpose],  # type: ignore[arg-type]
        status=STATUS_IDS[r.status],  # type: ignore[arg-type]
        legal_basis=LEGAL_BASIS_IDS[r.legal_basis],  # type: ignore[arg-type]
        policy_version=r.policy_version,
        source=r.source,
        channel=CHANNEL_IDS[r.channel],  # type: ignore[arg-type]
        occurred_at=to_timestamp(aware(r.occurred_at)),
        recorded_at=to_timestamp(aware(r.recorded_at)),
        proof_reference=r.proof_reference,
        jurisdiction=r.jurisdiction,
        request_id=r.request_id,
    )
    if r.guardian:
        entry.guardian.CopyFrom(shown_subject(r.guardian))
    return entry


def state_proto(purpose: str, d: Decision) -> pb.PurposeState:
    state = pb.PurposeState(
        purpose=PURPOSE_IDS[purpose],  # type: ignore[arg-type]
        status=STATUS_IDS[d.status],  # type: ignore[arg-type]
        allowed=d.allowed,
        reason=d.reason,  # type: ignore[arg-type]
        entry_id=d.entry_id,
        policy_version=d.policy_version,
    )
    if d.updated_at is not None:
        state.updated_at.CopyFrom(to_timestamp(d.updated_at))
    return state


def defaults_proto(d: JurisdictionDefaults) -> pb.JurisdictionDefaults:
    out = pb.JurisdictionDefaults(
        jurisdiction=d.jurisdiction,
        defaults=[
            pb.PurposeDefault(
                purpose=PURPOSE_IDS[p],  # type: ignore[arg-type]
                status=STATUS_IDS[d.default(p).status],  # type: ignore[arg-type]
                requires_separate_consent=d.default(p).separate,
            )
            for p in PURPOSE_IDS
        ],
        minor_age_threshold=d.minor_age_threshold,
        minimum_policy_version=d.minimum_policy_version,
    )
    if d.updated_at is not None:
        out.updated_at.CopyFrom(to_timestamp(d.updated_at))
    return out


def _purpose(value: int, field: str) -> str:
    name = PURPOSES.get(value)
    if name is None:
        raise InvalidArgument.field(field, "unknown or unspecified purpose")
    return name


def _text(value: str, field: str, low: int, high: int) -> str:
    if not low <= len(value) <= high or (value and not value.strip()):
        raise InvalidArgument.field(field, f"must be {low}-{high} characters, not blank")
    return value


def _page_size(value: int) -> int:
    if value < 0 or value > MAX_PAGE:
        raise InvalidArgument.field("page_size", f"must be between 1 and {MAX_PAGE}")
    return value or DEFAULT_PAGE


DSR_KINDS = {
    EXPORT: pb.DATA_SUBJECT_REQUEST_KIND_EXPORT,
    ERASURE: pb.DATA_SUBJECT_REQUEST_KIND_ERASURE,
}
DSR_KIND_NAMES = {v: k for k, v in DSR_KINDS.items()}
DSR_STATES = {
    PENDING: pb.DATA_SUBJECT_REQUEST_STATE_PENDING,
    IN_PROGRESS: pb.DATA_SUBJECT_REQUEST_STATE_IN_PROGRESS,
    COMPLETED: pb.DATA_SUBJECT_REQUEST_STATE_COMPLETED,
    NEEDS_ATTENTION: pb.DATA_SUBJECT_REQUEST_STATE_NEEDS_ATTENTION,
}
DSR_STATE_NAMES = {v: k for k, v in DSR_STATES.items()}
PRINCIPAL_METADATA = PRINCIPAL_METADATA_KEY


def principal_of(context: grpc.ServicerContext) -> str:
    """Who calls, as the gateway names it (an API key's id), at most 128 characters."""
    return str(dict(context.invocation_metadata()).get(PRINCIPAL_METADATA, ""))[:128]


def dsr_proto(row: Any, tasks: list[Any], *, bundle: bool) -> pb.DataSubjectRequest:
    keys = [k for k in row.subject if k[0] != "suppressed"]
    out = pb.DataSubjectRequest(
        request_id=row.request_id,
        kind=DSR_KINDS[row.kind],
        subject=shown_subject(keys),
        state=DSR_STATES[row.state],
        note=row.note,
        requested_by=row.requested_by,
        created_at=to_timestamp(aware(row.created_at)),
        due_at=to_timestamp(aware(row.due_at)),
        suppressed=row.suppressed,
    )
    if row.completed_at is not None:
        out.completed_at.CopyFrom(to_timestamp(aware(row.completed_at)))
    if bundle and row.bundle is not None:
        out.bundle_json = row.bundle
    for task in tasks:
        item = pb.ServiceTask(
            service=task.service,
            state=DSR_STATES[task.state],
            attempts=task.attempts,
            last_error=task.last_error,
            erased=[privacy_pb2.ErasedRows(table=e["table"], rows=e["rows"]) for e in task.erased],
            export_bytes=task.export_bytes,
        )
        if task.last_attempt_at is not None:
            item.last_attempt_at.CopyFrom(to_timestamp(aware(task.last_attempt_at)))
        if task.state != COMPLETED:
            item.next_attempt_at.CopyFrom(to_timestamp(aware(task.next_attempt_at)))
        if task.completed_at is not None:
            item.completed_at.CopyFrom(to_timestamp(aware(task.completed_at)))
        out.tasks.append(item)
    return out


def parse_capture(hasher: PiiHasher, workspace: str, request: pb.RecordConsentRequest) -> Capture:
    """A validated RecordConsentRequest (also used for the consent that events state)."""
    request_id = request.request_id or str(uuid.uuid4())
    _text(request_id, "request_id", 1, 128)
    keys = subject_keys(hasher, workspace, request.subject, "subject")
    if not request.choices:
        raise InvalidArgument.field("choices", "at least one purpose choice is required")
    choices: list[Choice] = []
    for i, choice in enumerate(request.choices):
        purpose = _purpose(choice.purpose, f"choices[{i}].purpose")
        status = STATUSES.get(choice.status)
        if status is None:
            raise InvalidArgument.field(
                f"choices[{i}].status", "must be GRANTED, DENIED or WITHDRAWN"
            )
        if any(c.purpose == purpose for c in choices):
            raise InvalidArgument.field(f"choices[{i}].purpose", "appears twice")
        choices.append(Choice(purpose, status))
    legal_basis = LEGAL_BASES.get(request.legal_basis or pb.LEGAL_BASIS_CONSENT)
    if legal_basis is None:
        raise InvalidArgument.field("legal_basis", "unknown legal basis")
    channel = CHANNELS.get(request.channel)
    if channel is None:
        raise InvalidArgument.field("channel", "unknown capture channel")
    now = datetime.now(UTC)
    occurred_at = now
    if request.HasField("occurred_at"):
        occurred_at = request.occurred_at.ToDatetime(tzinfo=UTC)
        if occurred_at > now + CLOCK_SKEW:
            raise InvalidArgument.field("occurred_at", "must not be in the future")
        if occurred_at < EARLIEST:
            raise InvalidArgument.field("occurred_at", "must be after 1970-01-01")
    jurisdiction = request.jurisdiction
    if jurisdiction:
        check_jurisdiction(jurisdiction, "jurisdiction")
    guardian: list[Key] = []
    if request.HasField("guardian") and (
        request.guardian.identifiers or request.guardian.profile_id
    ):
        guardian = subject_keys(hasher, workspace, request.guardian, "guardian")
        if set(guardian) & set(keys):
            raise InvalidArgument.field("guardian", "must be another person than the subject")
    return Capture(
        request_id=request_id,
        keys=keys,
        choices=choices,
        legal_basis=legal_basis,
        policy_version=_text(request.policy_version, "policy_version", 1, 64),
        source=_text(request.source, "source", 1, 128),
        channel=channel,
        occurred_at=occurred_at,
        proof_reference=_text(request.proof_reference, "proof_reference", 0, 512),
        jurisdiction=jurisdiction,
        guardian=guardian,
    )


AUDIT_ACTIONS: dict[int, str] = {
    pb.AUDIT_ACTION_READ: audit.READ,
    pb.AUDIT_ACTION_EXPORT: audit.EXPORT,
    pb.AUDIT_ACTION_ERASE: audit.ERASE,
    pb.AUDIT_ACTION_UPDATE: audit.UPDATE,
}
AUDIT_ACTION_IDS = {v: k for k, v in AUDIT_ACTIONS.items()}
MAX_AUDIT_EVENTS = 500
_PURPOSE_RULE = "must be 1-64 characters of a-z, 0-9 and _"


def _audit_action(value: int, field: str) -> str:
    action = AUDIT_ACTIONS.get(value)
    if action is None:
        raise InvalidArgument.field(field, "must be READ, EXPORT, ERASE or UPDATE")
    return action


def _given(subject: privacy_pb2.DataSubject) -> bool:
    return bool(subject.identifiers or subject.profile_id)


def audit_entry(hasher: PiiHasher, workspace: str, event: pb.AuditEvent, field: str) -> AuditEntry:
    """A validated AuditEvent of RecordAuditEvents, its subject as stored keys."""
    audit_event_id = _text(event.audit_event_id, f"{field}.audit_event_id", 1, 128)
    if not event.HasField("occurred_at"):
        raise InvalidArgument.field(f"{field}.occurred_at", "is required")
    occurred_at = event.occurred_at.ToDatetime(tzinfo=UTC)
    if occurred_at > datetime.now(UTC) + CLOCK_SKEW:
        raise InvalidArgument.field(f"{field}.occurred_at", "must not be in the future")
    if occurred_at < EARLIEST:
        raise InvalidArgument.field(f"{field}.occurred_at", "must be after 1970-01-01")
    if not ACCESS_PURPOSE.match(event.purpose):
        raise InvalidArgument.field(f"{field}.purpose", _PURPOSE_RULE)
    keys: list[Key] = []
    if _given(event.subject):
        keys = subject_keys(hasher, workspace, event.subject, f"{field}.subject")
    resource = _text(event.resource, f"{field}.resource", 0, 256)
    if not keys and not resource:
        raise InvalidArgument.field(
            f"{field}.subject", "whose data was accessed: a subject or a resource is required"
        )
    if event.record_count < 0:
        raise InvalidArgument.field(f"{field}.record_count", "must not be negative")
    if event.trace_id and not audit.TRACE_ID.match(event.trace_id):
        raise InvalidArgument.field(f"{field}.trace_id", "must be 32 lower-case hex digits")
    return AuditEntry(
        audit_event_id=audit_event_id,
        occurred_at=occurred_at,
        principal=_text(event.principal, f"{field}.principal", 1, 128),
        api_key_id=_text(event.api_key_id, f"{field}.api_key_id", 0, 64),
        service=_text(event.service, f"{field}.service", 1, 64),
        operation=_text(event.operation, f"{field}.operation", 1, 256),
        action=_audit_action(event.action, f"{field}.action"),
        purpose=event.purpose,
        keys=tuple(keys),
        resource=resource,
        record_count=event.record_count,
        trace_id=event.trace_id,
    )


def audit_query(hasher: PiiHasher, workspace: str, request: pb.QueryAuditLogRequest) -> AuditQuery:
    """The filters of a QueryAuditLogRequest, validated."""
    keys: list[Key] = []
    if _given(request.subject):
        keys = subject_keys(hasher, workspace, request.subject, "subject")
    if request.purpose and not ACCESS_PURPOSE.match(request.purpose):
        raise InvalidArgument.field("purpose", _PURPOSE_RULE)
    start = request.start.ToDatetime(tzinfo=UTC) if request.HasField("start") else None
    end = request.end.ToDatetime(tzinfo=UTC) if request.HasField("end") else None
    if start is not None and end is not None and end <= start:
        raise InvalidArgument.field("end", "must be after start")
    return AuditQuery(
        keys=tuple(keys),
        principal=_text(request.principal, "principal", 0, 128),
        api_key_id=_text(request.api_key_id, "api_key_id", 0, 64),
        actions=tuple(_audit_action(a, f"actions[{i}]") for i, a in enumerate(request.actions)),
        purpose=request.purpose,
        start=start,
        end=end,
    )


def audit_event_proto(record: AuditRecord) -> pb.AuditEvent:
    out = pb.AuditEvent(
        audit_event_id=record.audit_event_id,
        occurred_at=to_timestamp(record.occurred_at),
        principal=record.principal,
        api_key_id=record.api_key_id,
        service=record.service,
        operation=record.operation,
        action=AUDIT_ACTION_IDS[record.action],  # type: ignore[arg-type]
        purpose=record.purpose,
        resource=record.resource,
        record_count=record.record_count,
        trace_id=record.trace_id,
    )
    if record.keys:
        out.subject.CopyFrom(shown_subject([list(k) for k in record.keys]))
    return out


def retention_proto(policy: Policy) -> pb.RetentionPolicy:
    out = pb.RetentionPolicy(
        data_kind=DATA_KINDS[policy.data_kind],  # type: ignore[arg-type]
        retention_days=policy.retention_days,
        action=pb.RETENTION_ACTION_DELETE,
        is_default=policy.is_default,
        updated_by=policy.updated_by,
        enforced_by=policy.enforced_by,
    )
    if policy.updated_at is not None:
        out.updated_at.CopyFrom(to_timestamp(policy.updated_at))
    if policy.last_applied_at is not None:
        out.last_applied_at.CopyFrom(to_timestamp(policy.last_applied_at))
    return out


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):
    def __init__(
        self,
        store: ConsentStore,
        hasher: PiiHasher,
        requests: DataSubjectRequests,
        audit_log: AuditLog,
        retention: Retention,
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._requests = requests
        self._audit_log = audit_log
        self._retention = retention

    # ---- retention -------------------------------------------------------------------------

    def GetRetentionPolicy(
        self, request: pb.GetRetentionPolicyRequest, context: grpc.ServicerContext
    ) -> pb.GetRetentionPolicyResponse:
        kind = data_kind_name(request.data_kind)
        policy = self._retention.policy(workspace_of(context), kind)
        return pb.GetRetentionPolicyResponse(policy=retention_proto(policy))

    def ListRetentionPolicies(
        self, request: pb.ListRetentionPoliciesRequest, context: grpc.ServicerContext
    ) -> pb.ListRetentionPoliciesResponse:
        policies = self._retention.policies(workspace_of(context))
        return pb.ListRetentionPoliciesResponse(policies=[retention_proto(p) for p in policies])

    def SetRetentionPolicy(
        self, request: pb.SetRetentionPolicyRequest, context: grpc.ServicerContext
    ) -> pb.SetRetentionPolicyResponse:
        kind = data_kind_name(request.policy.data_kind, "policy.data_kind")
        policy = self._retention.set_policy(
            workspace_of(context),
            kind,
            request.policy.retention_days,
            request.policy.action,
            principal_of(context),
        )
        return pb.SetRetentionPolicyResponse(policy=retention_proto(policy))

    def ApplyRetentionPolicies(
        self, request: pb.ApplyRetentionPoliciesRequest, context: grpc.ServicerContext
    ) -> pb.ApplyRetentionPoliciesResponse:
        kinds = (
            [data_kind_name(request.data_kind)]
            if request.data_kind != pb.DATA_KIND_UNSPECIFIED
            else None
        )
        outcomes = self._retention.apply_workspace(workspace_of(context), kinds)
        return pb.ApplyRetentionPoliciesResponse(
            outcomes=[
                pb.RetentionOutcome(
                    data_kind=DATA_KINDS[o.data_kind],  # type: ignore[arg-type]
                    service=o.service,
                    erased=[
                        privacy_pb2.ErasedRows(table=t, rows=n) for t, n in sorted(o.erased.items())
                    ],
                    error=o.error,
                )
                for o in outcomes
            ],
            applied_at=to_timestamp(datetime.now(UTC)),
        )

    # ---- audit log -------------------------------------------------------------------------

    def RecordAuditEvents(
        self, request: pb.RecordAuditEventsRequest, context: grpc.ServicerContext
    ) -> pb.RecordAuditEventsResponse:
        workspace = workspace_of(context)
        if not 1 <= len(request.events) <= MAX_AUDIT_EVENTS:
            raise InvalidArgument.field("events", f"must hold 1-{MAX_AUDIT_EVENTS} events")
        entries = [
            audit_entry(self._hasher, workspace, event, f"events[{i}]")
            for i, event in enumerate(request.events)
        ]
        recorded, duplicates = self._audit_log.record(workspace, entries)
        return pb.RecordAuditEventsResponse(recorded=recorded, duplicates=duplicates)

    def QueryAuditLog(
        self, request: pb.QueryAuditLogRequest, context: grpc.ServicerContext
    ) -> pb.QueryAuditLogResponse:
        workspace = workspace_of(context)
        query = audit_query(self._hasher, workspace, request)
        found, token = self._audit_log.query(
            workspace, query, _page_size(request.page_size), request.page_token
        )
        return pb.QueryAuditLogResponse(
            events=[audit_event_proto(r) for r in found], next_page_token=token
        )

    # ---- data-subject requests -------------------------------------------------------------

    def _open(
        self,
        kind: str,
        request_id: str,
        who: privacy_pb2.DataSubject,
        note: str,
        context: grpc.ServicerContext,
    ) -> pb.DataSubjectRequest:
        workspace = workspace_of(context)
        request_id = request_id or str(uuid.uuid4())
        _text(request_id, "request_id", 1, 128)
        keys = subject_keys(self._hasher, workspace, who, "subject")
        _text(note, "note", 0, 1000)
        row = self._requests.create(workspace, kind, request_id, keys, note, principal_of(context))
        _, tasks = self._requests.get(workspace, row.request_id)
        return dsr_proto(row, tasks, bundle=False)

    def CreateExportRequest(
        self, request: pb.CreateExportRequestRequest, context: grpc.ServicerContext
    ) -> pb.CreateExportRequestResponse:
        return pb.CreateExportRequestResponse(
            request=self._open(EXPORT, request.request_id, request.subject, request.note, context)
        )

    def CreateErasureRequest(
        self, request: pb.CreateErasureRequestRequest, context: grpc.ServicerContext
    ) -> pb.CreateErasureRequestResponse:
        return pb.CreateErasureRequestResponse(
            request=self._open(ERASURE, request.request_id, request.subject, request.note, context)
        )

    def GetDataSubjectRequest(
        self, request: pb.GetDataSubjectRequestRequest, context: grpc.ServicerContext
    ) -> pb.GetDataSubjectRequestResponse:
        workspace = workspace_of(context)
        _text(request.request_id, "request_id", 1, 128)
        row, tasks = self._requests.get(workspace, request.request_id)
        return pb.GetDataSubjectRequestResponse(
            request=dsr_proto(row, tasks, bundle=request.include_bundle)
        )

    def ListDataSubjectRequests(
        self, request: pb.ListDataSubjectRequestsRequest, context: grpc.ServicerContext
    ) -> pb.ListDataSubjectRequestsResponse:
        workspace = workspace_of(context)
        kind = DSR_KIND_NAMES.get(request.kind, "") if request.kind else ""
        state = DSR_STATE_NAMES.get(request.state, "") if request.state else ""
        found, token = self._requests.page(
            workspace, kind, state, _page_size(request.page_size), request.page_token
        )
        return pb.ListDataSubjectRequestsResponse(
            requests=[dsr_proto(row, tasks, bundle=False) for row, tasks in found],
            next_page_token=token,
        )

    def CheckSuppression(
        self, request: pb.CheckSuppressionRequest, context: grpc.ServicerContext
    ) -> pb.CheckSuppressionResponse:
        workspace = workspace_of(context)
        if not 1 <= len(request.identifiers) <= 500:
            raise InvalidArgument.field("identifiers", "must hold 1-500 identifiers")
        keys = [
            stored_key(self._hasher, workspace, identifier, field=f"identifiers[{i}]")
            for i, identifier in enumerate(request.identifiers)
        ]
        return pb.CheckSuppressionResponse(suppressed=self._requests.suppressed(workspace, keys))

    def RecordConsent(
        self, request: pb.RecordConsentRequest, context: grpc.ServicerContext
    ) -> pb.RecordConsentResponse:
        workspace = workspace_of(context)
        capture = self._capture(workspace, request)
        entries, state = self._store.record(workspace, capture)
        return pb.RecordConsentResponse(
            entries=[entry_proto(r) for r in entries],
            states=[state_proto(p, d) for p, d in state.decisions.items()],
        )

    def _capture(self, workspace: str, request: pb.RecordConsentRequest) -> Capture:
        return parse_capture(self._hasher, workspace, request)

    def GetConsentState(
        self, request: pb.GetConsentStateRequest, context: grpc.ServicerContext
    ) -> pb.GetConsentStateResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        state = self._store.state(workspace, keys)
        return pb.GetConsentStateResponse(
            states=[state_proto(p, d) for p, d in state.decisions.items()],
            jurisdiction=state.jurisdiction,
            is_minor=state.is_minor,
        )

    def CheckConsent(
        self, request: pb.CheckConsentRequest, context: grpc.ServicerContext
    ) -> pb.CheckConsentResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        if not request.purposes:
            raise InvalidArgument.field("purposes", "at least one purpose is required")
        purposes = [_purpose(p, f"purposes[{i}]") for i, p in enumerate(request.purposes)]
        if request.jurisdiction:
            check_jurisdiction(request.jurisdiction, "jurisdiction")
        decisions = self._store.check(workspace, keys, purposes, request.jurisdiction)
        return pb.CheckConsentResponse(
            decisions=[
                pb.PurposeDecision(
                    purpose=PURPOSE_IDS[p],  # type: ignore[arg-type]
                    allowed=d.allowed,
                    reason=d.reason,  # type: ignore[arg-type]
                )
                for p, d in zip(purposes, decisions, strict=True)
            ],
            profile_id=request.subject.profile_id,
        )

    def ListConsentHistory(
        self, request: pb.ListConsentHistoryRequest, context: grpc.ServicerContext
    ) -> pb.ListConsentHistoryResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        purposes = [_purpose(p, f"purposes[{i}]") for i, p in enumerate(request.purposes)]
        rows, token = self._store.history(
            workspace, keys, purposes, _page_size(request.page_size), request.page_token
        )
        return pb.ListConsentHistoryResponse(
            entries=[entry_proto(r) for r in rows], next_page_token=token
        )

    def GetConsentDefaults(
        self, request: pb.GetConsentDefaultsRequest, context: grpc.ServicerContext
    ) -> pb.GetConsentDefaultsResponse:
        workspace = workspace_of(context)
        if request.jurisdiction:
            check_jurisdiction(request.jurisdiction, "jurisdiction")
        found, default_jurisdiction = self._store.defaults(workspace, request.jurisdiction)
        return pb.GetConsentDefaultsResponse(
            jurisdictions=[defaults_proto(d) for d in found],
            default_jurisdiction=default_jurisdiction,
        )

    def SetConsentDefaults(
        self, request: pb.SetConsentDefaultsRequest, context: grpc.ServicerContext
    ) -> pb.SetConsentDefaultsResponse:
        workspace = workspace_of(context)
        given = request.defaults
        jurisdiction = check_jurisdiction(given.jurisdiction, "defaults.jurisdiction")
        choices = [
            (
                _purpose(d.purpose, f"defaults.defaults[{i}].purpose"),
                STATUSES.get(d.status, ""),
                d.requires_separate_consent,
            )
            for i, d in enumerate(given.defaults)
        ]
        new = validate_defaults(
            jurisdiction, choices, given.minor_age_threshold, given.minimum_policy_version
        )
        stored = self._store.set_defaults(workspace, new, request.make_default_jurisdiction)
        return pb.SetConsentDefaultsResponse(defaults=defaults_proto(stored))

    def GetMinorStatus(
        self, request: pb.GetMinorStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetMinorStatusResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        return pb.GetMinorStatusResponse(
            status=self._minor_proto(keys, self._store.minor(workspace, keys))
        )

    def SetMinorStatus(
        self, request: pb.SetMinorStatusRequest, context: grpc.ServicerContext
    ) -> pb.SetMinorStatusResponse:
        workspace = workspace_of(context)
        given = request.status
        keys = subject_keys(self._hasher, workspace, given.subject, "status.subject")
        guardian: list[Key] = []
        if given.guardian.identifiers or given.guardian.profile_id:
            guardian = subject_keys(self._hasher, workspace, given.guardian, "status.guardian")
        if given.is_minor and not guardian:
            raise InvalidArgument.field("status.guardian", "is required for a minor")
        status = Minor(
            given.is_minor,
            [list(k) for k in guardian],
            given.comes_of_age_at.ToDatetime(tzinfo=UTC)
            if given.HasField("comes_of_age_at")
            else None,
            _text(given.verification_reference, "status.verification_reference", 0, 512),
        )
        stored = self._store.set_minor(workspace, keys, status)
        return pb.SetMinorStatusResponse(status=self._minor_proto(keys, stored))

    def _minor_proto(self, keys: list[Key], minor: Minor) -> pb.MinorStatus:
        out = pb.MinorStatus(
            subject=shown_subject([list(k) for k in keys]),
            is_minor=minor.is_minor,
            guardian=shown_subject(minor.guardian),
            verification_reference=minor.verification_reference,
        )
        if minor.comes_of_age_at is not None:
            out.comes_of_age_at.CopyFrom(to_timestamp(minor.comes_of_age_at))
        if minor.updated_at is not None:
            out.updated_at.CopyFrom(to_timestamp(minor.updated_at))
        return out

    # Data-subject requests, suppression, retention and the audit log come with the rest of
    # issue 4: until then the generated base class answers UNIMPLEMENTED (501 at the gateway).


class ConsentPrivacyServicer(privacy_pb2_grpc.PrivacyServiceServicer):
    def __init__(self, store: ConsentStore, hasher: PiiHasher) -> None:
        self._store = store
        self._hasher = hasher

    def ExportSubject(
        self, request: privacy_pb2.ExportSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.ExportSubjectResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        return privacy_pb2.ExportSubjectResponse(
            service=SERVICE_NAME, bundle_json=orjson.dumps(self._store.export(workspace, keys))
        )

    def EraseSubject(
        self, request: privacy_pb2.EraseSubjectRequest, context: grpc.ServicerContext
    ) -> privacy_pb2.EraseSubjectResponse:
        workspace = workspace_of(context)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
        counts = self._store.erase(workspace, keys)
        return privacy_pb2.EraseSubjectResponse(
            service=SERVICE_NAME,
            erased=[privacy_pb2.ErasedRows(table=t, rows=n) for t, n in sorted(counts.items())],
            erased_at=to_timestamp(datetime.now(UTC)),
        )
