"""In-process fixtures: a real ingestion service, a fake profile service, stand-in consent,
segmentation and recommendation services (health only: test_consent_api.py,
test_segments_api.py and test_recommendations_api.py put the real ones behind the gateway), and
the gateway in front of them through TestClient, all tracing into
one in-memory exporter."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from precis.profile.v1 import profile_pb2_grpc
from precis_common.grpc_server import GrpcServer
from precis_common.telemetry import configure_telemetry
from precis_gateway.app import create_app
from precis_gateway.settings import GatewaySettings
from precis_ingestion.app import IngestionApp, build, start
from precis_ingestion.settings import IngestionSettings

# Test helpers live in a module of their own (conftest cannot be imported under
# --import-mode=importlib); its name is unique across the workspace's test folders.
sys.path.insert(0, str(Path(__file__).parent))
pytest.register_assert_rewrite("gateway_support")

from gateway_support import (  # noqa: E402 - needs the path and assert rewriting set up above
    KEY,
    OTHER_KEY,
    OTHER_WORKSPACE,
    WORKSPACE,
    FakeProfiles,
    MakeClient,
    ProfileServer,
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def ingestion(tmp_path: Path, provider: TracerProvider) -> Iterator[IngestionApp]:
    app = build(
        IngestionSettings(state_dir=tmp_path / "ingestion", ingestion_grpc_port=0),
        tracer_provider=provider,
        configure_logs=False,
    )
    start(app)
    yield app
    app.stop(0)


@pytest.fixture
def profiles() -> Iterator[ProfileServer]:
    servicer = FakeProfiles()
    server = GrpcServer(name="fake-profile", host="127.0.0.1", port=0)
    server.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        servicer,
        "precis.profile.v1.ProfileService",
    )
    server.start()
    server.set_serving(True)
    yield ProfileServer(servicer, server)
    server.stop(0)


@pytest.fixture
def consent_stand_in() -> Iterator[GrpcServer]:
    """A gRPC server that answers health checks only, where the gateway expects consent."""
    server = GrpcServer(name="stand-in-consent", host="127.0.0.1", port=0)
    server.start()
    server.set_serving(True)
    yield server
    server.stop(0)


@pytest.fixture
def segmentation_stand_in() -> Iterator[GrpcServer]:
    """A gRPC server that answers health checks only, where the gateway expects segmentation."""
    server = GrpcServer(name="stand-in-segmentation", host="127.0.0.1", port=0)
    server.start()
    server.set_serving(True)
    yield server
    server.stop(0)


@pytest.fixture
def recommendation_stand_in() -> Iterator[GrpcServer]:
    """A gRPC server that answers health checks only, where the gateway expects recommendation."""
    server = GrpcServer(name="stand-in-recommendation", host="127.0.0.1", port=0)
    server.start()
    server.set_serving(True)
    yield server
    server.stop(0)


@pytest.fixture
def measurement_stand_in() -> Iterator[GrpcServer]:
    """A gRPC server that answers health checks only, where the gateway expects measurement."""
    server = GrpcServer(name="stand-in-measurement", host="127.0.0.1", port=0)
    server.start()
    server.set_serving(True)
    yield server
    server.stop(0)


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def make_client(
    ingestion: IngestionApp,
    profiles: ProfileServer,
    consent_stand_in: GrpcServer,
    segmentation_stand_in: GrpcServer,
    recommendation_stand_in: GrpcServer,
    measurement_stand_in: GrpcServer,
    provider: TracerProvider,
) -> Iterator[MakeClient]:
    """A gateway in front of the real ingestion, the fake profile service and the stand-in
    consent, segmentation, recommendation and measurement services; keyword arguments override
    settings."""
    clients: list[TestClient] = []

    def make(*, raise_server_exceptions: bool = True, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            "environment": "test",
            "gateway_ingestion_target": f"127.0.0.1:{ingestion.port}",
            "gateway_profile_target": profiles.target,
            "gateway_consent_target": f"127.0.0.1:{consent_stand_in.port}",
            "gateway_segmentation_target": f"127.0.0.1:{segmentation_stand_in.port}",
            "gateway_recommendation_target": f"127.0.0.1:{recommendation_stand_in.port}",
            "gateway_measurement_target": f"127.0.0.1:{measurement_stand_in.port}",
            "gateway_api_keys": {KEY: WORKSPACE, OTHER_KEY: OTHER_WORKSPACE},
            "gateway_deadline_seconds": 5.0,
            **overrides,
        }
        settings = GatewaySettings(**values)
        telemetry = configure_telemetry(
            "gateway", settings, tracer_provider=provider, configure_logs=False
        )
        client = TestClient(
            create_app(settings, telemetry=telemetry),
            raise_server_exceptions=raise_server_exceptions,
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()
