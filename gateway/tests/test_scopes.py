"""API key scopes: every route but health requires one, a key without it gets 403 `forbidden`
naming the scope, and scoped keys are checked at start-up without ever printing the key."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, WORKSPACE, MakeClient, assert_error
from pydantic import ValidationError

from precis_gateway.app import operation_id
from precis_gateway.deps import CallerDep, RequireScope
from precis_gateway.scopes import ALL_SCOPES, KeyGrant, Scope
from precis_gateway.settings import GatewaySettings, configured_key_id

# Which scope each route needs: reading and changing workspace configuration (tag definitions,
# merge rules, the life-stage rule, consent defaults, RFM) is workspace:admin; data-subject
# requests and the suppression list are privacy:admin.
EXPECTED_SCOPES = {
    "track": Scope.EVENTS_WRITE,
    "identify": Scope.EVENTS_WRITE,
    "batch": Scope.EVENTS_WRITE,
    "listProfiles": Scope.PROFILES_READ,
    "getProfile": Scope.PROFILES_READ,
    "getMergeHistory": Scope.PROFILES_READ,
    "getTimeline": Scope.PROFILES_READ,
    "listTaggedProfiles": Scope.PROFILES_READ,
    "unmerge": Scope.PROFILES_WRITE,
    "addTag": Scope.PROFILES_WRITE,
    "removeTag": Scope.PROFILES_WRITE,
    "getMergeRules": Scope.WORKSPACE_ADMIN,
    "setMergeRules": Scope.WORKSPACE_ADMIN,
    "dryRunMergeRules": Scope.WORKSPACE_ADMIN,
    "listTagDefinitions": Scope.WORKSPACE_ADMIN,
    "putTagDefinition": Scope.WORKSPACE_ADMIN,
    "deleteTagDefinition": Scope.WORKSPACE_ADMIN,
    "getLifeStageRule": Scope.WORKSPACE_ADMIN,
    "setLifeStageRule": Scope.WORKSPACE_ADMIN,
    "resetLifeStageRule": Scope.WORKSPACE_ADMIN,
    "refreshRfm": Scope.WORKSPACE_ADMIN,
    "getConsentDefaults": Scope.WORKSPACE_ADMIN,
    "setConsentDefaults": Scope.WORKSPACE_ADMIN,
    "recordConsent": Scope.CONSENT_WRITE,
    "setMinorStatus": Scope.CONSENT_WRITE,
    "checkConsent": Scope.CONSENT_READ,
    "getConsentState": Scope.CONSENT_READ,
    "listConsentHistory": Scope.CONSENT_READ,
    "getMinorStatus": Scope.CONSENT_READ,
    "requestExport": Scope.PRIVACY_ADMIN,
    "requestErasure": Scope.PRIVACY_ADMIN,
    "listPrivacyRequests": Scope.PRIVACY_ADMIN,
    "getPrivacyRequest": Scope.PRIVACY_ADMIN,
    "checkSuppression": Scope.PRIVACY_ADMIN,
    # Audiences: definitions and sizes are segments:read/write; releasing members (the member
    # list, the CSV export) is segments:export; what shows people (a preview's sample, a
    # person's segments) is profiles:read.
    "createSegment": Scope.SEGMENTS_WRITE,
    "updateSegment": Scope.SEGMENTS_WRITE,
    "deleteSegment": Scope.SEGMENTS_WRITE,
    "refreshSegment": Scope.SEGMENTS_WRITE,
    "listSegments": Scope.SEGMENTS_READ,
    "getSegment": Scope.SEGMENTS_READ,
    "estimateSegment": Scope.SEGMENTS_READ,
    "previewSegment": Scope.PROFILES_READ,
    "listSegmentMembers": Scope.SEGMENTS_EXPORT,
    "exportSegment": Scope.SEGMENTS_EXPORT,
    "listProfileSegments": Scope.PROFILES_READ,
    # Audience families: reading models and jobs is segments:read; starting jobs and creating
    # audiences is segments:write.
    "getRfmCells": Scope.SEGMENTS_READ,
    "createRfmSegments": Scope.SEGMENTS_WRITE,
    "startClusteringJob": Scope.SEGMENTS_WRITE,
    "getClusteringJob": Scope.SEGMENTS_READ,
    "trainPredictiveModel": Scope.SEGMENTS_WRITE,
    "listPredictiveModels": Scope.SEGMENTS_READ,
    "getPredictiveModel": Scope.SEGMENTS_READ,
    "createPredictiveAudience": Scope.SEGMENTS_WRITE,
    "createLookalikeAudience": Scope.SEGMENTS_WRITE,
    # Recommendation: serving, the catalog and the models are read with recommendations:read
    # (a person's recommendations too: they are what a storefront shows that person); changing
    # the catalog and the model lifecycle is recommendations:write.
    "upsertItems": Scope.RECOMMENDATIONS_WRITE,
    "listItems": Scope.RECOMMENDATIONS_READ,
    "getItem": Scope.RECOMMENDATIONS_READ,
    "similarItems": Scope.RECOMMENDATIONS_READ,
    "popularItems": Scope.RECOMMENDATIONS_READ,
    "recommend": Scope.RECOMMENDATIONS_READ,
    "startTraining": Scope.RECOMMENDATIONS_WRITE,
    "getTrainingJob": Scope.RECOMMENDATIONS_READ,
    "listModelVersions": Scope.RECOMMENDATIONS_READ,
    "getModelVersion": Scope.RECOMMENDATIONS_READ,
    "compareModelVersions": Scope.RECOMMENDATIONS_READ,
    "promoteModelVersion": Scope.RECOMMENDATIONS_WRITE,
    "rollbackModelVersion": Scope.RECOMMENDATIONS_WRITE,
}
# Paths whose every route is personal-data administration, whoever adds them.
PRIVACY_ADMIN_PATHS = re.compile(r"^/v1/(privacy|audit|retention)")
UNAUTHENTICATED = {"healthz", "readyz"}
# Path parameters filled in when calling every route.
_PATH_VALUES = {
    "identifier_type": "user_id",
    "value": "c-1",
    "tag": "vip",
    "profile_id": "p-1",
    "request_id": "r-1",
    "jurisdiction": "CN",
}


def _key(name: str) -> str:
    return f"test-key-{name}-0123456789abcdef"


def _routes(client: TestClient) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every FastAPI route, included routers' routes too."""
    app = client.app
    assert isinstance(app, FastAPI)
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append((str(context.path), route))
    return found


def _required_scope(route: APIRoute) -> Scope | None:
    """The scope of the route's RequireScope dependency (declared in the decorator)."""
    found = [d.call.scope for d in route.dependant.dependencies if isinstance(d.call, RequireScope)]
    assert len(found) <= 1, f"{route.path}: more than one scope dependency"
    return found[0] if found else None


def _call(client: TestClient, path: str, route: APIRoute, key: str, **headers: str) -> Any:
    path = re.sub(r"\{(\w+)(:path)?\}", lambda m: _PATH_VALUES.get(m[1], "x"), path)
    method = sorted(route.methods or ())[0]
    # An empty body: a key without the scope must be refused before the body is looked at.
    body: dict[str, Any] = {"json": {}} if method in {"POST", "PUT"} else {}
    return client.request(method, path, headers={"X-API-Key": key, **headers}, **body)


def test_every_route_but_health_requires_a_scope(client: TestClient) -> None:
    missing = [
        f"{sorted(route.methods or ())} {path}"
        for path, route in _routes(client)
        if operation_id(route) not in UNAUTHENTICATED and _required_scope(route) is None
    ]
    assert missing == [], "routes without requires(Scope...) in their decorator"
    for path, route in _routes(client):
        name = operation_id(route)
        if name in EXPECTED_SCOPES:
            assert _required_scope(route) == EXPECTED_SCOPES[name], name
        if PRIVACY_ADMIN_PATHS.match(path):
            assert _required_scope(route) == Scope.PRIVACY_ADMIN, path
        if name in UNAUTHENTICATED:
            assert _required_scope(route) is None
    listed = {operation_id(route) for _, route in _routes(client)}
    assert set(EXPECTED_SCOPES) <= listed, "a route named here is gone"


def test_each_route_refuses_a_key_without_its_scope_and_admits_one_with_only_it(
    make_client: MakeClient,
) -> None:
    keys: dict[str, Any] = {KEY: WORKSPACE}
    for each in Scope:
        others = sorted(s.value for s in ALL_SCOPES - {each})
        keys[_key(f"all-but-{each}")] = {"workspace": WORKSPACE, "scopes": others}
        keys[_key(f"only-{each}")] = {"workspace": WORKSPACE, "scopes": [each.value]}
    client = make_client(gateway_api_keys=keys, raise_server_exceptions=False)
    checked = 0
    for path, route in _routes(client):
        scope = _required_scope(route)
        if scope is None:
            continue
        where = f"{sorted(route.methods or ())} {path}"
        # ... and before its headers: an invalid declared purpose is not judged either.
        refused = _call(
            client, path, route, _key(f"all-but-{scope}"), **{"X-Precis-Purpose": "Not Valid!"}
        )
        error = assert_error(refused, 403, "forbidden")
        assert error["message"] == f"this API key lacks the scope {scope.value}", where
        admitted = _call(client, path, route, _key(f"only-{scope}"))
        assert admitted.status_code not in (401, 403), (where, admitted.text)
        checked += 1
    assert checked >= len(EXPECTED_SCOPES)


def test_forbidden_comes_after_authentication_and_names_no_key(make_client: MakeClient) -> None:
    reader = _key("reader")
    client = make_client(
        gateway_api_keys={reader: {"workspace": WORKSPACE, "scopes": ["profiles:read"]}}
    )
    assert_error(client.post("/v1/track", json={}), 401, "unauthenticated")
    assert_error(
        client.post("/v1/track", json={}, headers={"X-API-Key": reader + "x"}),
        401,
        "unauthenticated",
    )
    refused = client.post("/v1/privacy/erasures", json={}, headers={"X-API-Key": reader})
    error = assert_error(refused, 403, "forbidden")
    assert "privacy:admin" in error["message"]
    assert reader not in refused.text
    assert refused.headers.get("www-authenticate") is None


def test_a_plain_workspace_key_holds_every_scope(make_client: MakeClient) -> None:
    client = make_client()
    for scope_route in ("/v1/privacy/requests", "/v1/merge-rules", "/v1/profiles"):
        assert client.get(scope_route, headers=AUTH).status_code not in (401, 403)
    settings = GatewaySettings(gateway_api_keys={KEY: WORKSPACE})
    assert settings.key_grants() == {KEY: KeyGrant(workspace=WORKSPACE, scopes=ALL_SCOPES)}


def test_hashed_keys_take_scopes_too(make_client: MakeClient) -> None:
    reader = _key("hashed-reader")
    hashed = "sha256:" + hashlib.sha256(reader.encode()).hexdigest()
    client = make_client(
        gateway_api_keys={hashed: {"workspace": WORKSPACE, "scopes": ["events:write"]}}
    )
    headers = {"X-API-Key": reader}
    assert client.post("/v1/track", json={"event": "E", "user_id": "u"}, headers=headers).json()[
        "status"
    ] == ("accepted")
    assert_error(client.get("/v1/profiles", headers=headers), 403, "forbidden")


def test_caller_dep_tells_routes_and_middleware_who_calls(make_client: MakeClient) -> None:
    """What other code (the audit log, disclosure) relies on: CallerDep and request.state."""
    scoped = _key("scoped")
    client = make_client(
        gateway_api_keys={
            KEY: WORKSPACE,
            scoped: {"workspace": "ws_two", "scopes": ["profiles:read", "consent:read"]},
        }
    )
    app = client.app
    assert isinstance(app, FastAPI)

    def probe(caller: CallerDep, request: Request) -> dict[str, Any]:
        return {
            "workspace": caller.workspace,
            "key_id": caller.key_id,
            "scopes": sorted(caller.scopes),
            "is_admin": caller.is_admin,
            # request.state is the ASGI scope's: middleware reads the same object afterwards.
            "in_state": request.state.caller is caller,
        }

    app.add_api_route("/probe", probe)
    body = client.get("/probe", headers={"X-API-Key": scoped}).json()
    assert body == {
        "workspace": "ws_two",
        "key_id": configured_key_id(scoped),
        "scopes": ["consent:read", "profiles:read"],
        "is_admin": False,
        "in_state": True,
    }
    assert client.get("/probe", headers=AUTH).json()["is_admin"] is True


def test_openapi_documents_each_routes_scope_and_its_403(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, route in _routes(client):
        scope = _required_scope(route)
        for method in route.methods or ():
            operation = document["paths"][re.sub(r":path\}", "}", path)][method.lower()]
            if scope is None:
                assert "security" not in operation
                continue
            assert operation["security"] == [{"APIKeyHeader": [scope.value]}]
            assert "403" in operation["responses"]
            assert "forbidden" in operation["responses"]["403"]["description"]


# --------------------------------------------------------------------------------------------
# Start-up checks
# --------------------------------------------------------------------------------------------

SECRET = "a-secret-api-key-that-must-never-be-printed"


@pytest.mark.parametrize(
    ("grant", "reason"),
    [
        ({"workspace": WORKSPACE, "scopes": ["profile:read"]}, "unknown scope 'profile:read'"),
        ({"workspace": WORKSPACE, "scopes": ["segment:read"]}, "unknown scope 'segment:read'"),
        ({"workspace": WORKSPACE, "scopes": []}, "scopes must not be empty"),
        ({"workspace": WORKSPACE, "scopes": "profiles:read"}, "must be a list"),
        ({"workspace": WORKSPACE}, "expected the fields workspace and scopes"),
        ({"workspace": WORKSPACE, "scopes": ["events:write"], "role": "x"}, "not role"),
        ({"workspace": "not a workspace!", "scopes": ["events:write"]}, "workspace id"),
        ("not a workspace!", "workspace id"),
        (["events:write"], "expected a workspace id or"),
    ],
)
def test_bad_grants_fail_at_start_up_naming_the_key_by_its_id(grant: Any, reason: str) -> None:
    for key in (SECRET, "sha256:" + hashlib.sha256(SECRET.encode()).hexdigest()):
        with pytest.raises(ValidationError) as failure:
            GatewaySettings(gateway_api_keys={key: grant})
        message = str(failure.value)
        assert reason in message
        # The same id for the key and for its hashed form: the one ApiKeys.key_id gives.
        assert f"API key {configured_key_id(SECRET)}:" in message
        assert configured_key_id(SECRET) == "key:" + hashlib.sha256(SECRET.encode()).hexdigest()[:8]
        assert SECRET not in message
        assert key not in message


def test_unknown_scope_message_lists_the_known_ones() -> None:
    grant: Any = {"workspace": "ws", "scopes": ["admin"]}
    with pytest.raises(ValidationError) as failure:
        GatewaySettings(gateway_api_keys={SECRET: grant})
    assert ", ".join(s.value for s in Scope) in str(failure.value)


def test_scoped_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PRECIS_GATEWAY_API_KEYS",
        '{"full": "ws_one", "reader": {"workspace": "ws_one", "scopes": ["profiles:read"]}}',
    )
    settings = GatewaySettings()
    assert settings.gateway_api_keys["full"] == "ws_one"
    assert settings.key_grants()["reader"] == KeyGrant(
        workspace="ws_one", scopes=frozenset({Scope.PROFILES_READ})
    )
    assert "reader" not in repr(settings)
