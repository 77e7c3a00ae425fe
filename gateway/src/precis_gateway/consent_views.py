"""Consent and data-subject requests between REST and the consent contract: enum names,
subjects, and the views.

REST names are the contract's enum names without their prefix, lower-cased
(PURPOSE_MARKETING_EMAIL -> marketing_email). Requests carry the proto enum names (protobuf
accepts them for enum fields), responses the REST names.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from precis.common.v1 import privacy_pb2, types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis_gateway.models import (
    CaptureChannelName,
    ConsentEntry,
    ConsentPurpose,
    ConsentStatusName,
    ConsentSubject,
    DecisionReasonName,
    ErasedRows,
    JurisdictionDefaults,
    LegalBasisName,
    MinorStatus,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestState,
    PrivacyTask,
    PurposeDefault,
    PurposeState,
    ShownSubject,
    SubjectIdentifier,
)
from precis_gateway.profile_views import identifier_type_name


def _names(items: Iterable[tuple[str, int]], prefix: str) -> dict[int, Any]:
    """Enum number -> REST name, UNSPECIFIED (0) left out."""
    return {number: name.removeprefix(prefix).lower() for name, number in items if number}


PURPOSES: dict[int, ConsentPurpose] = _names(pb.Purpose.items(), "PURPOSE_")
STATUSES: dict[int, ConsentStatusName] = _names(pb.ConsentStatus.items(), "CONSENT_STATUS_")
LEGAL_BASES: dict[int, LegalBasisName] = _names(pb.LegalBasis.items(), "LEGAL_BASIS_")
CHANNELS: dict[int, CaptureChannelName] = _names(pb.CaptureChannel.items(), "CAPTURE_CHANNEL_")
REASONS: dict[int, DecisionReasonName] = _names(pb.DecisionReason.items(), "DECISION_REASON_")
PRIVACY_KINDS: dict[int, PrivacyRequestKind] = _names(
    pb.DataSubjectRequestKind.items(), "DATA_SUBJECT_REQUEST_KIND_"
)
PRIVACY_STATES: dict[int, PrivacyRequestState] = _names(
    pb.DataSubjectRequestState.items(), "DATA_SUBJECT_REQUEST_STATE_"
)


def purpose_proto(name: str) -> str:
    return f"PURPOSE_{name.upper()}"


def status_proto(name: str) -> str:
    return f"CONSENT_STATUS_{name.upper()}"


def legal_basis_proto(name: str | None) -> str:
    return f"LEGAL_BASIS_{name.upper()}" if name else "LEGAL_BASIS_UNSPECIFIED"


def channel_proto(name: str | None) -> str:
    return f"CAPTURE_CHANNEL_{name.upper()}" if name else "CAPTURE_CHANNEL_UNSPECIFIED"


def privacy_kind_proto(name: str | None) -> str:
    return f"DATA_SUBJECT_REQUEST_KIND_{(name or 'unspecified').upper()}"


def privacy_state_proto(name: str | None) -> str:
    return f"DATA_SUBJECT_REQUEST_STATE_{(name or 'unspecified').upper()}"


_NAMED = (
    ("user_id", types_pb2.IDENTIFIER_TYPE_USER_ID),
    ("anonymous_id", types_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID),
    ("email", types_pb2.IDENTIFIER_TYPE_EMAIL),
    ("phone", types_pb2.IDENTIFIER_TYPE_PHONE),
    ("device_id", types_pb2.IDENTIFIER_TYPE_DEVICE_ID),
)


def subject_proto(
    subject: ConsentSubject, *, proto_field: str, rest_field: str
) -> tuple[privacy_pb2.DataSubject, dict[str, str]]:
    """The subject as a DataSubject, and the renames that turn the consent service's field paths
    (`subject.identifiers[2].value`) back into the REST body's (`subject.email`)."""
    out = privacy_pb2.DataSubject(profile_id=subject.profile_id or "")
    renames = {
        f"{proto_field}.identifiers": rest_field,
        f"{proto_field}.profile_id": f"{rest_field}.profile_id",
    }
    for name, kind in _NAMED:
        value = getattr(subject, name)
        if value is None:
            continue
        where = f"{proto_field}.identifiers[{len(out.identifiers)}]"
        renames[where] = renames[f"{where}.value"] = f"{rest_field}.{name}"
        out.identifiers.append(types_pb2.Identifier(type=kind, value=value))
    for j, external in enumerate(subject.external_ids):
        where = f"{proto_field}.identifiers[{len(out.identifiers)}]"
        shown = f"{rest_field}.external_ids[{j}]"
        renames[where] = shown
        renames[f"{where}.value"] = f"{shown}.id"
        renames[f"{where}.namespace"] = f"{shown}.namespace"
        out.identifiers.append(
            types_pb2.Identifier(
                type=types_pb2.IDENTIFIER_TYPE_EXTERNAL,
                value=external.id,
                namespace=external.namespace,
            )
        )
    return out, renames


def path_subject(
    identifier: types_pb2.Identifier, *, proto_field: str = "subject"
) -> tuple[privacy_pb2.DataSubject, dict[str, str]]:
    """A subject named by the path's identifier; its errors name the path's `value`."""
    return privacy_pb2.DataSubject(identifiers=[identifier]), {
        f"{proto_field}.identifiers": "value",
        f"{proto_field}.identifiers[0]": "value",
        f"{proto_field}.identifiers[0].value": "value",
    }


def _time(message: Any, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    ts: Timestamp = getattr(message, name)
    return ts.ToDatetime(tzinfo=UTC)


def shown_subject(subject: privacy_pb2.DataSubject) -> ShownSubject:
    return ShownSubject(
        identifiers=[
            SubjectIdentifier(
                type=(
                    f"external:{i.namespace}"
                    if i.type == types_pb2.IDENTIFIER_TYPE_EXTERNAL
                    else identifier_type_name(i.type)
                ),
                value=i.value,
            )
            for i in subject.identifiers
        ],
        profile_id=subject.profile_id or None,
    )


def _shown_or_none(message: Any, name: str) -> ShownSubject | None:
    subject: privacy_pb2.DataSubject = getattr(message, name)
    if not message.HasField(name) or not (subject.identifiers or subject.profile_id):
        return None
    return shown_subject(subject)


def entry_view(entry: pb.ConsentEntry) -> ConsentEntry:
    return ConsentEntry(
        entry_id=entry.entry_id,
        request_id=entry.request_id,
        subject=shown_subject(entry.subject),
        purpose=PURPOSES[entry.purpose],
        status=STATUSES[entry.status],
        legal_basis=LEGAL_BASES[entry.legal_basis],
        policy_version=entry.policy_version,
        source=entry.source,
        channel=CHANNELS.get(entry.channel),
        occurred_at=entry.occurred_at.ToDatetime(tzinfo=UTC),
        recorded_at=entry.recorded_at.ToDatetime(tzinfo=UTC),
        proof_reference=entry.proof_reference or None,
        jurisdiction=entry.jurisdiction,
        guardian=_shown_or_none(entry, "guardian"),
    )


def state_view(state: pb.PurposeState) -> PurposeState:
    return PurposeState(
        purpose=PURPOSES[state.purpose],
        allowed=state.allowed,
        status=STATUSES[state.status],
        reason=REASONS[state.reason],
        entry_id=state.entry_id or None,
        policy_version=state.policy_version or None,
        updated_at=_time(state, "updated_at"),
    )


def defaults_view(defaults: pb.JurisdictionDefaults) -> JurisdictionDefaults:
    return JurisdictionDefaults(
        jurisdiction=defaults.jurisdiction,
        defaults=[
            PurposeDefault(
                purpose=PURPOSES[d.purpose],
                status=STATUSES[d.status],  # type: ignore[arg-type]  # defaults are granted/denied
                requires_separate_consent=d.requires_separate_consent,
            )
            for d in defaults.defaults
        ],
        minor_age_threshold=defaults.minor_age_threshold,
        minimum_policy_version=defaults.minimum_policy_version or None,
        updated_at=_time(defaults, "updated_at"),
    )


def minor_view(status: pb.MinorStatus) -> MinorStatus:
    return MinorStatus(
        subject=shown_subject(status.subject),
        is_minor=status.is_minor,
        guardian=_shown_or_none(status, "guardian"),
        comes_of_age_at=_time(status, "comes_of_age_at"),
        verification_reference=status.verification_reference or None,
        updated_at=_time(status, "updated_at"),
    )


def privacy_request_view(request: pb.DataSubjectRequest) -> PrivacyRequest:
    completed_at = _time(request, "completed_at")
    return PrivacyRequest(
        request_id=request.request_id,
        kind=PRIVACY_KINDS[request.kind],
        state=PRIVACY_STATES[request.state],
        subject=shown_subject(request.subject),
        tasks=[
            PrivacyTask(
                service=t.service,
                state=PRIVACY_STATES[t.state],
                attempts=t.attempts,
                last_error=t.last_error or None,
                last_attempt_at=_time(t, "last_attempt_at"),
                next_attempt_at=_time(t, "next_attempt_at"),
                completed_at=_time(t, "completed_at"),
                erased=[ErasedRows(table=e.table, rows=e.rows) for e in t.erased],
                export_bytes=t.export_bytes,
            )
            for t in request.tasks
        ],
        note=request.note or None,
        requested_by=request.requested_by or None,
        created_at=request.created_at.ToDatetime(tzinfo=UTC),
        due_at=request.due_at.ToDatetime(tzinfo=UTC),
        completed_at=completed_at,
        suppressed=request.suppressed,
        bundle=orjson.loads(request.bundle_json) if request.bundle_json else None,
    )
