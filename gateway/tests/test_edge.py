"""What every route shares: API keys, size limits, the one error body, health, OpenAPI, tracing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from gateway_support import (
    AUTH,
    KEY,
    WORKSPACE,
    MakeClient,
    ProfileServer,
    assert_error,
    stored_events,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from precis_gateway.settings import GatewaySettings
from precis_ingestion.app import IngestionApp

TRACK = {"event": "Signed Up", "user_id": "u-1"}


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "wrong-key"}, {"X-API-Key": KEY + "x"}]
)
def test_missing_or_unknown_api_key_is_401(
    client: TestClient, ingestion: IngestionApp, headers: dict[str, str]
) -> None:
    for path, body in [
        ("/v1/track", TRACK),
        ("/v1/batch", {"batch": [{"type": "track", **TRACK}]}),
    ]:
        assert_error(client.post(path, json=body, headers=headers), 401, "unauthenticated")
    assert_error(client.get("/v1/profiles", headers=headers), 401, "unauthenticated")
    assert stored_events(ingestion) == []


def test_no_configured_keys_refuses_every_request(
    make_client: MakeClient, ingestion: IngestionApp
) -> None:
    client = make_client(environment="development", gateway_api_keys={})

    assert_error(client.post("/v1/track", json=TRACK, headers=AUTH), 401, "unauthenticated")
    assert stored_events(ingestion) == []


def test_keys_may_be_configured_as_sha256_digests(
    make_client: MakeClient, ingestion: IngestionApp
) -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    client = make_client(gateway_api_keys={f"sha256:{digest}": WORKSPACE})

    assert client.post("/v1/track", json=TRACK, headers=AUTH).json()["status"] == "accepted"
    assert_error(
        client.post("/v1/track", json=TRACK, headers={"X-API-Key": f"sha256:{digest}"}),
        401,
        "unauthenticated",
    )


def test_body_over_the_limit_is_413_from_content_length(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = b'{"batch": [' + b" " * (1024 * 1024) + b"]}"

    response = client.post(
        "/v1/batch", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )

    assert_error(response, 413, "payload_too_large")
    assert stored_events(ingestion) == []


def test_streamed_body_over_the_limit_is_413(
    make_client: MakeClient, ingestion: IngestionApp
) -> None:
    client = make_client(gateway_max_body_bytes=64 * 1024)

    def chunks() -> Iterator[bytes]:
        yield b'{"event": "x", "user_id": "u", "properties": {"blob": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}}'

    # A generator body goes out chunked, without Content-Length: the bytes must be counted.
    response = client.post(
        "/v1/track", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )

    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "payload_too_large")
    assert stored_events(ingestion) == []


def test_ingestion_down_is_503_with_retry_after(make_client: MakeClient, closed_port: int) -> None:
    client = make_client(gateway_ingestion_target=f"127.0.0.1:{closed_port}")

    for path, body in [
        ("/v1/track", TRACK),
        ("/v1/identify", {"user_id": "u"}),
        ("/v1/batch", {"batch": [{"type": "track", **TRACK}]}),
    ]:
        response = client.post(path, json=body, headers=AUTH)
        assert_error(response, 503, "unavailable")
        assert response.headers["Retry-After"] == "1"


def test_unknown_route_and_wrong_method_use_the_error_body(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing", headers=AUTH), 404, "not_found")
    assert_error(client.get("/v1/track", headers=AUTH), 405, "method_not_allowed")


def test_a_gateway_bug_is_500_with_the_error_body(make_client: MakeClient) -> None:
    client = make_client(raise_server_exceptions=False)
    client.app.state.stubs.profile = None  # type: ignore[attr-defined]  # simulate a wiring bug

    error = assert_error(client.get("/v1/profiles", headers=AUTH), 500, "internal")

    assert error["message"] == "internal error"
    assert error["trace_id"] is not None


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_every_service_serves(client: TestClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "dependencies": {
            "ingestion": "SERVING",
            "profile": "SERVING",
            "consent": "SERVING",
            "segmentation": "SERVING",
            "recommendation": "SERVING",
            "measurement": "SERVING",
        },
    }


def test_readyz_is_503_when_a_service_does_not_serve(
    client: TestClient, profiles: ProfileServer
) -> None:
    profiles.server.set_serving(False)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json() == {
        "status": "not_ready",
        "dependencies": {
            "ingestion": "SERVING",
            "profile": "NOT_SERVING",
            "consent": "SERVING",
            "segmentation": "SERVING",
            "recommendation": "SERVING",
            "measurement": "SERVING",
        },
    }


def test_readyz_is_503_when_a_service_is_unreachable(
    make_client: MakeClient, closed_port: int
) -> None:
    client = make_client(gateway_ingestion_target=f"127.0.0.1:{closed_port}")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["dependencies"] == {
        "ingestion": "UNAVAILABLE",
        "profile": "SERVING",
        "consent": "SERVING",
        "segmentation": "SERVING",
        "recommendation": "SERVING",
        "measurement": "SERVING",
    }


def test_openapi_is_a_contract_a_client_can_be_generated_from(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    operations = {
        op["operationId"]: (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert operations["track"] == ("post", "/v1/track")
    assert operations["identify"] == ("post", "/v1/identify")
    assert operations["batch"] == ("post", "/v1/batch")
    assert operations["getProfile"] == ("get", "/v1/profiles/{identifier_type}/{value}")
    assert operations["listProfiles"] == ("get", "/v1/profiles")
    schemas = spec["components"]["schemas"]
    track = spec["paths"]["/v1/track"]["post"]
    assert (
        track["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/TrackEvent"
    )
    assert (
        track["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        == "#/components/schemas/ErrorBody"
    )
    assert "HTTPValidationError" not in schemas
    assert schemas["TrackEvent"]["properties"]["event"]["maxLength"] == 200
    assert schemas["TrackEvent"]["properties"]["timestamp"]["description"]
    assert schemas["BatchRequest"]["properties"]["batch"]["maxItems"] == 500
    for name in (
        "TrackEvent",
        "IdentifyEvent",
        "BatchRequest",
        "Profile",
        "ProfilePage",
        "BatchResult",
    ):
        assert name in schemas
    refs = {v for v in _walk(spec) if isinstance(v, str) and v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(schemas)
    assert any("APIKeyHeader" in s for s in spec["components"]["securitySchemes"])


def _walk(node: object) -> Iterator[object]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
    else:
        yield node


def test_one_trace_from_rest_call_to_ingestion(
    client: TestClient, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()

    assert client.post("/v1/track", json=TRACK, headers=AUTH).status_code == 200

    spans = exporter.get_finished_spans()
    grpc_method = "/precis.ingestion.v1.IngestionService/Track"
    [rest] = [s for s in spans if s.kind == SpanKind.SERVER and s.name.startswith("POST /v1/track")]
    [client_span] = [s for s in spans if s.kind == SpanKind.CLIENT and s.name == grpc_method]
    [server_span] = [s for s in spans if s.kind == SpanKind.SERVER and s.name == grpc_method]
    assert client_span.context.trace_id == rest.context.trace_id == server_span.context.trace_id
    assert server_span.parent is not None
    assert server_span.parent.span_id == client_span.context.span_id
    assert rest.attributes is not None
    assert rest.attributes.get("precis.workspace.id") == WORKSPACE


def test_production_refuses_short_or_missing_keys() -> None:
    secret = "a-real-production-secret-value"
    with pytest.raises(ValidationError, match="at least 24"):
        GatewaySettings(
            environment="production", pii_secret=secret, gateway_api_keys={"short": "ws"}
        )
    with pytest.raises(ValidationError, match="at least one key"):
        GatewaySettings(environment="production", pii_secret=secret)
    ok = GatewaySettings(
        environment="production", pii_secret=secret, gateway_api_keys={"k" * 24: "ws"}
    )
    assert "k" * 24 not in repr(ok)


def test_api_keys_are_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRECIS_GATEWAY_API_KEYS", '{"abc": "ws_one"}')

    assert GatewaySettings().gateway_api_keys == {"abc": "ws_one"}


def test_workspace_ids_are_checked_at_start_up() -> None:
    with pytest.raises(ValidationError, match="workspace id"):
        GatewaySettings(gateway_api_keys={"k": "not a workspace!"})
