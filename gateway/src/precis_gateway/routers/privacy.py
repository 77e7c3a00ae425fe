"""Data-subject requests (GDPR articles 15, 17 and 20; PIPL articles 45 and 47): export and erase
everything every service holds about a person, follow the requests, and check identifiers
against the suppression list of erased subjects (through the consent service)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from precis.common.v1 import types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis_common.grpc_client import principal_metadata
from precis_gateway.consent_views import (
    privacy_kind_proto,
    privacy_request_view,
    privacy_state_proto,
    subject_proto,
)
from precis_gateway.deps import ConsentStub, PrincipalDep, SettingsDep, WorkspaceDep, requires
from precis_gateway.models import (
    PrivacyRequest,
    PrivacyRequestBody,
    PrivacyRequestKind,
    PrivacyRequestPage,
    PrivacyRequestState,
    SuppressionCheckBody,
    SuppressionCheckResult,
)
from precis_gateway.profile_views import identifier_type_to_proto
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.settings import GatewaySettings
from precis_gateway.upstream import call

SERVICE = "consent"

router = APIRouter(
    prefix="/v1/privacy",
    tags=["privacy"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)

RequestId = Annotated[
    str,
    Path(min_length=1, max_length=128, description="The request's id.", examples=["ticket-8812"]),
]

_OPENED = (
    "Returns at once (202) with the request pending; every service holding personal data "
    "(ingestion, profile, consent) is then called in the background and retried with backoff "
    "until it confirms. Follow it with `GET /v1/privacy/requests/{request_id}`. Repeating a "
    "request_id returns the original request."
)


def _open(
    kind: PrivacyRequestKind,
    body: PrivacyRequestBody,
    workspace: str,
    principal: str,
    stub: consent_pb2_grpc.ConsentServiceStub,
    settings: GatewaySettings,
) -> PrivacyRequest:
    subject, renames = subject_proto(body.subject, proto_field="subject", rest_field="subject")
    method: Callable[..., Any]
    message: Callable[..., Any]  # the two requests have the same fields
    if kind == "export":
        method, message = stub.CreateExportRequest, pb.CreateExportRequestRequest
    else:
        method, message = stub.CreateErasureRequest, pb.CreateErasureRequestRequest
    request = message(
        # Generated here rather than by the service, so that the channel's retries of an
        # unanswered call are deduplicated like a client's own retries (one erasure, not two).
        request_id=body.request_id or str(uuid.uuid4()),
        subject=subject,
        note=body.note or "",
    )
    response = call(
        method,
        request,
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=renames,
        metadata=principal_metadata(principal),
    )
    return privacy_request_view(response.request)


@router.post(
    "/exports",
    status_code=202,
    summary="Request an export of a person's data",
    description=(
        "Opens an access and portability request: once completed, the request holds one JSON "
        f"bundle of everything each service keeps about the person (`include_bundle`). {_OPENED}"
    ),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def request_export(
    body: PrivacyRequestBody,
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> PrivacyRequest:
    return _open("export", body, workspace, principal, stub, settings)


@router.post(
    "/erasures",
    status_code=202,
    summary="Request the erasure of a person's data",
    description=(
        "Opens an erasure request: every service deletes the person's events, profile and "
        "consent records and returns a receipt of rows deleted per table, and the person's "
        "identifiers go on the suppression list at once, so events arriving later are "
        f"recognized. Once completed, the request no longer names the person. {_OPENED}"
    ),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def request_erasure(
    body: PrivacyRequestBody,
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> PrivacyRequest:
    return _open("erasure", body, workspace, principal, stub, settings)


@router.get(
    "/requests",
    summary="List data-subject requests",
    description="The workspace's export and erasure requests, newest first, with their tasks.",
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def list_privacy_requests(
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
    kind: Annotated[PrivacyRequestKind | None, Query(description="Only this kind.")] = None,
    state: Annotated[PrivacyRequestState | None, Query(description="Only this state.")] = None,
    page_size: Annotated[int, Query(ge=1, le=500, description="Requests per page.")] = 50,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
    ] = None,
) -> PrivacyRequestPage:
    response = call(
        stub.ListDataSubjectRequests,
        pb.ListDataSubjectRequestsRequest(
            kind=privacy_kind_proto(kind),
            state=privacy_state_proto(state),
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"page_token": "cursor"},
        metadata=principal_metadata(principal),
    )
    return PrivacyRequestPage(
        requests=[privacy_request_view(r) for r in response.requests],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/requests/{request_id:path}",
    summary="A data-subject request",
    description=(
        "The request with each service's progress and receipt. With `include_bundle=true`, a "
        "completed export carries the bundle."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def get_privacy_request(
    request_id: RequestId,
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
    include_bundle: Annotated[
        bool, Query(description="Include a completed export's bundle.")
    ] = False,
) -> PrivacyRequest:
    response = call(
        stub.GetDataSubjectRequest,
        pb.GetDataSubjectRequestRequest(request_id=request_id, include_bundle=include_bundle),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        metadata=principal_metadata(principal),
    )
    return privacy_request_view(response.request)


@router.post(
    "/suppression-check",
    summary="Check identifiers against the suppression list",
    description=(
        "Whether each identifier belongs to an erased person, in request order: true means "
        "data arriving under it must not bring the person back. The list holds keyed hashes "
        "that match no stored value, never the identifiers themselves."
    ),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)
def check_suppression(
    body: SuppressionCheckBody,
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> SuppressionCheckResult:
    identifiers = [
        types_pb2.Identifier(
            type=identifier_type_to_proto(i.type), value=i.value, namespace=i.namespace or ""
        )
        for i in body.identifiers
    ]
    response = call(
        stub.CheckSuppression,
        pb.CheckSuppressionRequest(identifiers=identifiers),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        metadata=principal_metadata(principal),
    )
    return SuppressionCheckResult(suppressed=list(response.suppressed))
