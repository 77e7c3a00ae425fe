"""RFM (recency, frequency, monetary) boundaries and cells of the workspace."""

from __future__ import annotations

from datetime import UTC

import orjson
from fastapi import APIRouter

from precis.profile.v1 import profile_pb2
from precis_gateway.deps import CallerDep, ProfileStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import disclose
from precis_gateway.models import RfmRefresh
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1/rfm", tags=["profiles"], responses=error_responses(401, 403, *UPSTREAM_ERRORS)
)


@router.post(
    "/refresh",
    summary="Recompute RFM boundaries",
    description=(
        "Recomputes the workspace's RFM quintile boundaries from every profile with orders (the "
        "profile service also does this on a schedule) and returns how many profiles each RFM "
        "cell holds. Profiles are scored against the new boundaries from then on."
    ),
    dependencies=[requires(Scope.WORKSPACE_ADMIN)],
)
def refresh_rfm(
    workspace: WorkspaceDep, caller: CallerDep, stub: ProfileStub, settings: SettingsDep
) -> RfmRefresh:
    response = call(
        stub.RefreshRfm,
        profile_pb2.RefreshRfmRequest(),
        service="profile",
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, 60.0),
    )
    # The cells partition the population: the population is their total.
    shown = disclose(
        {"population": response.population}
        | {f"cells.{cell}": size for cell, size in response.cell_sizes.items()},
        caller,
        k=settings.gateway_small_cell_k,
        total="population",
    )
    cells = {cell: shown[f"cells.{cell}"] for cell in response.cell_sizes}
    return RfmRefresh(
        as_of=response.as_of.ToDatetime(tzinfo=UTC),
        population=shown["population"],
        cells=_largest_first(cells),
        suppressed_counts=shown.suppressed,
        boundaries=orjson.loads(response.breaks_json) if response.breaks_json else {},
        clv_models=orjson.loads(response.clv_models_json) if response.clv_models_json else {},
    )


def _largest_first(cells: dict[str, int | None]) -> dict[str, int | None]:
    """Shown cells largest first, then withheld ones by name: placed among the shown cells by
    their true size, a withheld cell's position would bound it."""
    shown = sorted(((c, n) for n, c in cells.items() if c is not None), key=lambda t: (-t[0], t[1]))
    withheld = sorted(n for n, c in cells.items() if c is None)
    return {n: c for c, n in shown} | dict.fromkeys(withheld)
