"""Liveness (the process answers) and readiness (every service behind it answers SERVING)."""

from __future__ import annotations

import grpc
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2

from precis_gateway.deps import StubsDep
from precis_gateway.models import Health, Readiness

router = APIRouter(tags=["health"])

READINESS_TIMEOUT_SECONDS = 1.0
_SERVING = "SERVING"


@router.get("/healthz", summary="Liveness")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not serving."}},
)
def readyz(stubs: StubsDep) -> JSONResponse:
    # Every check in flight at once: readiness costs at most one timeout, not one per service.
    pending = {
        name: stub.Check.future(
            health_pb2.HealthCheckRequest(service=""), timeout=READINESS_TIMEOUT_SECONDS
        )
        for name, stub in stubs.health.items()
    }
    dependencies: dict[str, str] = {}
    for name, future in pending.items():
        try:
            dependencies[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(
                future.result().status
            )
        except grpc.RpcError as exc:
            dependencies[name] = exc.code().name
    ready = all(status == _SERVING for status in dependencies.values())
    body = Readiness(status="ready" if ready else "not_ready", dependencies=dependencies)
    return JSONResponse(
        body.model_dump(),
        status_code=200 if ready else 503,
        headers=None if ready else {"Retry-After": "5"},
    )
