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
from precis_common.privacy import identifier_of, stored_key
from precis_common.timeutil import aware
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


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):
    def __init__(
        self, store: ConsentStore, hasher: PiiHasher, requests: DataSubjectRequests
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._requests = requests

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
        principal = dict(context.invocation_metadata()).get(PRINCIPAL_METADATA, "")
        row = self._requests.create(workspace, kind, request_id, keys, note, str(principal)[:128])
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
        request_id = request.request_id or str(uuid.uuid4())
        _text(request_id, "request_id", 1, 128)
        keys = subject_keys(self._hasher, workspace, request.subject, "subject")
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
            guardian = subject_keys(self._hasher, workspace, request.guardian, "guardian")
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
