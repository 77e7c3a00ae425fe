"""Request dependencies as Annotated aliases: the caller's workspace and principal, the service
stubs, the JSON body, and the settings."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from grpc_health.v1 import health_pb2_grpc

from precis.consent.v1 import consent_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2_grpc
from precis.profile.v1 import profile_pb2_grpc
from precis_gateway.errors import ApiError
from precis_gateway.event_payloads import parse_json
from precis_gateway.settings import HASHED_KEY, GatewaySettings
from precis_gateway.upstream import Channels


class ApiKeys:
    """API key -> workspace, holding only SHA-256 digests of the keys. Every digest is compared
    (in constant time) on each lookup, so timing tells nothing about which keys exist."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._entries: list[tuple[bytes, str]] = []
        for key, workspace in keys.items():
            digest = bytes.fromhex(key[7:]) if HASHED_KEY.match(key) else _digest(key)
            self._entries.append((digest, workspace))

    def workspace_of(self, key: str) -> str | None:
        presented = _digest(key)
        found: str | None = None
        for digest, workspace in self._entries:
            if hmac.compare_digest(digest, presented):
                found = workspace
        return found

    @staticmethod
    def key_id(key: str) -> str:
        """A name of the key that is safe to log and to pass on: `key:` and the first 8 hex
        digits of its SHA-256 digest (the start of its `sha256:<hex>` form in the settings)."""
        return "key:" + _digest(key).hex()[:8]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Stubs:
    """Stubs over the gateway's channels, built once."""

    def __init__(self, channels: Channels) -> None:
        self.ingestion = ingestion_pb2_grpc.IngestionServiceStub(channels.ingestion)
        self.profile = profile_pb2_grpc.ProfileServiceStub(channels.profile)
        self.consent = consent_pb2_grpc.ConsentServiceStub(channels.consent)
        self.health = {
            "ingestion": health_pb2_grpc.HealthStub(channels.ingestion),
            "profile": health_pb2_grpc.HealthStub(channels.profile),
            "consent": health_pb2_grpc.HealthStub(channels.consent),
        }


_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The workspace's API key."
)


async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _workspace(
    request: Request, api_key: Annotated[str | None, Depends(_api_key_header)]
) -> str:
    if not api_key:
        raise ApiError(401, "unauthenticated", "an API key is required in the X-API-Key header")
    keys: ApiKeys = request.app.state.api_keys
    workspace = keys.workspace_of(api_key)
    if workspace is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    return workspace


async def _principal(
    _authenticated: Annotated[str, Depends(_workspace)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> str:
    # After _workspace (FastAPI runs it once per request), so that only a valid key is named.
    return ApiKeys.key_id(api_key or "")


async def _ingestion(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.ingestion


async def _profile(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.profile


async def _consent(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.consent


async def _stubs(request: Request) -> Stubs:
    stubs: Stubs = request.app.state.stubs
    return stubs


async def _json_body(request: Request) -> Any:
    # Read here, on the event loop (the size limit counts the bytes as they arrive); the
    # endpoint itself runs in the thread pool, where the blocking gRPC call happens.
    return parse_json(await request.body())


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
WorkspaceDep = Annotated[str, Depends(_workspace)]
# Who calls: the API key's non-secret id (ApiKeys.key_id), for services that record the actor.
PrincipalDep = Annotated[str, Depends(_principal)]
IngestionStub = Annotated[ingestion_pb2_grpc.IngestionServiceStub, Depends(_ingestion)]
ProfileStub = Annotated[profile_pb2_grpc.ProfileServiceStub, Depends(_profile)]
ConsentStub = Annotated[consent_pb2_grpc.ConsentServiceStub, Depends(_consent)]
StubsDep = Annotated[Stubs, Depends(_stubs)]
JsonBody = Annotated[Any, Depends(_json_body)]
