"""Retention policies: how long each kind of data is kept in the workspace, applied in every
service by the consent service's scheduled job (and on demand)."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, cast, get_args

from fastapi import APIRouter, Path

from precis.consent.v1 import consent_pb2 as pb
from precis_common.grpc_client import principal_metadata
from precis_gateway.deps import ConsentStub, PrincipalDep, SettingsDep, WorkspaceDep, requires
from precis_gateway.models import (
    DataKindName,
    ErasedRows,
    RetentionApplyBody,
    RetentionOutcomeView,
    RetentionPolicies,
    RetentionPolicyBody,
    RetentionPolicyView,
    RetentionRun,
)
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

SERVICE = "consent"
KINDS: dict[str, int] = {
    name: pb.DataKind.Value("DATA_KIND_" + name.upper()) for name in get_args(DataKindName)
}
NAMES = {v: k for k, v in KINDS.items()}
KindPath = Annotated[DataKindName, Path(description="The kind of data.")]

router = APIRouter(
    prefix="/v1/retention-policies",
    tags=["privacy"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
    dependencies=[requires(Scope.PRIVACY_ADMIN)],
)


def _view(p: pb.RetentionPolicy) -> RetentionPolicyView:
    return RetentionPolicyView(
        data_kind=cast(DataKindName, NAMES[p.data_kind]),
        retention_days=p.retention_days,
        action="delete",
        is_default=p.is_default,
        updated_at=p.updated_at.ToDatetime(tzinfo=UTC) if p.HasField("updated_at") else None,
        updated_by=p.updated_by or None,
        last_applied_at=(
            p.last_applied_at.ToDatetime(tzinfo=UTC) if p.HasField("last_applied_at") else None
        ),
        enforced_by=list(p.enforced_by),
    )


@router.get(
    "",
    summary="List retention policies",
    description=(
        "The workspace's retention period of every kind of data. Built in: data is kept until "
        "the workspace sets a period, except export bundles (30 days)."
    ),
)
def list_retention_policies(
    workspace: WorkspaceDep, stub: ConsentStub, settings: SettingsDep
) -> RetentionPolicies:
    response = call(
        stub.ListRetentionPolicies,
        pb.ListRetentionPoliciesRequest(),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return RetentionPolicies(policies=[_view(p) for p in response.policies])


@router.get("/{data_kind}", summary="Get a retention policy")
def get_retention_policy(
    data_kind: KindPath, workspace: WorkspaceDep, stub: ConsentStub, settings: SettingsDep
) -> RetentionPolicyView:
    response = call(
        stub.GetRetentionPolicy,
        pb.GetRetentionPolicyRequest(data_kind=KINDS[data_kind]),  # type: ignore[arg-type]
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return _view(response.policy)


@router.put(
    "/{data_kind}",
    summary="Set a retention policy",
    description=(
        "Replaces the period of one kind of data. The retention job applies it in every service "
        "holding the data on its next run (hourly by default); `POST "
        "/v1/retention-policies/apply` applies it now."
    ),
)
def set_retention_policy(
    data_kind: KindPath,
    body: RetentionPolicyBody,
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
) -> RetentionPolicyView:
    response = call(
        stub.SetRetentionPolicy,
        pb.SetRetentionPolicyRequest(
            policy=pb.RetentionPolicy(
                data_kind=KINDS[data_kind],  # type: ignore[arg-type]
                retention_days=body.retention_days,
                action=pb.RETENTION_ACTION_DELETE,
            )
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"policy.retention_days": "retention_days", "policy.action": "action"},
        metadata=principal_metadata(principal),
    )
    return _view(response.policy)


@router.post(
    "/apply",
    summary="Apply the retention policies now",
    description=(
        "Deletes the workspace's data past its retention period in every service holding it, "
        "now, and reports what each service deleted. A service that is down is named with the "
        "error and retried by the scheduled job."
    ),
)
def apply_retention_policies(
    workspace: WorkspaceDep,
    principal: PrincipalDep,
    stub: ConsentStub,
    settings: SettingsDep,
    body: RetentionApplyBody | None = None,
) -> RetentionRun:
    kind = KINDS[body.data_kind] if body is not None and body.data_kind else 0
    response = call(
        stub.ApplyRetentionPolicies,
        pb.ApplyRetentionPoliciesRequest(data_kind=kind),  # type: ignore[arg-type]
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 300.0),
        metadata=principal_metadata(principal),
    )
    return RetentionRun(
        outcomes=[
            RetentionOutcomeView(
                data_kind=cast(DataKindName, NAMES[o.data_kind]),
                service=o.service,
                erased=[ErasedRows(table=e.table, rows=e.rows) for e in o.erased],
                error=o.error or None,
            )
            for o in response.outcomes
        ],
        applied_at=response.applied_at.ToDatetime(tzinfo=UTC),
    )
