"""Consent over REST with the real consent service behind the gateway (SQLite and PostgreSQL):
record, check, state, history, defaults, minors, and bad input in the one error shape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, OTHER_KEY, MakeClient, assert_error
from opentelemetry.sdk.trace import TracerProvider

from precis_consent import ledger
from precis_consent.app import ConsentApp, build, start
from precis_consent.settings import ConsentSettings
from precis_gateway import consent_views
from precis_gateway.models import (
    CaptureChannelName,
    ConsentPurpose,
    ConsentStatusName,
    DecisionReasonName,
    LegalBasisName,
)

SIGNUP = {
    "request_id": "signup-1",
    "subject": {"user_id": "c-1", "email": "Li.Na@Example.com"},
    "choices": [
        {"purpose": "marketing_email", "status": "granted"},
        {"purpose": "marketing_sms", "status": "denied"},
    ],
    "policy_version": "2025-05",
    "source": "signup_form_v3",
    "channel": "mini_program",
    "occurred_at": "2025-05-01T12:00:00+08:00",
    "proof_reference": "form-42",
    "jurisdiction": "CN",
}


@pytest.fixture
def consent_service(
    database_url_factory: Callable[[str], str], tmp_path: Path, provider: TracerProvider
) -> Iterator[ConsentApp]:
    settings = ConsentSettings(
        consent_database_url=database_url_factory("consent"),
        consent_grpc_port=0,
        state_dir=tmp_path / "consent",
    )
    app = start(build(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


@pytest.fixture
def client(make_client: MakeClient, consent_service: ConsentApp) -> TestClient:
    return make_client(gateway_consent_target=f"127.0.0.1:{consent_service.port}")


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def by_purpose(states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["purpose"]: s for s in states}


def decisions(client: TestClient, subject: dict[str, Any], *purposes: str, **kw: Any) -> Any:
    body = ok(
        client.post(
            "/v1/consent/check",
            json={"subject": subject, "purposes": list(purposes)},
            headers=kw.get("headers", AUTH),
        )
    )
    return [(d["purpose"], d["allowed"], d["reason"]) for d in body["decisions"]]


def test_record_then_check_state_and_history(client: TestClient) -> None:
    recorded = client.post("/v1/consent", json=SIGNUP, headers=AUTH)
    body = ok(recorded)
    email, sms = body["entries"]
    assert (email["purpose"], email["status"], sms["purpose"], sms["status"]) == (
        "marketing_email",
        "granted",
        "marketing_sms",
        "denied",
    )
    assert email["request_id"] == "signup-1"
    assert email["legal_basis"] == "consent"
    assert email["channel"] == "mini_program"
    assert email["policy_version"] == "2025-05" and email["source"] == "signup_form_v3"
    assert email["proof_reference"] == "form-42" and email["jurisdiction"] == "CN"
    assert email["occurred_at"] == "2025-05-01T04:00:00Z"
    assert email["guardian"] is None
    shown = {i["type"]: i["value"] for i in email["subject"]["identifiers"]}
    assert shown["user_id"] == "c-1"
    assert shown["email"].startswith("hmac:")
    assert "li.na" not in recorded.text.lower()
    states = by_purpose(body["states"])
    assert set(states) == set(get_args(ConsentPurpose))
    assert states["marketing_email"]["allowed"] is True
    assert states["marketing_email"]["reason"] == "explicit_grant"
    assert states["marketing_email"]["entry_id"] == email["entry_id"]
    assert (states["marketing_sms"]["allowed"], states["marketing_sms"]["reason"]) == (
        False,
        "explicit_denial",
    )
    assert states["analytics"]["reason"] == "default_granted"
    assert states["analytics"]["entry_id"] is None

    # The same request_id again: the original entries, nothing appended.
    again = ok(client.post("/v1/consent", json=SIGNUP, headers=AUTH))
    assert [e["entry_id"] for e in again["entries"]] == [email["entry_id"], sms["entry_id"]]

    # Checked by any identifier recorded (email in clear, normalized), in request order.
    assert decisions(
        client,
        {"email": " li.na@example.COM "},
        "marketing_sms",
        "marketing_email",
        "ads_targeting",
        "analytics",
    ) == [
        ("marketing_sms", False, "explicit_denial"),
        ("marketing_email", True, "explicit_grant"),
        ("ads_targeting", False, "default_denied"),
        ("analytics", True, "default_granted"),
    ]
    # Someone else, and the same person in another workspace, have only the defaults.
    assert decisions(client, {"user_id": "c-2"}, "marketing_email") == [
        ("marketing_email", False, "default_denied")
    ]
    other = {"X-API-Key": OTHER_KEY}
    assert decisions(client, {"user_id": "c-1"}, "marketing_email", headers=other) == [
        ("marketing_email", False, "default_denied")
    ]

    state = ok(client.get("/v1/consent/user_id/c-1", headers=AUTH))
    assert (state["jurisdiction"], state["is_minor"], state["suppressed"]) == ("CN", False, False)
    assert by_purpose(state["states"])["marketing_email"]["policy_version"] == "2025-05"
    assert by_purpose(state["states"])["marketing_email"]["updated_at"] == "2025-05-01T04:00:00Z"

    # Withdrawn later through an unsubscribe link that knows only the email address.
    ok(
        client.post(
            "/v1/consent",
            json={
                "subject": {"email": "li.na@example.com"},
                "choices": [{"purpose": "marketing_email", "status": "withdrawn"}],
                "policy_version": "2025-05",
                "source": "unsubscribe_link",
                "channel": "email",
                "occurred_at": "2025-06-01T09:00:00Z",
            },
            headers=AUTH,
        )
    )
    by_email = by_purpose(
        ok(client.get("/v1/consent/email/li.na@example.com", headers=AUTH))["states"]
    )
    assert (by_email["marketing_email"]["allowed"], by_email["marketing_email"]["reason"]) == (
        False,
        "withdrawn",
    )
    assert decisions(
        client, {"user_id": "c-1", "email": "li.na@example.com"}, "marketing_email"
    ) == [("marketing_email", False, "withdrawn")]

    # History: newest first, paged, with a purpose filter.
    path = "/v1/consent/email/li.na@example.com/history"
    first = ok(client.get(path, params={"page_size": 2}, headers=AUTH))
    assert len(first["entries"]) == 2 and first["next_cursor"]
    assert first["entries"][0]["status"] == "withdrawn"
    assert first["entries"][0]["source"] == "unsubscribe_link"
    rest = ok(
        client.get(path, params={"page_size": 2, "cursor": first["next_cursor"]}, headers=AUTH)
    )
    assert len(rest["entries"]) == 1 and rest["next_cursor"] is None
    ids = [e["entry_id"] for e in first["entries"] + rest["entries"]]
    assert len(set(ids)) == 3
    assert {email["entry_id"], sms["entry_id"]} <= set(ids)
    only_sms = ok(client.get(path, params={"purpose": "marketing_sms"}, headers=AUTH))
    assert [e["entry_id"] for e in only_sms["entries"]] == [sms["entry_id"]]
    # The user_id was not named by the unsubscribe: its history holds the signup only.
    by_user = ok(client.get("/v1/consent/user_id/c-1/history", headers=AUTH))
    assert sorted(e["entry_id"] for e in by_user["entries"]) == sorted(
        [email["entry_id"], sms["entry_id"]]
    )
    assert_error(
        client.get(path, params={"cursor": "not-a-cursor"}, headers=AUTH),
        422,
        "invalid_argument",
        "cursor",
    )


def test_defaults_per_jurisdiction(client: TestClient) -> None:
    built_in = ok(client.get("/v1/consent-defaults", headers=AUTH))
    assert built_in["default_jurisdiction"] == "*"
    [fallback] = built_in["jurisdictions"]
    assert fallback["jurisdiction"] == "*" and fallback["updated_at"] is None
    assert fallback["minor_age_threshold"] == 14
    purposes = {d["purpose"]: d for d in fallback["defaults"]}
    assert purposes["marketing_email"]["status"] == "denied"
    assert purposes["analytics"]["status"] == "granted"
    assert purposes["third_party_sharing"]["requires_separate_consent"] is True

    # PIPL and GDPR: marketing may not default to granted in CN (nor in the fallback "*").
    granted = {"defaults": [{"purpose": "marketing_email", "status": "granted"}]}
    for jurisdiction in ("CN", "%2A"):
        refused = client.put(f"/v1/consent-defaults/{jurisdiction}", json=granted, headers=AUTH)
        error = assert_error(refused, 422, "invalid_argument", "defaults[0].status")
        assert "opt-in" in error["details"][0]["reason"]

    california = ok(
        client.put(
            "/v1/consent-defaults/US-CA",
            json={
                **granted,
                "minimum_policy_version": "2025-01",
                "make_default_jurisdiction": True,
            },
            headers=AUTH,
        )
    )
    assert california["jurisdiction"] == "US-CA" and california["updated_at"]
    assert california["minimum_policy_version"] == "2025-01"
    assert {d["purpose"]: d["status"] for d in california["defaults"]}["marketing_email"] == (
        "granted"
    )
    listed = ok(client.get("/v1/consent-defaults", headers=AUTH))
    assert listed["default_jurisdiction"] == "US-CA"
    assert [j["jurisdiction"] for j in listed["jurisdictions"]] == ["*", "US-CA"]
    [only] = ok(client.get("/v1/consent-defaults?jurisdiction=US-CA", headers=AUTH))[
        "jurisdictions"
    ]
    assert only["jurisdiction"] == "US-CA"
    # Subjects without entries now get California's opt-out default.
    assert decisions(client, {"user_id": "new-visitor"}, "marketing_email") == [
        ("marketing_email", True, "default_granted")
    ]

    # "*" in the path, encoded or not.
    analytics_off = {"defaults": [{"purpose": "analytics", "status": "denied"}]}
    for path in ("/v1/consent-defaults/%2A", "/v1/consent-defaults/*"):
        assert ok(client.put(path, json=analytics_off, headers=AUTH))["jurisdiction"] == "*"

    assert_error(
        client.put("/v1/consent-defaults/china", json=analytics_off, headers=AUTH),
        422,
        "invalid_argument",
        "jurisdiction",
    )
    assert_error(
        client.put(
            "/v1/consent-defaults/DE",
            json={"defaults": [{"purpose": "third_party_sharing", "status": "denied"}]},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "defaults[0].requires_separate_consent",
    )
    assert_error(
        client.put(
            "/v1/consent-defaults/DE",
            json={"defaults": [{"purpose": "analytics", "status": "withdrawn"}]},
            headers=AUTH,
        ),
        422,
        "invalid_argument",
        "defaults[0].status",
    )


def test_minor_and_guardian(client: TestClient) -> None:
    kid = "/v1/consent/user_id/kid-1"
    assert ok(client.get(f"{kid}/minor", headers=AUTH))["is_minor"] is False
    assert_error(
        client.put(f"{kid}/minor", json={"is_minor": True}, headers=AUTH),
        422,
        "invalid_argument",
        "guardian",
    )
    mum = {"user_id": "mum-1", "email": "mum@example.com"}
    marked = ok(
        client.put(
            f"{kid}/minor",
            json={
                "is_minor": True,
                "guardian": mum,
                "comes_of_age_at": "2040-09-01T00:00:00+08:00",
                "verification_reference": "id-check-7",
            },
            headers=AUTH,
        )
    )
    assert marked["is_minor"] is True
    assert marked["subject"]["identifiers"] == [{"type": "user_id", "value": "kid-1"}]
    guardian = {i["type"]: i["value"] for i in marked["guardian"]["identifiers"]}
    assert guardian["user_id"] == "mum-1" and guardian["email"].startswith("hmac:")
    assert marked["comes_of_age_at"] == "2040-08-31T16:00:00Z"
    assert marked["verification_reference"] == "id-check-7" and marked["updated_at"]
    assert ok(client.get(f"{kid}/minor", headers=AUTH)) == marked

    state = ok(client.get(kid, headers=AUTH))
    assert state["is_minor"] is True
    assert {s["reason"] for s in state["states"]} == {"minor_without_guardian"}
    assert not any(s["allowed"] for s in state["states"])

    choice = {
        "subject": {"user_id": "kid-1"},
        "choices": [{"purpose": "personalization", "status": "granted"}],
        "policy_version": "2025-05",
        "source": "family_app",
    }
    assert_error(client.post("/v1/consent", json=choice, headers=AUTH), 412, "failed_precondition")
    assert_error(
        client.post("/v1/consent", json={**choice, "guardian": {"user_id": "kid-1"}}, headers=AUTH),
        422,
        "invalid_argument",
        "guardian",
    )
    by_guardian = ok(
        client.post("/v1/consent", json={**choice, "guardian": {"user_id": "mum-1"}}, headers=AUTH)
    )
    [entry] = by_guardian["entries"]
    assert entry["guardian"]["identifiers"] == [{"type": "user_id", "value": "mum-1"}]
    assert decisions(client, {"user_id": "kid-1"}, "personalization", "analytics") == [
        ("personalization", True, "explicit_grant"),
        ("analytics", False, "minor_without_guardian"),
    ]

    unmarked = ok(client.put(f"{kid}/minor", json={"is_minor": False}, headers=AUTH))
    assert unmarked["is_minor"] is False and unmarked["guardian"] is None
    assert decisions(client, {"user_id": "kid-1"}, "analytics") == [
        ("analytics", True, "default_granted")
    ]


def test_bad_input_has_the_one_error_shape(client: TestClient) -> None:
    def record(**changes: Any) -> Any:
        body = {**SIGNUP, "request_id": None, **changes}
        return client.post(
            "/v1/consent", json={k: v for k, v in body.items() if v is not None}, headers=AUTH
        )

    def refused(response: Any, *fields: str) -> dict[str, Any]:
        return assert_error(response, 422, "invalid_argument", *fields)

    refused(record(policy_version=None), "policy_version")
    refused(record(choices=[{"purpose": "telepathy", "status": "granted"}]), "choices[0].purpose")
    refused(record(choices=[]), "choices")
    refused(record(occurred_at="2025-05-01T12:00:00"), "occurred_at")
    refused(record(occurred_at="2999-01-01T00:00:00Z"), "occurred_at")
    refused(record(colour="blue"), "colour")
    error = refused(record(subject={"user_id": "c-9", "email": "not-an-email"}), "subject.email")
    assert error["message"] == "subject.email: is not a valid email address"
    refused(
        record(
            subject={"external_ids": [{"namespace": "wechat_openid", "id": "o1"}], "phone": "x"}
        ),
        "subject.phone",
    )
    refused(record(subject={}), "subject")
    refused(record(guardian={"email": "nope"}), "guardian.email")
    refused(record(jurisdiction="Mars"), "jurisdiction")
    duplicate = [{"purpose": "analytics", "status": "granted"}] * 2
    refused(record(choices=duplicate), "choices[1].purpose")
    bundled = [
        {"purpose": "third_party_sharing", "status": "granted"},
        {"purpose": "marketing_email", "status": "granted"},
    ]
    refused(record(choices=bundled), "choices")
    check = {"subject": {"user_id": "c-1"}, "purposes": ["analytics", "mind_reading"]}
    refused(client.post("/v1/consent/check", json=check, headers=AUTH), "purposes[1]")
    refused(client.get("/v1/consent/fax/123", headers=AUTH), "identifier_type")
    refused(client.get("/v1/consent/email/not-an-email", headers=AUTH), "value")
    refused(client.get("/v1/consent/phone/12/history", headers=AUTH), "value")
    refused(
        client.put("/v1/consent/user_id/kid/minor", json={"is_minor": "perhaps"}, headers=AUTH),
        "is_minor",
    )
    assert_error(client.post("/v1/consent", json=SIGNUP), 401, "unauthenticated")
    # Nothing above was stored.
    for who in ("c-1", "c-9"):
        empty = ok(client.get(f"/v1/consent/user_id/{who}/history", headers=AUTH))
        assert empty == {"entries": [], "next_cursor": None}


def test_readiness_includes_consent(
    client: TestClient, make_client: MakeClient, closed_port: int
) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["dependencies"]["consent"] == "SERVING"

    without = make_client(gateway_consent_target=f"127.0.0.1:{closed_port}")
    response = without.get("/readyz")
    assert response.status_code == 503
    assert response.json()["dependencies"] == {
        "ingestion": "SERVING",
        "profile": "SERVING",
        "consent": "UNAVAILABLE",
        "segmentation": "SERVING",
        "recommendation": "SERVING",
        "measurement": "SERVING",
    }
    assert_error(
        without.post(
            "/v1/consent/check",
            json={"subject": {"user_id": "u"}, "purposes": ["analytics"]},
            headers=AUTH,
        ),
        503,
        "unavailable",
    )


def test_rest_names_are_the_contract_enum_names() -> None:
    """The REST enums are the consent contract's, so a purpose added to the proto fails here
    until the gateway's models learn it; and they are the names the consent service uses."""
    assert list(get_args(ConsentPurpose)) == list(consent_views.PURPOSES.values())
    assert list(get_args(ConsentStatusName)) == list(consent_views.STATUSES.values())
    assert list(get_args(LegalBasisName)) == list(consent_views.LEGAL_BASES.values())
    assert list(get_args(CaptureChannelName)) == list(consent_views.CHANNELS.values())
    assert list(get_args(DecisionReasonName)) == list(consent_views.REASONS.values())
    assert consent_views.PURPOSES == ledger.PURPOSES
    assert consent_views.STATUSES == ledger.STATUSES
    assert consent_views.LEGAL_BASES == ledger.LEGAL_BASES
    assert {k: v for k, v in ledger.CHANNELS.items() if k} == consent_views.CHANNELS


def test_openapi_documents_the_consent_routes(make_client: MakeClient) -> None:
    spec = make_client().get("/openapi.json").json()
    operations = {
        op["operationId"]: (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }
    assert operations["recordConsent"] == ("post", "/v1/consent")
    assert operations["checkConsent"] == ("post", "/v1/consent/check")
    assert operations["getConsentState"] == ("get", "/v1/consent/{identifier_type}/{value}")
    assert operations["listConsentHistory"] == (
        "get",
        "/v1/consent/{identifier_type}/{value}/history",
    )
    assert operations["setMinorStatus"] == ("put", "/v1/consent/{identifier_type}/{value}/minor")
    assert operations["setConsentDefaults"] == ("put", "/v1/consent-defaults/{jurisdiction}")
    schemas = spec["components"]["schemas"]
    purpose = schemas["ConsentChoice"]["properties"]["purpose"]
    assert purpose["enum"] == list(get_args(ConsentPurpose))
    assert schemas["RecordConsentBody"]["properties"]["policy_version"]["maxLength"] == 64
