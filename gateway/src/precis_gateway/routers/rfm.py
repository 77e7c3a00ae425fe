"""RFM (recency, frequency, monetary) boundaries and cells of the workspace."""

from __future__ import annotations

from datetime import UTC

import orjson
from fastapi import APIRouter

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import ProfileStub, SettingsDep, WorkspaceDep
from precis_gateway.models import RfmRefresh
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/rfm", tags=["profiles"], responses=error_responses(401, *UPSTREAM_ERRORS)
)


@router.post(
    "/refresh",
    summary="Recompute RFM boundaries",
    description=(
        "Recomputes the workspace's RFM quintile boundaries from every profile with orders (the "
        "profile service also does this on a schedule) and returns how many profiles each RFM "
        "cell holds. Profiles are scored against the new boundaries from then on."
    ),
)
def refresh_rfm(workspace: WorkspaceDep, stub: ProfileStub, settings: SettingsDep) -> RfmRefresh:
    response = call(
        stub.RefreshRfm,
        profile_pb2.RefreshRfmRequest(),
        service="profile",
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    return RfmRefresh(
        as_of=response.as_of.ToDatetime(tzinfo=UTC),
        population=response.population,
        cells=dict(sorted(response.cell_sizes.items(), key=lambda kv: -kv[1])),
        boundaries=orjson.loads(response.breaks_json) if response.breaks_json else {},
        clv_models=orjson.loads(response.clv_models_json) if response.clv_models_json else {},
    )
