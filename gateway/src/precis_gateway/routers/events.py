"""Behaviour events: track, identify, batch (forwarded to the ingestion service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from opentelemetry import trace

from precis.ingestion.v1 import ingestion_pb2
from precis_common.telemetry import ATTR_BATCH_SIZE, ATTR_MESSAGE_ID, ATTR_WORKSPACE
from precis_gateway.deps import IngestionStub, JsonBody, SettingsDep, WorkspaceDep, requires
from precis_gateway.event_payloads import (
    IDENTIFY,
    TRACK,
    batch_result,
    event_result,
    prepare_batch,
    to_event,
)
from precis_gateway.models import BatchResult, EventResult
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

router = APIRouter(
    prefix="/v1", tags=["events"], responses=error_responses(401, 403, 413, 422, *UPSTREAM_ERRORS)
)


def _request_body(schema: str, description: str) -> dict[str, Any]:
    # The body is parsed by hand (orjson + TypeAdapter) for speed, so the schema is declared here;
    # app.py adds the named models to components.schemas.
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }


def _annotate(workspace: str, **attributes: Any) -> None:
    span = trace.get_current_span()
    span.set_attribute(ATTR_WORKSPACE, workspace)
    for key, value in attributes.items():
        span.set_attribute(key, value)


@router.post(
    "/track",
    summary="Record a track event",
    description="Something a customer did. Idempotent per message_id: resending is safe.",
    openapi_extra=_request_body("TrackEvent", "One track event."),
    dependencies=[requires(Scope.EVENTS_WRITE)],
)
def track(
    workspace: WorkspaceDep, body: JsonBody, stub: IngestionStub, settings: SettingsDep
) -> EventResult:
    event = to_event(body, TRACK)
    _annotate(workspace, **{ATTR_MESSAGE_ID: event.message_id})
    response = call(
        stub.Track,
        ingestion_pb2.TrackRequest(event=event),
        service="ingestion",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return event_result(response.result)


@router.post(
    "/identify",
    summary="Record an identify event",
    description="Who a customer is: identifiers and traits. Idempotent per message_id.",
    openapi_extra=_request_body("IdentifyEvent", "One identify event."),
    dependencies=[requires(Scope.EVENTS_WRITE)],
)
def identify(
    workspace: WorkspaceDep, body: JsonBody, stub: IngestionStub, settings: SettingsDep
) -> EventResult:
    event = to_event(body, IDENTIFY)
    _annotate(workspace, **{ATTR_MESSAGE_ID: event.message_id})
    response = call(
        stub.Identify,
        ingestion_pb2.IdentifyRequest(event=event),
        service="ingestion",
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return event_result(response.result)


@router.post(
    "/batch",
    summary="Record up to 500 events",
    description=(
        "Each event is validated on its own: refused events are reported with their index and "
        "reasons and are not stored, while the others are. A body that is not a batch of 1 to "
        "500 events is refused as a whole (422)."
    ),
    openapi_extra=_request_body("BatchRequest", "Up to 500 events (512 KiB)."),
    dependencies=[requires(Scope.EVENTS_WRITE)],
)
def batch(
    workspace: WorkspaceDep, body: JsonBody, stub: IngestionStub, settings: SettingsDep
) -> BatchResult:
    prepared = prepare_batch(body)
    _annotate(workspace, **{ATTR_BATCH_SIZE: len(prepared.events) + len(prepared.rejected)})
    response = None
    if prepared.events:
        response = call(
            stub.Batch,
            ingestion_pb2.BatchRequest(events=prepared.events),
            service="ingestion",
            workspace=workspace,
            deadline=settings.gateway_deadline_seconds,
        )
    return batch_result(prepared, response)
