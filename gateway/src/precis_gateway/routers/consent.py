"""Consent (PIPL, GDPR): record what people chose, check and read it, the ledger's history,
per-jurisdiction defaults and minors with their guardians (through the consent service)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from precis.consent.v1 import consent_pb2 as pb
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway.consent_views import (
    PURPOSES,
    REASONS,
    channel_proto,
    defaults_view,
    entry_view,
    legal_basis_proto,
    minor_view,
    path_subject,
    purpose_proto,
    state_view,
    status_proto,
    subject_proto,
)
from precis_gateway.deps import ConsentStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.models import (
    MAX_JURISDICTION,
    CheckConsentBody,
    CheckConsentResult,
    ConsentDefaults,
    ConsentDefaultsBody,
    ConsentHistory,
    ConsentPurpose,
    ConsentState,
    JurisdictionDefaults,
    MinorStatus,
    MinorStatusBody,
    PurposeDecision,
    RecordConsentBody,
    RecordConsentResult,
)
from precis_gateway.profile_views import identifier_from_path
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

SERVICE = "consent"

router = APIRouter(
    prefix="/v1/consent",
    tags=["consent"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)
defaults_router = APIRouter(
    prefix="/v1/consent-defaults",
    tags=["consent"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)

IdentifierType = Annotated[
    str,
    Path(
        description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
        examples=["user_id"],
    ),
]
IdentifierValue = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_IDENTIFIER_LENGTH,
        description="The identifier's value (email and phone in clear; hashed before lookup).",
        examples=["c-10442"],
    ),
]
Jurisdiction = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_JURISDICTION,
        description='ISO 3166 code ("CN", "DE", "US-CA"), or "*" (also as %2A) for any other.',
        examples=["CN"],
    ),
]


@router.post(
    "",
    summary="Record consent",
    description=(
        "Appends one ledger entry per choice and returns the subject's state for every purpose. "
        "Repeating a request_id returns the original entries. The latest decision by the time "
        "it was made wins, whichever of the subject's identifiers it was recorded under. For a "
        "subject marked as a minor only a guardian may decide (412 without `guardian`)."
    ),
    responses=error_responses(412),
    dependencies=[requires(Scope.CONSENT_WRITE)],
)
def record_consent(
    body: RecordConsentBody, workspace: WorkspaceDep, stub: ConsentStub, settings: SettingsDep
) -> RecordConsentResult:
    subject, renames = subject_proto(body.subject, proto_field="subject", rest_field="subject")
    request = pb.RecordConsentRequest(
        # Generated here rather than by the service, so that the channel's retries of an
        # unanswered call are deduplicated like a client's own retries.
        request_id=body.request_id or str(uuid.uuid4()),
        subject=subject,
        choices=[
            pb.PurposeChoice(purpose=purpose_proto(c.purpose), status=status_proto(c.status))
            for c in body.choices
        ],
        legal_basis=legal_basis_proto(body.legal_basis),
        policy_version=body.policy_version,
        source=body.source,
        channel=channel_proto(body.channel),
        proof_reference=body.proof_reference or "",
        jurisdiction=body.jurisdiction or "",
    )
    if body.occurred_at is not None:
        request.occurred_at.FromDatetime(body.occurred_at)
    if body.guardian is not None:
        guardian, guardian_renames = subject_proto(
            body.guardian, proto_field="guardian", rest_field="guardian"
        )
        request.guardian.CopyFrom(guardian)
        renames.update(guardian_renames)
    response = call(
        stub.RecordConsent,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return RecordConsentResult(
        entries=[entry_view(e) for e in response.entries],
        states=[state_view(s) for s in response.states],
    )


@router.post(
    "/check",
    summary="Check consent",
    description=(
        "Whether each purpose is allowed for the subject now, in request order. Subjects "
        "without entries get the defaults of their jurisdiction."
    ),
    dependencies=[requires(Scope.CONSENT_READ)],
)
def check_consent(
    body: CheckConsentBody, workspace: WorkspaceDep, stub: ConsentStub, settings: SettingsDep
) -> CheckConsentResult:
    subject, renames = subject_proto(body.subject, proto_field="subject", rest_field="subject")
    response = call(
        stub.CheckConsent,
        pb.CheckConsentRequest(
            subject=subject,
            purposes=[purpose_proto(p) for p in body.purposes],
            jurisdiction=body.jurisdiction or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return CheckConsentResult(
        decisions=[
            PurposeDecision(
                purpose=PURPOSES[d.purpose], allowed=d.allowed, reason=REASONS[d.reason]
            )
            for d in response.decisions
        ],
        profile_id=response.profile_id or None,
    )


@router.get(
    "/{identifier_type}/{value}/history",
    summary="A subject's consent history",
    description="The subject's ledger entries, newest first, with cursor pagination.",
    dependencies=[requires(Scope.CONSENT_READ)],
)
def list_consent_history(
    identifier_type: IdentifierType,
    value: IdentifierValue,
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
    page_size: Annotated[int, Query(ge=1, le=500, description="Entries per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
    purpose: Annotated[
        list[ConsentPurpose] | None, Query(description="Only these purposes (repeatable).")
    ] = None,
) -> ConsentHistory:
    subject, renames = path_subject(identifier_from_path(identifier_type, value))
    response = call(
        stub.ListConsentHistory,
        pb.ListConsentHistoryRequest(
            subject=subject,
            purposes=[purpose_proto(p) for p in purpose or []],
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={**renames, "page_token": "cursor"},
    )
    return ConsentHistory(
        entries=[entry_view(e) for e in response.entries],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/{identifier_type}/{value}/minor",
    summary="A subject's minor status",
    description="Whether the subject is marked as a minor, and its guardian.",
    dependencies=[requires(Scope.CONSENT_READ)],
)
def get_minor_status(
    identifier_type: IdentifierType,
    value: IdentifierValue,
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> MinorStatus:
    subject, renames = path_subject(identifier_from_path(identifier_type, value))
    response = call(
        stub.GetMinorStatus,
        pb.GetMinorStatusRequest(subject=subject),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return minor_view(response.status)


@router.put(
    "/{identifier_type}/{value}/minor",
    summary="Set a subject's minor status",
    description=(
        "Marks the subject as a minor (a guardian is required) or not. While it is a minor, "
        "nothing is allowed by default and only the guardian's grants count."
    ),
    dependencies=[requires(Scope.CONSENT_WRITE)],
)
def set_minor_status(
    identifier_type: IdentifierType,
    value: IdentifierValue,
    body: MinorStatusBody,
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> MinorStatus:
    subject, renames = path_subject(
        identifier_from_path(identifier_type, value), proto_field="status.subject"
    )
    renames["status"] = ""  # the body is the service's `status` message, flattened
    status = pb.MinorStatus(
        subject=subject,
        is_minor=body.is_minor,
        verification_reference=body.verification_reference or "",
    )
    if body.guardian is not None:
        guardian, guardian_renames = subject_proto(
            body.guardian, proto_field="status.guardian", rest_field="guardian"
        )
        status.guardian.CopyFrom(guardian)
        renames.update(guardian_renames)
    if body.comes_of_age_at is not None:
        status.comes_of_age_at.FromDatetime(body.comes_of_age_at)
    response = call(
        stub.SetMinorStatus,
        pb.SetMinorStatusRequest(status=status),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return minor_view(response.status)


@router.get(
    "/{identifier_type}/{value:path}",
    summary="A subject's consent state",
    description=(
        "Whether each purpose is allowed for the subject now and why, with the jurisdiction "
        "whose defaults apply. Email and phone are given in clear and hashed before lookup. "
        "Decisions recorded only under another of the person's identifiers count when that "
        "identifier is named too: `POST /v1/consent/check` takes all of them."
    ),
    dependencies=[requires(Scope.CONSENT_READ)],
)
def get_consent_state(
    identifier_type: IdentifierType,
    value: IdentifierValue,
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> ConsentState:
    subject, renames = path_subject(identifier_from_path(identifier_type, value))
    response = call(
        stub.GetConsentState,
        pb.GetConsentStateRequest(subject=subject),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return ConsentState(
        states=[state_view(s) for s in response.states],
        jurisdiction=response.jurisdiction,
        is_minor=response.is_minor,
        suppressed=response.suppressed,
    )


@defaults_router.get(
    "",
    summary="Get the consent defaults",
    description=(
        "The workspace's default consent per jurisdiction: those set, plus the fallback `*` "
        "(built-in opt-in defaults until set). With `jurisdiction`, the defaults in force there."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def get_consent_defaults(
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
    jurisdiction: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_JURISDICTION,
            description="Only this jurisdiction.",
            examples=["CN"],
        ),
    ] = None,
) -> ConsentDefaults:
    response = call(
        stub.GetConsentDefaults,
        pb.GetConsentDefaultsRequest(jurisdiction=jurisdiction or ""),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return ConsentDefaults(
        jurisdictions=[defaults_view(d) for d in response.jurisdictions],
        default_jurisdiction=response.default_jurisdiction,
    )


@defaults_router.put(
    "/{jurisdiction}",
    summary="Replace a jurisdiction's consent defaults",
    description=(
        "Subjects without an explicit entry change state at once. Where PIPL or GDPR applies "
        "(CN, the EU/EEA, the UK and `*`), marketing, ads targeting, sharing, transfer and "
        "sensitive data may not default to granted (422)."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def set_consent_defaults(
    jurisdiction: Jurisdiction,
    body: ConsentDefaultsBody,
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> JurisdictionDefaults:
    request = pb.SetConsentDefaultsRequest(
        defaults=pb.JurisdictionDefaults(
            jurisdiction=jurisdiction,
            defaults=[
                pb.PurposeDefault(
                    purpose=purpose_proto(d.purpose),
                    status=status_proto(d.status),
                    requires_separate_consent=d.requires_separate_consent,
                )
                for d in body.defaults
            ],
            minor_age_threshold=body.minor_age_threshold or 0,
            minimum_policy_version=body.minimum_policy_version or "",
        ),
        make_default_jurisdiction=body.make_default_jurisdiction,
    )
    response = call(
        stub.SetConsentDefaults,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        # The body is the service's `defaults` message flattened: its fields lose the prefix.
        fields={"defaults": ""},
    )
    return defaults_view(response.defaults)
