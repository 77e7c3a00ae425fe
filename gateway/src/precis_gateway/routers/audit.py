"""The audit log of accesses to personal data (kept by the consent service), for privacy
administrators: who read, exported, erased or updated whose data, when and for which purpose."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Query

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway.consent_views import path_subject, shown_subject
from precis_gateway.deps import ConsentStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.models import AuditActionName, AuditLogEntry, AuditLogPage, Rfc3339
from precis_gateway.profile_views import identifier_from_path
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

SERVICE = "consent"

AUDIT_ACTIONS: dict[int, AuditActionName] = {
    pb.AUDIT_ACTION_READ: "read",
    pb.AUDIT_ACTION_EXPORT: "export",
    pb.AUDIT_ACTION_ERASE: "erase",
    pb.AUDIT_ACTION_UPDATE: "update",
}

router = APIRouter(
    prefix="/v1/audit-log",
    tags=["privacy"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)


def entry_view(event: pb.AuditEvent) -> AuditLogEntry:
    named = event.HasField("subject") and (event.subject.identifiers or event.subject.profile_id)
    return AuditLogEntry(
        audit_event_id=event.audit_event_id,
        occurred_at=event.occurred_at.ToDatetime(tzinfo=UTC),
        principal=event.principal,
        api_key_id=event.api_key_id or None,
        service=event.service,
        operation=event.operation,
        action=AUDIT_ACTIONS[event.action],
        purpose=event.purpose,
        subject=shown_subject(event.subject) if named else None,
        resource=event.resource or None,
        record_count=event.record_count,
        trace_id=event.trace_id or None,
    )


@router.get(
    "",
    summary="Query the audit log",
    description=(
        "Accesses to personal data, newest first, with cursor pagination: profile, timeline and "
        "consent reads, consent recorded and tags changed on a person's behalf, unmerges, "
        "data-subject export bundles read and erasures requested (through this API, with the "
        "API key's id and the purpose declared in `X-Precis-Purpose`), and exports and "
        "erasures the consent service completed. Filters combine with AND. A person is given "
        "as `identifier_type` and `value` (email and phone in clear, hashed before lookup) "
        "and/or `profile_id`: accesses recorded under any of them match. Once a person is "
        "erased their accesses remain, but no longer name them."
    ),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def query_audit_log(
    workspace: WorkspaceDep,
    stub: ConsentStub,
    settings: SettingsDep,
    identifier_type: Annotated[
        str | None,
        Query(
            description=(
                "With `value`: only accesses to this person's data. user_id, anonymous_id, "
                "email, phone, device_id or external:<namespace>."
            ),
            examples=["email"],
        ),
    ] = None,
    value: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_IDENTIFIER_LENGTH,
            description="The identifier's value (email and phone in clear).",
            examples=["li.na@example.com"],
        ),
    ] = None,
    profile_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="Only accesses to this profile's data."),
    ] = None,
    principal: Annotated[
        str | None,
        Query(min_length=1, max_length=128, description="Only accesses by this principal."),
    ] = None,
    api_key_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Only accesses with this API key (its id).",
            examples=["key:3f9a0c2b"],
        ),
    ] = None,
    action: Annotated[
        list[AuditActionName] | None, Query(description="Only these actions (repeatable).")
    ] = None,
    purpose: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z0-9_]{1,64}$",
            description="Only accesses with this declared purpose.",
            examples=["customer_support"],
        ),
    ] = None,
    start: Annotated[
        Rfc3339 | None,
        Query(description="Only accesses at or after this time (RFC 3339 with an offset)."),
    ] = None,
    end: Annotated[
        Rfc3339 | None,
        Query(description="Only accesses before this time (RFC 3339 with an offset)."),
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=500, description="Entries per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
) -> AuditLogPage:
    request = pb.QueryAuditLogRequest(
        principal=principal or "",
        api_key_id=api_key_id or "",
        actions=[f"AUDIT_ACTION_{a.upper()}" for a in action or []],
        purpose=purpose or "",
        page_size=page_size,
        page_token=cursor or "",
    )
    renames = {"page_token": "cursor", "actions": "action", "subject.profile_id": "profile_id"}
    if (identifier_type is None) != (value is None):
        missing = "identifier_type" if identifier_type is None else "value"
        raise ApiError.invalid(
            [ErrorDetail(field=missing, reason="identifier_type and value go together")]
        )
    subject = privacy_pb2.DataSubject(profile_id=profile_id or "")
    if identifier_type is not None and value is not None:
        subject, path_renames = path_subject(identifier_from_path(identifier_type, value))
        subject.profile_id = profile_id or ""
        renames.update(path_renames)
    request.subject.CopyFrom(subject)
    if start is not None:
        request.start.FromDatetime(start)
    if end is not None:
        request.end.FromDatetime(end)
    response = call(
        stub.QueryAuditLog,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
    )
    return AuditLogPage(
        entries=[entry_view(e) for e in response.events],
        next_cursor=response.next_page_token or None,
    )
