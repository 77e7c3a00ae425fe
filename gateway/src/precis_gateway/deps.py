"""Request dependencies as Annotated aliases: the caller (workspace, key id, scopes) and the scope
a route requires, the service stubs, the JSON body, and the settings."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from grpc_health.v1 import health_pb2_grpc

from precis.consent.v1 import consent_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2_grpc
from precis.measurement.v1 import measurement_pb2_grpc
from precis.profile.v1 import profile_pb2_grpc
from precis.recommendation.v1 import recommendation_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2_grpc
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.event_payloads import parse_json
from precis_gateway.scopes import Caller, KeyGrant, Scope
from precis_gateway.settings import HASHED_KEY, GatewaySettings
from precis_gateway.upstream import Channels


class ApiKeys:
    """API key -> grant (workspace and scopes), holding only SHA-256 digests of the keys. Every
    digest is compared (in constant time) on each lookup, so timing tells nothing about which
    keys exist. A key given as a plain workspace id holds every scope."""

    def __init__(self, keys: Mapping[str, str | KeyGrant]) -> None:
        self._entries: list[tuple[bytes, KeyGrant]] = []
        for key, grant in keys.items():
            digest = bytes.fromhex(key[7:]) if HASHED_KEY.match(key) else _digest(key)
            self._entries.append((digest, KeyGrant.of(grant)))

    def grant_of(self, key: str) -> KeyGrant | None:
        presented = _digest(key)
        found: KeyGrant | None = None
        for digest, grant in self._entries:
            if hmac.compare_digest(digest, presented):
                found = grant
        return found

    def workspace_of(self, key: str) -> str | None:
        grant = self.grant_of(key)
        return grant.workspace if grant is not None else None

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
        self.segmentation = segmentation_pb2_grpc.SegmentationServiceStub(channels.segmentation)
        self.recommendation = recommendation_pb2_grpc.RecommendationServiceStub(
            channels.recommendation
        )
        self.measurement = measurement_pb2_grpc.MeasurementServiceStub(channels.measurement)
        self.health = {
            "ingestion": health_pb2_grpc.HealthStub(channels.ingestion),
            "profile": health_pb2_grpc.HealthStub(channels.profile),
            "consent": health_pb2_grpc.HealthStub(channels.consent),
            "segmentation": health_pb2_grpc.HealthStub(channels.segmentation),
            "recommendation": health_pb2_grpc.HealthStub(channels.recommendation),
            "measurement": health_pb2_grpc.HealthStub(channels.measurement),
        }


_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The workspace's API key."
)


async def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


async def _caller(request: Request) -> Caller:
    # The header is read here rather than through _api_key_header: RequireScope declares the
    # scheme with the route's scope for the OpenAPI document, and a dependency under a scoped
    # security scheme is cached per scope set, which would look the key up twice per request.
    api_key = await _api_key_header(request)
    if not api_key:
        raise ApiError(401, "unauthenticated", "an API key is required in the X-API-Key header")
    keys: ApiKeys = request.app.state.api_keys
    grant = keys.grant_of(api_key)
    if grant is None:
        raise ApiError(401, "unauthenticated", "the API key is not valid")
    caller = Caller(workspace=grant.workspace, key_id=ApiKeys.key_id(api_key), scopes=grant.scopes)
    # Also where middleware (the audit log) finds who called, once the route has run.
    request.state.caller = caller
    return caller


async def _workspace(caller: CallerDep) -> str:
    return caller.workspace


async def _principal(caller: CallerDep) -> str:
    return caller.key_id


class RequireScope:
    """A dependency that lets the request through only if the key holds `scope` (403
    `forbidden` naming the scope otherwise). Every route but health carries one, through
    `requires(...)` in its decorator; a test walks the routes to keep it so."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(
        self,
        caller: CallerDep,
        # Declares the X-API-Key scheme with this scope in the operation's `security`.
        _scheme: Annotated[str | None, Depends(_api_key_header)],
    ) -> Caller:
        return self.check(caller)

    def check(self, caller: Caller) -> Caller:
        if not caller.has(self.scope):
            raise ApiError(403, "forbidden", f"this API key lacks the scope {self.scope}")
        return caller


def route_scope_checks(route: Any) -> list[RequireScope]:
    """The scope checks a route declares (for dependencies that must refuse a key without the
    scope before doing their own validation: FastAPI runs router-level dependencies first)."""
    dependant = getattr(route, "dependant", None)
    return [
        d.call
        for d in (dependant.dependencies if dependant is not None else [])
        if isinstance(d.call, RequireScope)
    ]


def _query_names(route: Any) -> frozenset[str]:
    """The query parameters a route declares, by the name a client writes (its alias)."""
    names: set[str] = set()
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is not None:
            names.update(p.alias for p in dependant.query_params)
            pending.extend(dependant.dependencies)
    return frozenset(names)


async def documented_query_only(request: Request, caller: CallerDep) -> None:
    """Refuse query parameters the route does not declare (422 naming each): for routes whose
    parameters are filters, an unknown one (a typo, a filter this version lacks) would be
    ignored silently and widen the answer. Run as a router dependency, so the route's scope is
    checked here first: a key without it is refused (403) before its parameters are judged."""
    route = request.scope.get("route")
    for check in route_scope_checks(route):
        check.check(caller)
    known = _query_names(route)
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise ApiError.invalid(
            [
                ErrorDetail(field=name, reason=f"is not a parameter of this route ({accepted})")
                for name in unknown
            ]
        )


def requires(scope: Scope) -> Any:
    """`dependencies=[requires(Scope.PROFILES_READ)]`: the route needs `scope`; the OpenAPI
    document lists it in the operation's security requirement."""
    return Security(RequireScope(scope), scopes=[scope.value])


async def _ingestion(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.ingestion


async def _profile(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.profile


async def _consent(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.consent


async def _segmentation(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.segmentation


async def _recommendation(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.recommendation


async def _measurement(request: Request) -> Any:
    stubs: Stubs = request.app.state.stubs
    return stubs.measurement


async def _stubs(request: Request) -> Stubs:
    stubs: Stubs = request.app.state.stubs
    return stubs


async def _json_body(request: Request) -> Any:
    # Read here, on the event loop (the size limit counts the bytes as they arrive); the
    # endpoint itself runs in the thread pool, where the blocking gRPC call happens.
    return parse_json(await request.body())


SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
# The authenticated caller: workspace, the key's non-secret id, its scopes, and is_admin
# (privacy:admin), which decides whether aggregate counts are shown exactly.
CallerDep = Annotated[Caller, Depends(_caller)]
WorkspaceDep = Annotated[str, Depends(_workspace)]
# Who calls: the API key's non-secret id (ApiKeys.key_id), for services that record the actor.
PrincipalDep = Annotated[str, Depends(_principal)]
IngestionStub = Annotated[ingestion_pb2_grpc.IngestionServiceStub, Depends(_ingestion)]
ProfileStub = Annotated[profile_pb2_grpc.ProfileServiceStub, Depends(_profile)]
ConsentStub = Annotated[consent_pb2_grpc.ConsentServiceStub, Depends(_consent)]
SegmentationStub = Annotated[segmentation_pb2_grpc.SegmentationServiceStub, Depends(_segmentation)]
RecommendationStub = Annotated[
    recommendation_pb2_grpc.RecommendationServiceStub, Depends(_recommendation)
]
MeasurementStub = Annotated[measurement_pb2_grpc.MeasurementServiceStub, Depends(_measurement)]
StubsDep = Annotated[Stubs, Depends(_stubs)]
JsonBody = Annotated[Any, Depends(_json_body)]
