"""One trace from the client's REST call through the gateway, the ingestion gRPC hop and its
SQL statements; and a span link from the profile service's processing of that event back to
the same trace (the lineage edge across the change feed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from precis_common.telemetry import configure_telemetry
from precis_gateway.app import create_app
from precis_gateway.settings import GatewaySettings
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_profile.app import build as build_profile
from precis_profile.app import start as start_profile
from precis_profile.settings import ProfileSettings

API_KEY = "test-key-0123456789abcdef"


@pytest.fixture
def suite(tmp_path: Path, tracer_provider_factory: Any) -> Iterator[dict[str, Any]]:
    ingestion = start_ingestion(
        build_ingestion(
            IngestionSettings(state_dir=tmp_path, ingestion_grpc_port=0),
            tracer_provider=tracer_provider_factory("ingestion"),
            configure_logs=False,
        )
    )
    profile = start_profile(
        build_profile(
            ProfileSettings(
                state_dir=tmp_path,
                profile_grpc_port=0,
                profile_consume=False,
                profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
            ),
            tracer_provider=tracer_provider_factory("profile"),
            configure_logs=False,
        )
    )
    settings = GatewaySettings(
        gateway_api_keys={API_KEY: "brand-a"},
        gateway_ingestion_target=f"127.0.0.1:{ingestion.port}",
        gateway_profile_target=f"127.0.0.1:{profile.port}",
    )
    telemetry = configure_telemetry(
        "gateway",
        settings,
        tracer_provider=tracer_provider_factory("gateway"),
        configure_logs=False,
    )
    with TestClient(create_app(settings, telemetry=telemetry)) as client:
        yield {"client": client, "ingestion": ingestion, "profile": profile}
    profile.stop(0)
    ingestion.stop(0)


def test_one_trace_from_rest_call_to_sql_and_a_link_from_the_profile_update(
    suite: dict[str, Any], span_exporter: InMemorySpanExporter
) -> None:
    response = suite["client"].post(
        "/v1/track",
        headers={"X-API-Key": API_KEY},
        json={
            "message_id": "trace-1",
            "event": "Order Completed",
            "user_id": "u1",
            "properties": {"revenue": 5},
        },
    )
    assert response.status_code == 200, response.text
    spans = span_exporter.get_finished_spans()

    def service(span: Any) -> str:
        return str(span.resource.attributes["service.name"])

    gateway_server = next(
        s
        for s in spans
        if service(s) == "gateway" and s.kind == SpanKind.SERVER and s.parent is None
    )
    trace_id = gateway_server.context.trace_id
    client = next(
        s for s in spans if s.kind == SpanKind.CLIENT and s.name.endswith("IngestionService/Track")
    )
    server = next(
        s for s in spans if s.kind == SpanKind.SERVER and s.name.endswith("IngestionService/Track")
    )
    assert service(client) == "gateway" and service(server) == "ingestion"
    assert client.context.trace_id == server.context.trace_id == trace_id
    assert server.parent is not None and server.parent.span_id == client.context.span_id

    def statement(span: Any) -> str:
        attributes = span.attributes or {}
        return str(attributes.get("db.statement") or attributes.get("db.query.text") or "")

    inserts = [
        s for s in spans if service(s) == "ingestion" and "INSERT INTO events" in statement(s)
    ]
    assert inserts, f"no SQL span for the insert among {[s.name for s in spans]}"
    assert all(s.context.trace_id == trace_id for s in inserts)
    assert inserts[0].parent is not None

    span_exporter.clear()
    assert suite["profile"].consumer.run_once() == 1
    applied = next(s for s in span_exporter.get_finished_spans() if s.name == "profile.apply track")
    assert service(applied) == "profile"
    assert applied.context.trace_id != trace_id  # later work: its own trace, linked to the producer
    assert [link.context.trace_id for link in applied.links] == [trace_id]
    assert applied.attributes["precis.profile.id"]
