"""Telemetry set-up: exporter choice from settings, trace ids in log lines, span links."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError

from precis.common.v1 import privacy_pb2_grpc
from precis_common.grpc_server import GrpcServer
from precis_common.settings import CommonSettings
from precis_common.telemetry import (
    _TraceIdsFilter,
    configure_telemetry,
    current_traceparent,
    link_from_traceparent,
)


def test_exporter_follows_settings() -> None:
    assert CommonSettings().span_exporter == "none"
    assert CommonSettings(otlp_endpoint="http://collector:4317").span_exporter == "otlp"
    assert CommonSettings(telemetry="console").span_exporter == "console"


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP receiver: what a collector would get from us."""

    def __init__(self) -> None:
        self.span_names: list[str] = []
        self.services: set[str] = set()

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    self.services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                self.span_names.extend(span.name for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set() -> None:
    collector = _Collector()
    server = GrpcServer(name="collector", host="127.0.0.1", port=0)
    server.add(
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server,
        collector,
        "opentelemetry.proto.collector.trace.v1.TraceService",
    )
    port = server.start()
    try:
        telemetry = configure_telemetry(
            "ingestion",
            CommonSettings(otlp_endpoint=f"http://127.0.0.1:{port}"),
            configure_logs=False,
        )
        with telemetry.tracer.start_as_current_span("exported work"):
            pass
        assert telemetry.tracer_provider.force_flush(10_000)
        telemetry.shutdown()
        assert collector.span_names == ["exported work"]
        assert collector.services == {"ingestion"}
    finally:
        server.stop(0)


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="PRECIS_PII_SECRET"):
        CommonSettings(environment="production")
    assert (
        CommonSettings(environment="production", pii_secret="a-real-secret-0123456789").environment
        == "production"
    )


def test_log_records_carry_the_current_trace_and_span(caplog: pytest.LogCaptureFixture) -> None:
    tracer = TracerProvider().get_tracer("t")
    logger = logging.getLogger("precis.test")
    caplog.handler.addFilter(_TraceIdsFilter("svc"))
    with caplog.at_level(logging.INFO), tracer.start_as_current_span("work") as span:
        logger.info("inside")
    record = caplog.records[-1]
    ctx = span.get_span_context()
    assert record.otelTraceID == format(ctx.trace_id, "032x")  # type: ignore[attr-defined]
    assert record.otelSpanID == format(ctx.span_id, "016x")  # type: ignore[attr-defined]
    assert record.otelServiceName == "svc"  # type: ignore[attr-defined]


def test_traceparent_round_trips_into_a_link() -> None:
    tracer = TracerProvider().get_tracer("t")
    assert current_traceparent() == ""
    with tracer.start_as_current_span("producer") as span:
        carried = current_traceparent()
    link = link_from_traceparent(carried)
    assert link is not None
    assert link.context.trace_id == span.get_span_context().trace_id
    assert link.context.span_id == span.get_span_context().span_id
    assert link_from_traceparent("") is None
    assert link_from_traceparent("garbage") is None


def test_servers_offer_reflection() -> None:
    server = GrpcServer(name="t", host="127.0.0.1", port=0)
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        privacy_pb2_grpc.PrivacyServiceServicer(),
        "precis.common.v1.PrivacyService",
    )
    server.start()
    try:
        stub = reflection_pb2_grpc.ServerReflectionStub(
            grpc.insecure_channel(f"127.0.0.1:{server.port}")
        )
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        response = next(stub.ServerReflectionInfo(iter([request])))
        names = {s.name for s in response.list_services_response.service}
        assert {"precis.common.v1.PrivacyService", "grpc.health.v1.Health"} <= names
    finally:
        server.stop(0)
