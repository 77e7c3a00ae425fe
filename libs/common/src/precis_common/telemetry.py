"""OpenTelemetry set-up shared by every process: resource, exporters, instrumentations, logs.

Instrumentations are attached per object (a server's interceptor, a channel's interceptor, an
engine's listeners, an app's middleware) with the provider passed in, rather than by patching
libraries globally, so that several services can live in one test process with their own
providers and in-memory exporters.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import client_interceptor, filters, server_interceptor
from opentelemetry.metrics import NoOpMeterProvider, get_meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.engine import Engine

from precis_common.settings import CommonSettings

# Namespaced custom span attributes, declared once.
ATTR_WORKSPACE = "precis.workspace.id"
ATTR_FEED = "precis.feed.name"
ATTR_FEED_SEQ = "precis.feed.seq"
ATTR_FEED_KIND = "precis.feed.kind"
ATTR_BATCH_SIZE = "precis.batch.size"
ATTR_MESSAGE_ID = "precis.event.message_id"
ATTR_PROFILE_ID = "precis.profile.id"

_LOG_FORMAT = (
    "%(asctime)s %(levelname)s [%(name)s] [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s "
    "service=%(otelServiceName)s] %(message)s"
)


class _TraceIdsFilter(logging.Filter):
    """Adds the current trace and span ids (and the service name) to every log record."""

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self._service = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.otelTraceID = format(ctx.trace_id, "032x")
            record.otelSpanID = format(ctx.span_id, "016x")
        else:
            record.otelTraceID = "0"
            record.otelSpanID = "0"
        if not hasattr(record, "otelServiceName"):
            record.otelServiceName = self._service
        return True


def configure_logging(service_name: str, level: str = "INFO") -> None:
    """One handler on the root logger whose lines carry trace and span ids."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_precis", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._precis = True  # type: ignore[attr-defined]  # marks our handler for reconfiguration
    handler.addFilter(_TraceIdsFilter(service_name))
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every plugin it loads at INFO; its migrations still log at WARNING+.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@dataclass
class Telemetry:
    """A service's tracing: its provider and the instrumentation hooks built from it."""

    service_name: str
    tracer_provider: TracerProvider
    _owned: bool = True
    _engine_tracers: list[Any] = field(default_factory=list)

    @property
    def tracer(self) -> trace.Tracer:
        return self.tracer_provider.get_tracer(f"precis.{self.service_name}")

    def server_interceptors(self) -> list[grpc.ServerInterceptor]:
        # Health probes would drown real work in spans.
        return [
            server_interceptor(
                tracer_provider=self.tracer_provider, filter_=filters.negate(filters.health_check())
            )
        ]

    def client_interceptors(self) -> list[Any]:
        return [
            client_interceptor(
                tracer_provider=self.tracer_provider, filter_=filters.negate(filters.health_check())
            )
        ]

    def instrument_engine(self, engine: Engine) -> None:
        """SQL statement spans for one engine."""
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        tracer = self.tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        meter = get_meter(__name__, meter_provider=NoOpMeterProvider())
        usage = meter.create_up_down_counter("db.client.connections.usage")
        self._engine_tracers.append(EngineTracer(tracer, engine, usage))

    def instrument_fastapi(self, app: Any) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.tracer_provider, excluded_urls="healthz,readyz"
        )

    def shutdown(self) -> None:
        if self._owned:
            self.tracer_provider.shutdown()


def configure_telemetry(
    service_name: str,
    settings: CommonSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    span_processors: Sequence[SpanProcessor] = (),
    configure_logs: bool = True,
) -> Telemetry:
    """Build the service's tracer provider (or adopt the one given, as tests do) and exporters.

    Export: OTLP/gRPC when telemetry is "otlp" or an endpoint is set, the console when
    "console", otherwise spans are still created (logs carry trace ids, feed entries carry the
    producer's context) but not exported.
    """
    owned = tracer_provider is None
    if tracer_provider is None:
        resource = Resource.create(
            {
                "service.name": service_name,
                "service.namespace": "precis",
                "deployment.environment.name": settings.environment,
            }
        )
        tracer_provider = TracerProvider(resource=resource)
        exporter = settings.span_exporter
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            tracer_provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
            )
        elif exporter == "console":
            tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    if configure_logs:
        configure_logging(service_name, settings.log_level)
    return Telemetry(service_name=service_name, tracer_provider=tracer_provider, _owned=owned)


_PROPAGATOR = TraceContextTextMapPropagator()


def current_traceparent() -> str:
    """The W3C traceparent of the current span, or "" outside any recorded span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


def link_from_traceparent(
    traceparent: str, attributes: dict[str, Any] | None = None
) -> Link | None:
    """A span link to the producer's span named by a stored traceparent."""
    if not traceparent:
        return None
    ctx = trace.get_current_span(
        _PROPAGATOR.extract({"traceparent": traceparent})
    ).get_span_context()
    if not ctx.is_valid:
        return None
    remote = SpanContext(
        ctx.trace_id, ctx.span_id, is_remote=True, trace_flags=TraceFlags(ctx.trace_flags)
    )
    return Link(remote, attributes=attributes)
