"""GET /v1/profiles/{identifier_type}/{value} and GET /v1/profiles, against a fake service."""

from __future__ import annotations

import time

import grpc
import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, OTHER_KEY, WORKSPACE, MakeClient, ProfileServer, assert_error
from google.protobuf.timestamp_pb2 import Timestamp

from precis.common.v1 import types_pb2
from precis.profile.v1 import profile_pb2
from precis_common.errors import InvalidArgument

EMAIL = types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_EMAIL, value="li.na@example.com")
WECHAT = types_pb2.Identifier(
    type=types_pb2.IDENTIFIER_TYPE_EXTERNAL, namespace="wechat_openid", value="o6_bmjrPTlm6"
)


def _profile(profile_id: str = "p-1") -> profile_pb2.Profile:
    first, last = Timestamp(), Timestamp()
    first.FromJsonString("2026-04-01T08:00:00Z")
    last.FromJsonString("2026-05-01T04:00:00Z")
    return profile_pb2.Profile(
        profile_id=profile_id,
        identifiers=[
            profile_pb2.LinkedIdentifier(
                identifier=types_pb2.Identifier(
                    type=types_pb2.IDENTIFIER_TYPE_EMAIL, value="hmac:3f9a0c2b71de…"
                ),
                source_message_id="m-1",
                linked_at=first,
            ),
            profile_pb2.LinkedIdentifier(identifier=WECHAT),
        ],
        traits_json=b'{"life_stage":"expecting","vip_id":12345678901234567}',
        computed_traits_json=b'{"orders":3}',
        event_count=4,
        event_counts={"Order Completed": 3, "identify": 1},
        first_seen=first,
        last_seen=last,
        tags=["vip"],
        merged_profile_ids=["p-0"],
        trait_values=[
            profile_pb2.TraitValue(
                name="life_stage",
                value_json=b'"expecting"',
                type="string",
                updated_at=first,
                source="crm",
                source_message_id="m-1",
            )
        ],
    )


def test_get_profile_by_email(client: TestClient, profiles: ProfileServer) -> None:
    profiles.servicer.add(WORKSPACE, EMAIL, _profile())

    response = client.get("/v1/profiles/email/li.na@example.com", headers=AUTH)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "profile_id": "p-1",
        "identifiers": [
            {
                "type": "email",
                "value": "hmac:3f9a0c2b71de…",
                "source_message_id": "m-1",
                "linked_at": "2026-04-01T08:00:00Z",
            },
            {
                "type": "external:wechat_openid",
                "value": "o6_bmjrPTlm6",
                "source_message_id": None,
                "linked_at": None,
            },
        ],
        "traits": {"life_stage": "expecting", "vip_id": 12345678901234567},
        "computed_traits": {"orders": 3},
        "event_count": 4,
        "event_counts": {"Order Completed": 3, "identify": 1},
        "first_seen": "2026-04-01T08:00:00Z",
        "last_seen": "2026-05-01T04:00:00Z",
        "tags": ["vip"],
        "merged_profile_ids": ["p-0"],
        "trait_details": [
            {
                "name": "life_stage",
                "value": "expecting",
                "type": "string",
                "updated_at": "2026-04-01T08:00:00Z",
                "source": "crm",
                "source_message_id": "m-1",
            }
        ],
    }
    [(method, workspace, request)] = profiles.servicer.calls
    assert (method, workspace) == ("GetProfile", WORKSPACE)
    assert request.identifier == EMAIL


def test_get_profile_by_external_identifier(client: TestClient, profiles: ProfileServer) -> None:
    profiles.servicer.add(WORKSPACE, WECHAT, _profile("p-9"))

    response = client.get("/v1/profiles/external:wechat_openid/o6_bmjrPTlm6", headers=AUTH)

    assert response.json()["profile_id"] == "p-9"


def test_profiles_of_another_workspace_are_not_found(
    client: TestClient, profiles: ProfileServer
) -> None:
    profiles.servicer.add(WORKSPACE, EMAIL, _profile())

    response = client.get("/v1/profiles/email/li.na@example.com", headers={"X-API-Key": OTHER_KEY})

    assert_error(response, 404, "not_found")


def test_unknown_profile_is_404(client: TestClient) -> None:
    error = assert_error(client.get("/v1/profiles/user_id/nobody", headers=AUTH), 404, "not_found")

    assert "no profile" in error["message"]


@pytest.mark.parametrize("identifier_type", ["fax", "external", "external:Bad-Name", "email:work"])
def test_unknown_identifier_type_is_422(
    client: TestClient, profiles: ProfileServer, identifier_type: str
) -> None:
    response = client.get(f"/v1/profiles/{identifier_type}/x", headers=AUTH)

    assert_error(response, 422, "invalid_argument", "identifier_type")
    assert profiles.servicer.calls == []


def test_invalid_argument_from_the_service_keeps_its_field_details(
    client: TestClient, profiles: ProfileServer
) -> None:
    profiles.servicer.raise_error = InvalidArgument.field(
        "identifier.value", "is not a valid email address"
    )

    response = client.get("/v1/profiles/email/not-an-email", headers=AUTH)

    error = assert_error(response, 422, "invalid_argument", "identifier.value")
    assert error["details"][0]["reason"] == "is not a valid email address"


def test_list_profiles_pages_with_a_cursor(client: TestClient, profiles: ProfileServer) -> None:
    for i in range(3):
        profiles.servicer.add(
            WORKSPACE,
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=f"u{i}"),
            _profile(f"p-{i}"),
        )

    first = client.get("/v1/profiles", params={"page_size": 2}, headers=AUTH).json()
    second = client.get(
        "/v1/profiles", params={"page_size": 2, "cursor": first["next_cursor"]}, headers=AUTH
    ).json()

    assert [p["profile_id"] for p in first["profiles"]] == ["p-0", "p-1"]
    assert first["total_count"] == 3
    assert first["next_cursor"]
    assert [p["profile_id"] for p in second["profiles"]] == ["p-2"]
    assert second["next_cursor"] is None
    assert profiles.servicer.calls[0][2].page_size == 2


def test_list_profiles_defaults_to_50(client: TestClient, profiles: ProfileServer) -> None:
    body = client.get("/v1/profiles", headers=AUTH).json()

    assert body == {"profiles": [], "next_cursor": None, "total_count": 0, "suppressed_counts": []}
    assert profiles.servicer.calls[0][2].page_size == 50


@pytest.mark.parametrize("page_size", ["0", "501", "ten"])
def test_list_profiles_refuses_bad_page_size(
    client: TestClient, profiles: ProfileServer, page_size: str
) -> None:
    response = client.get("/v1/profiles", params={"page_size": page_size}, headers=AUTH)

    assert_error(response, 422, "invalid_argument", "page_size")
    assert profiles.servicer.calls == []


@pytest.mark.parametrize(
    ("code", "status", "error_code"),
    [
        (grpc.StatusCode.NOT_FOUND, 404, "not_found"),
        (grpc.StatusCode.ALREADY_EXISTS, 409, "already_exists"),
        (grpc.StatusCode.ABORTED, 409, "aborted"),
        (grpc.StatusCode.FAILED_PRECONDITION, 412, "failed_precondition"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, "unauthenticated"),
        (grpc.StatusCode.PERMISSION_DENIED, 403, "permission_denied"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "resource_exhausted"),
        (grpc.StatusCode.UNIMPLEMENTED, 501, "unimplemented"),
        (grpc.StatusCode.INTERNAL, 502, "bad_gateway"),
        (grpc.StatusCode.UNKNOWN, 502, "bad_gateway"),
        (grpc.StatusCode.DATA_LOSS, 502, "bad_gateway"),
    ],
)
def test_grpc_statuses_map_to_http(
    client: TestClient, profiles: ProfileServer, code: grpc.StatusCode, status: int, error_code: str
) -> None:
    profiles.servicer.fail_with = (code, "secret internals")

    error = assert_error(client.get("/v1/profiles", headers=AUTH), status, error_code)

    if status == 502:
        assert "secret internals" not in error["message"]


def test_unavailable_service_is_503_with_retry_after_after_retries(
    client: TestClient, profiles: ProfileServer
) -> None:
    profiles.servicer.fail_with = (grpc.StatusCode.UNAVAILABLE, "overloaded")

    response = client.get("/v1/profiles", headers=AUTH)

    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"
    assert len(profiles.servicer.calls) == 3  # the channel's retry policy tried three times


def test_profile_service_down_is_503(make_client: MakeClient, closed_port: int) -> None:
    client = make_client(gateway_profile_target=f"127.0.0.1:{closed_port}")

    response = client.get("/v1/profiles/user_id/u1", headers=AUTH)

    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "1"


def test_slow_service_is_504_at_the_deadline(
    make_client: MakeClient, profiles: ProfileServer
) -> None:
    client = make_client(gateway_deadline_seconds=0.3)
    profiles.servicer.delay = 1.5

    started = time.monotonic()
    response = client.get("/v1/profiles/user_id/u1", headers=AUTH)

    assert_error(response, 504, "deadline_exceeded")
    assert time.monotonic() - started < 1.2
