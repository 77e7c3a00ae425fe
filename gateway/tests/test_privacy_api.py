"""Data-subject requests over REST with the real ingestion, profile and consent services behind
the gateway (SQLite and PostgreSQL), the consent service's worker running by itself: export a
person's bundle, erase them everywhere with receipts, suppression, and bad input in the one
error shape."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, KEY, OTHER_KEY, WORKSPACE, MakeClient, assert_error
from opentelemetry.sdk.trace import TracerProvider

from precis_common.grpc_client import PRINCIPAL_METADATA_KEY
from precis_consent import servicer as consent_servicer
from precis_consent.app import ConsentApp
from precis_consent.app import build as build_consent
from precis_consent.app import start as start_consent
from precis_consent.settings import ConsentSettings
from precis_gateway import consent_views
from precis_gateway.models import PrivacyRequestKind, PrivacyRequestState
from precis_ingestion.app import IngestionApp
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_profile.app import ProfileApp
from precis_profile.app import build as build_profile
from precis_profile.app import start as start_profile
from precis_profile.settings import ProfileSettings

EMAIL = "Mei.Lin@Example.com"
OTHER_EMAIL = "zhou.li@example.com"
TRACKS = 12
KEY_ID = "key:" + hashlib.sha256(KEY.encode()).hexdigest()[:8]


@pytest.fixture
def ingestion(
    database_url_factory: Callable[[str], str], tmp_path: Path, provider: TracerProvider
) -> Iterator[IngestionApp]:
    """The conftest's ingestion, on both database backends (make_client uses this one)."""
    settings = IngestionSettings(
        ingestion_database_url=database_url_factory("ingestion"),
        ingestion_grpc_port=0,
        state_dir=tmp_path / "ingestion",
    )
    app = start_ingestion(build_ingestion(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


@pytest.fixture
def profile_service(
    database_url_factory: Callable[[str], str],
    tmp_path: Path,
    ingestion: IngestionApp,
    provider: TracerProvider,
) -> Iterator[ProfileApp]:
    settings = ProfileSettings(
        profile_database_url=database_url_factory("profile"),
        profile_grpc_port=0,
        state_dir=tmp_path / "profile",
        profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
        profile_consume=False,  # the test applies the feed itself, deterministically
    )
    app = start_profile(build_profile(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


@pytest.fixture
def consent_service(
    database_url_factory: Callable[[str], str],
    tmp_path: Path,
    ingestion: IngestionApp,
    profile_service: ProfileApp,
    provider: TracerProvider,
) -> Iterator[ConsentApp]:
    settings = ConsentSettings(
        consent_database_url=database_url_factory("consent"),
        consent_grpc_port=0,
        state_dir=tmp_path / "consent",
        consent_privacy_targets={
            "ingestion": f"127.0.0.1:{ingestion.port}",
            "profile": f"127.0.0.1:{profile_service.port}",
        },
        consent_dsr_interval_seconds=0.2,  # the worker advances requests by itself
        consent_ingestion_target=f"127.0.0.1:{ingestion.port}",  # consent stated in events
    )
    app = start_consent(build_consent(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


@pytest.fixture
def client(
    make_client: MakeClient, profile_service: ProfileApp, consent_service: ConsentApp
) -> TestClient:
    return make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}",
        gateway_consent_target=f"127.0.0.1:{consent_service.port}",
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def wait_until_completed(client: TestClient, request_id: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = ok(client.get(f"/v1/privacy/requests/{request_id}", headers=AUTH))
        if found["state"] == "completed":
            return found
        assert time.monotonic() < deadline, f"not completed in {timeout} s: {found}"
        time.sleep(0.1)


def send_people(client: TestClient, profile_service: ProfileApp) -> None:
    mei = [
        {
            "type": "identify",
            "message_id": "mei-identify",
            "user_id": "mei",
            "anonymous_id": "anon-mei",
            "traits": {"email": EMAIL, "name": "Mei"},
            "context": {
                "source": "app_settings",
                "consent": {"policy_version": "2025-05", "purposes": {"marketing_sms": True}},
            },
        }
    ]
    mei += [
        {
            "type": "track",
            "message_id": f"mei-view-{n}",
            "event": "Product Viewed",
            "user_id": "mei",
            "properties": {"sku": f"sku-{n}"},
        }
        for n in range(TRACKS)
    ]
    other = [
        {
            "type": "identify",
            "message_id": "zhou-identify",
            "user_id": "zhou",
            "traits": {"email": OTHER_EMAIL},
        },
        {"type": "track", "message_id": "zhou-view", "event": "Product Viewed", "user_id": "zhou"},
    ]
    sent = ok(client.post("/v1/batch", json={"batch": mei + other}, headers=AUTH))
    assert sent["accepted"] == TRACKS + 3, sent
    while profile_service.consumer.run_once():
        pass


def test_export_then_erase_a_person_over_rest(
    client: TestClient, profile_service: ProfileApp
) -> None:
    send_people(client, profile_service)
    # The consent Mei stated inside her identify event reached the ledger.
    deadline = time.monotonic() + 20
    while True:
        state = ok(client.get("/v1/consent/user_id/mei", headers=AUTH))
        if time.monotonic() > deadline or any(
            p["purpose"] == "marketing_sms" and p["allowed"] for p in state["states"]
        ):
            break
        time.sleep(0.05)
    [sms] = [p for p in state["states"] if p["purpose"] == "marketing_sms"]
    assert (sms["status"], sms["allowed"]) == ("granted", True), state
    profile = ok(client.get("/v1/profiles/email/mei.lin@example.com", headers=AUTH))
    assert profile["event_count"] == TRACKS + 1
    ok(
        client.post(
            "/v1/consent",
            json={
                "subject": {"email": EMAIL},
                "choices": [{"purpose": "marketing_email", "status": "granted"}],
                "policy_version": "2025-05",
                "source": "signup_form",
            },
            headers=AUTH,
        )
    )

    # Export, asked by email only: 202 with the request pending, one task per service.
    opened = client.post(
        "/v1/privacy/exports",
        json={"request_id": "exp-1", "subject": {"email": EMAIL}, "note": "ticket 8812"},
        headers=AUTH,
    )
    request = ok(opened, 202)
    assert EMAIL.lower() not in opened.text.lower()
    assert (request["request_id"], request["kind"], request["state"]) == (
        "exp-1",
        "export",
        "pending",
    )
    [shown] = request["subject"]["identifiers"]
    assert shown["type"] == "email" and shown["value"].startswith("hmac:")
    assert [t["service"] for t in request["tasks"]] == ["consent", "ingestion", "profile"]
    assert {t["state"] for t in request["tasks"]} == {"pending"}
    assert request["note"] == "ticket 8812"
    # The caller is named by a non-secret id of its API key, never by the key.
    assert request["requested_by"] == KEY_ID
    assert KEY not in opened.text
    created = datetime.fromisoformat(request["created_at"])
    assert datetime.fromisoformat(request["due_at"]) - created == timedelta(days=30)
    assert (request["completed_at"], request["suppressed"], request["bundle"]) == (
        None,
        False,
        None,
    )

    exported = wait_until_completed(client, "exp-1")
    assert exported["bundle"] is None  # only when asked for
    assert all(t["export_bytes"] > 0 and t["completed_at"] for t in exported["tasks"])
    assert all(t["last_error"] is None and t["next_attempt_at"] is None for t in exported["tasks"])
    with_bundle = client.get("/v1/privacy/requests/exp-1?include_bundle=true", headers=AUTH)
    bundle = ok(with_bundle)["bundle"]
    assert set(bundle) == {"consent", "ingestion", "profile"}
    assert len(bundle["ingestion"]["events"]) == TRACKS + 1
    assert len(bundle["ingestion"]["consent_captures"]) == 1
    assert [p["profile_id"] for p in bundle["profile"]["profiles"]] == [profile["profile_id"]]
    assert bundle["consent"]["state"]["marketing_email"]["allowed"] is True
    assert EMAIL.lower() not in with_bundle.text.lower()  # hashed everywhere

    # The same request_id again: the original request, nothing new opened.
    again = ok(
        client.post(
            "/v1/privacy/exports",
            json={"request_id": "exp-1", "subject": {"email": EMAIL}},
            headers=AUTH,
        ),
        202,
    )
    assert (again["state"], again["created_at"]) == ("completed", request["created_at"])

    # Erasure by user id, without a request_id: the gateway names it.
    erasure = ok(
        client.post("/v1/privacy/erasures", json={"subject": {"user_id": "mei"}}, headers=AUTH),
        202,
    )
    assert erasure["kind"] == "erasure" and erasure["suppressed"] is True
    assert len(erasure["request_id"]) == 36  # a UUID
    erased = wait_until_completed(client, erasure["request_id"])
    receipts = {t["service"]: {e["table"]: e["rows"] for e in t["erased"]} for t in erased["tasks"]}
    print(f"erasure receipts: {receipts}")
    assert receipts["ingestion"]["events"] == TRACKS + 1
    assert receipts["consent"]["consent_entries"] == 2  # one over REST, one inside an event
    assert receipts["ingestion"]["consent_captures"] == 1
    assert sum(receipts["profile"].values()) > TRACKS
    assert erased["subject"] == {"identifiers": [], "profile_id": None}  # forgotten
    assert erased["completed_at"] is not None

    assert_error(
        client.get("/v1/profiles/email/mei.lin@example.com", headers=AUTH), 404, "not_found"
    )
    assert_error(client.get("/v1/profiles/user_id/mei", headers=AUTH), 404, "not_found")
    assert ok(client.get("/v1/profiles/user_id/zhou", headers=AUTH))["event_count"] == 2
    # The earlier export's bundle was the person's data too: gone with them.
    forgotten = ok(client.get("/v1/privacy/requests/exp-1?include_bundle=true", headers=AUTH))
    assert forgotten["bundle"] is None and forgotten["subject"]["identifiers"] == []

    flags = ok(
        client.post(
            "/v1/privacy/suppression-check",
            json={
                "identifiers": [
                    {"type": "email", "value": EMAIL.upper()},
                    {"type": "email", "value": OTHER_EMAIL},
                    {"type": "anonymous_id", "value": "anon-mei"},
                    {"type": "user_id", "value": "zhou"},
                ]
            },
            headers=AUTH,
        )
    )
    assert flags == {"suppressed": [True, False, True, False]}
    # Suppression, like everything else, is per workspace.
    elsewhere = client.post(
        "/v1/privacy/suppression-check",
        json={"identifiers": [{"type": "email", "value": EMAIL}]},
        headers={"X-API-Key": OTHER_KEY},
    )
    assert ok(elsewhere) == {"suppressed": [False]}

    # Listing: newest first, filtered, paged.
    listed = ok(client.get("/v1/privacy/requests", headers=AUTH))
    assert [r["request_id"] for r in listed["requests"]] == [erasure["request_id"], "exp-1"]
    assert listed["next_cursor"] is None
    assert all(r["bundle"] is None for r in listed["requests"])
    only = ok(client.get("/v1/privacy/requests?kind=export&state=completed", headers=AUTH))
    assert [r["request_id"] for r in only["requests"]] == ["exp-1"]
    assert ok(client.get("/v1/privacy/requests?state=pending", headers=AUTH))["requests"] == []
    first = ok(client.get("/v1/privacy/requests?page_size=1", headers=AUTH))
    assert [r["request_id"] for r in first["requests"]] == [erasure["request_id"]]
    rest = ok(
        client.get(
            "/v1/privacy/requests",
            params={"page_size": 1, "cursor": first["next_cursor"]},
            headers=AUTH,
        )
    )
    assert [r["request_id"] for r in rest["requests"]] == ["exp-1"]
    assert ok(client.get("/v1/privacy/requests", headers={"X-API-Key": OTHER_KEY})) == {
        "requests": [],
        "next_cursor": None,
    }


def test_bad_input_has_the_one_error_shape(client: TestClient) -> None:
    def erase(**body: Any) -> Any:
        return client.post("/v1/privacy/erasures", json=body, headers=AUTH)

    def refused(response: Any, *fields: str) -> dict[str, Any]:
        return assert_error(response, 422, "invalid_argument", *fields)

    refused(erase(subject={}), "subject")
    refused(erase(), "subject")
    error = refused(erase(subject={"email": "not-an-email"}), "subject.email")
    assert error["message"] == "subject.email: is not a valid email address"
    refused(erase(subject={"user_id": "u", "phone": "12"}), "subject.phone")
    refused(erase(subject={"user_id": "u"}, note="x" * 1001), "note")
    refused(erase(subject={"user_id": "u"}, request_id=""), "request_id")
    refused(erase(subject={"user_id": "u"}, reason="gdpr"), "reason")
    # A consent context inside an event is checked like the rest of the event.
    bad_consent = {"policy_version": "v1", "purposes": {"newsletter": "granted"}}
    refused(
        client.post(
            "/v1/track",
            json={"event": "Signed Up", "user_id": "u", "context": {"consent": bad_consent}},
            headers=AUTH,
        ),
        "context.consent.purposes.newsletter",
    )

    # A request id names one request: reusing it for the other kind is refused.
    ok(
        client.post(
            "/v1/privacy/exports",
            json={"request_id": "same", "subject": {"user_id": "u"}},
            headers=AUTH,
        ),
        202,
    )
    error = refused(erase(subject={"user_id": "u"}, request_id="same"), "request_id")
    assert "export" in error["details"][0]["reason"]
    assert ok(client.get("/v1/privacy/requests/same", headers=AUTH))["kind"] == "export"

    assert_error(client.get("/v1/privacy/requests/nope", headers=AUTH), 404, "not_found")
    refused(client.get("/v1/privacy/requests?kind=deletion", headers=AUTH), "kind")
    refused(client.get("/v1/privacy/requests?page_size=0", headers=AUTH), "page_size")
    refused(client.get("/v1/privacy/requests?cursor=not-a-cursor", headers=AUTH), "cursor")

    def check(*identifiers: dict[str, Any]) -> Any:
        return client.post(
            "/v1/privacy/suppression-check",
            json={"identifiers": list(identifiers)},
            headers=AUTH,
        )

    refused(check(), "identifiers")
    refused(check(*[{"type": "user_id", "value": f"u{n}"} for n in range(501)]), "identifiers")
    refused(check({"type": "fax", "value": "1"}), "identifiers[0].type")
    refused(
        check({"type": "user_id", "value": "u"}, {"type": "email", "value": "nope"}),
        "identifiers[1].value",
    )
    refused(check({"type": "external", "value": "o1"}), "identifiers[0].namespace")
    assert ok(check(*[{"type": "user_id", "value": f"u{n}"} for n in range(500)])) == {
        "suppressed": [False] * 500
    }

    assert_error(
        client.post("/v1/privacy/erasures", json={"subject": {"user_id": "u"}}),
        401,
        "unauthenticated",
    )
    assert_error(
        client.post(
            "/v1/privacy/erasures",
            json={"subject": {"user_id": "u"}},
            headers={"X-API-Key": "not-a-key"},
        ),
        401,
        "unauthenticated",
    )
    # Nothing refused above was opened.
    listed = ok(client.get("/v1/privacy/requests", headers=AUTH))
    assert [r["request_id"] for r in listed["requests"]] == ["same"]


def test_the_requester_is_named_by_the_key_id_however_the_key_is_configured(
    make_client: MakeClient, profile_service: ProfileApp, consent_service: ConsentApp
) -> None:
    hashed = make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}",
        gateway_consent_target=f"127.0.0.1:{consent_service.port}",
        gateway_api_keys={f"sha256:{hashlib.sha256(KEY.encode()).hexdigest()}": WORKSPACE},
    )
    opened = ok(
        hashed.post("/v1/privacy/exports", json={"subject": {"user_id": "u"}}, headers=AUTH), 202
    )
    assert opened["requested_by"] == KEY_ID
    assert KEY_ID.startswith("key:") and len(KEY_ID) == 12


def test_rest_names_are_the_contract_names() -> None:
    """The REST kinds and states are the consent contract's enum names, and the principal
    travels under the metadata key the consent service reads."""
    assert list(get_args(PrivacyRequestKind)) == list(consent_views.PRIVACY_KINDS.values())
    assert list(get_args(PrivacyRequestState)) == list(consent_views.PRIVACY_STATES.values())
    assert PRINCIPAL_METADATA_KEY == consent_servicer.PRINCIPAL_METADATA


def test_openapi_documents_the_privacy_routes(make_client: MakeClient) -> None:
    spec = make_client().get("/openapi.json").json()
    operations = {
        op["operationId"]: (method, path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert operations["requestExport"][:2] == ("post", "/v1/privacy/exports")
    assert operations["requestErasure"][:2] == ("post", "/v1/privacy/erasures")
    assert operations["getPrivacyRequest"][:2] == ("get", "/v1/privacy/requests/{request_id}")
    assert operations["listPrivacyRequests"][:2] == ("get", "/v1/privacy/requests")
    assert operations["checkSuppression"][:2] == ("post", "/v1/privacy/suppression-check")
    assert "202" in operations["requestErasure"][2]["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["PrivacyRequestBody"]["properties"]["note"]["anyOf"][0]["maxLength"] == 1000
    assert schemas["SuppressionCheckBody"]["properties"]["identifiers"]["maxItems"] == 500
