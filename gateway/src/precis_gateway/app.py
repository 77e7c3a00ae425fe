"""Wiring of the REST gateway: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from precis_common.telemetry import Telemetry, configure_telemetry
from precis_gateway.audit import AuditBatcher, AuditMiddleware, audit_access, consent_sender
from precis_gateway.body_limit import BodyLimitMiddleware
from precis_gateway.deps import ApiKeys, Stubs
from precis_gateway.errors import install_error_handlers
from precis_gateway.models import BatchRequest, IdentifyEvent, TrackEvent
from precis_gateway.routers import (
    audit,
    consent,
    events,
    families,
    health,
    life_stage,
    measurement,
    merge_rules,
    privacy,
    profiles,
    recommendations,
    retention,
    rfm,
    segments,
    tag_definitions,
    tags,
)
from precis_gateway.settings import GatewaySettings
from precis_gateway.upstream import Channels

SERVICE_NAME = "gateway"
API_VERSION = "1.0.0"
# Request bodies parsed by hand whose schemas the OpenAPI document still has to carry.
_BODY_MODELS = (TrackEvent, IdentifyEvent, BatchRequest)


def operation_id(route: APIRoute) -> str:
    """Stable operationIds from the endpoint names: get_profile -> getProfile."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def create_app(
    settings: GatewaySettings,
    *,
    telemetry: Telemetry | None = None,
    channels: Channels | None = None,
) -> FastAPI:
    """Build the app. Channels and telemetry given by the caller stay the caller's to close;
    those created here are closed when the app shuts down."""
    owns_telemetry = telemetry is None
    if telemetry is None:
        telemetry = configure_telemetry(SERVICE_NAME, settings)
    owns_channels = channels is None
    if channels is None:
        channels = Channels.open(
            ingestion_target=settings.gateway_ingestion_target,
            profile_target=settings.gateway_profile_target,
            consent_target=settings.gateway_consent_target,
            segmentation_target=settings.gateway_segmentation_target,
            recommendation_target=settings.gateway_recommendation_target,
            measurement_target=settings.gateway_measurement_target,
            interceptors=telemetry.client_interceptors(),
        )

    stubs = Stubs(channels)
    # Accesses to personal data go to the consent service's audit log from a thread of their
    # own: a request never waits for it (see audit.py).
    audit_batcher = AuditBatcher(
        consent_sender(stubs.consent),
        batch_size=settings.gateway_audit_batch_size,
        flush_interval=settings.gateway_audit_flush_seconds,
        max_pending=settings.gateway_audit_max_pending,
        max_backoff=settings.gateway_audit_max_backoff_seconds,
        deadline=settings.gateway_deadline_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        audit_batcher.start()
        yield
        audit_batcher.close(settings.gateway_audit_shutdown_seconds)
        if owns_channels:
            channels.close()
        if owns_telemetry:
            telemetry.shutdown()

    app = FastAPI(
        title="Precis REST API",
        version=API_VERSION,
        description=(
            "The REST edge of Precis: send behaviour events, read unified customer profiles, "
            "build audiences, recommend products, record and check each person's consent, and "
            "export or erase a person's data. "
            "Authenticate with the workspace's API key in the `X-API-Key` header. Every error has "
            'the body `{"error": {"code", "message", "details", "trace_id"}}`.'
        ),
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = ApiKeys(settings.gateway_api_keys)
    app.state.channels = channels
    app.state.stubs = stubs
    app.state.audit = audit_batcher
    app.state.telemetry = telemetry

    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.gateway_max_body_bytes)
    app.add_middleware(AuditMiddleware, batcher=audit_batcher)
    # Routers with routes that touch a person's data: X-Precis-Purpose is read and each such
    # access noted (audit.AUDITED_ROUTES says which and how).
    audited = [Depends(audit_access)]
    app.include_router(events.router)
    # Before the profiles router: its GET /{identifier_type}/{value:path} would take the path.
    app.include_router(segments.profile_router, dependencies=audited)
    app.include_router(recommendations.profile_router, dependencies=audited)
    app.include_router(profiles.router, dependencies=audited)
    app.include_router(merge_rules.router)
    app.include_router(tags.router, dependencies=audited)
    app.include_router(tag_definitions.router)
    app.include_router(life_stage.router)
    app.include_router(rfm.router)
    # Before the segments router: its GET /{segment_id} would take /v1/segments/rfm-cells.
    app.include_router(families.router)
    app.include_router(segments.router, dependencies=audited)
    app.include_router(consent.router, dependencies=audited)
    app.include_router(consent.defaults_router)
    app.include_router(privacy.router, dependencies=audited)
    app.include_router(audit.router)
    app.include_router(retention.router)
    app.include_router(recommendations.router)
    app.include_router(measurement.router, dependencies=audited)
    app.include_router(health.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented hook
    telemetry.instrument_fastapi(app)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        _, defs = models_json_schema(
            [(model, "validation") for model in _BODY_MODELS],
            ref_template="#/components/schemas/{model}",
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, body_schema in defs.get("$defs", {}).items():
            components.setdefault(name, body_schema)
        app.openapi_schema = schema
    return app.openapi_schema
