"""The audit log over REST, with the real consent service behind the gateway (SQLite and
PostgreSQL) and the fake profile service: reads, updates, data-subject exports and erasures are
recorded with the API key's id and the declared purpose; GET /v1/audit-log filters and pages;
a request succeeds while the consent service is down and its access is recorded once it is back.
The batcher itself is tested without a network: its bound, retries, refusals and shutdown."""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, get_args

import grpc
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from gateway_support import (
    AUTH,
    KEY,
    OTHER_KEY,
    OTHER_WORKSPACE,
    WORKSPACE,
    MakeClient,
    ProfileServer,
    assert_error,
)
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.profile.v1 import profile_pb2
from precis_consent.app import ConsentApp, build, start
from precis_consent.settings import ConsentSettings
from precis_gateway import audit
from precis_gateway.models import AuditActionName
from precis_gateway.routers.audit import AUDIT_ACTIONS

KEY_ID = "key:" + hashlib.sha256(KEY.encode()).hexdigest()[:8]
READER_KEY = "test-key-reader-of-ws-test-0123456789"
READER_ID = "key:" + hashlib.sha256(READER_KEY.encode()).hexdigest()[:8]
EMAIL = "Mei.Lin@Example.com"
MEI = types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value="mei")
PROFILE = "/v1/profiles/{identifier_type}/{value}"
FAST = {  # the batcher sends at once and retries quickly
    "gateway_audit_flush_seconds": 0.05,
    "gateway_audit_max_backoff_seconds": 0.2,
}
KEYS = {
    KEY: WORKSPACE,
    OTHER_KEY: OTHER_WORKSPACE,
    READER_KEY: {"workspace": WORKSPACE, "scopes": ["profiles:read", "consent:read"]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_consent(url: str, tmp_path: Path, provider: TracerProvider, port: int = 0) -> ConsentApp:
    settings = ConsentSettings(
        consent_database_url=url,
        consent_grpc_port=port,
        state_dir=tmp_path / "consent",
        consent_privacy_targets={},  # data-subject requests cover the consent ledger only here
        consent_dsr_interval_seconds=0.1,
    )
    return start(build(settings, tracer_provider=provider, configure_logs=False))


@pytest.fixture
def consent_service(
    database_url_factory: Callable[[str], str], tmp_path: Path, provider: TracerProvider
) -> Iterator[ConsentApp]:
    app = start_consent(database_url_factory("consent"), tmp_path, provider)
    yield app
    app.stop(0)


@pytest.fixture
def client(
    make_client: MakeClient, profiles: ProfileServer, consent_service: ConsentApp
) -> TestClient:
    profiles.servicer.add(WORKSPACE, MEI, profile_pb2.Profile(profile_id="p-mei", event_count=3))
    return make_client(
        gateway_consent_target=f"127.0.0.1:{consent_service.port}", gateway_api_keys=KEYS, **FAST
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def entries(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every audit entry matching, over all pages."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = ok(
            client.get(
                "/v1/audit-log",
                params={**params, "cursor": cursor} if cursor else params,
                headers=AUTH,
            )
        )
        found += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def wait_for(
    client: TestClient, count: int, timeout: float = 20.0, **params: Any
) -> list[dict[str, Any]]:
    """The matching entries once there are `count` of them (the batcher sends in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        found = entries(client, **params)
        if len(found) >= count:
            assert len(found) == count, found
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} entries after {timeout} s"
        time.sleep(0.05)


def test_reads_and_updates_are_recorded_with_the_key_and_the_purpose(client: TestClient) -> None:
    read = client.get(
        "/v1/profiles/user_id/mei", headers={**AUTH, "X-Precis-Purpose": "customer_support"}
    )
    assert ok(read)["profile_id"] == "p-mei"
    ok(client.get(f"/v1/consent/email/{EMAIL}", headers=AUTH))  # no purpose declared
    ok(
        client.post(
            "/v1/consent",
            json={
                "subject": {"user_id": "mei", "email": EMAIL},
                "choices": [{"purpose": "marketing_email", "status": "granted"}],
                "policy_version": "2026-05",
                "source": "preference_center",
            },
            headers={**AUTH, "X-Precis-Purpose": "consent_management"},
        )
    )
    # Failures are not accesses; a purpose that is not a purpose name is refused.
    assert_error(client.get("/v1/profiles/user_id/nobody", headers=AUTH), 404, "not_found")
    assert_error(
        client.get(
            "/v1/profiles/user_id/mei", headers={**AUTH, "X-Precis-Purpose": "Customer Support"}
        ),
        422,
        "invalid_argument",
        "X-Precis-Purpose",
    )
    # A key without privacy:admin reads (recorded under its own id) but may not query the log.
    ok(client.get("/v1/consent/user_id/mei/history", headers={"X-API-Key": READER_KEY}))
    assert_error(client.get("/v1/audit-log", headers={"X-API-Key": READER_KEY}), 403, "forbidden")

    recorded = wait_for(client, 4)
    history, update, state, profile = recorded  # newest first
    assert profile["operation"] == "GET /v1/profiles/{identifier_type}/{value}"
    assert (profile["action"], profile["purpose"], profile["service"]) == (
        "read",
        "customer_support",
        "gateway",
    )
    assert profile["principal"] == profile["api_key_id"] == KEY_ID
    assert KEY not in str(recorded)
    assert profile["subject"] == {
        "identifiers": [{"type": "user_id", "value": "mei"}],
        "profile_id": "p-mei",  # the profile the identifier resolved to
    }
    assert profile["record_count"] == 1 and len(profile["trace_id"]) == 32
    assert (state["operation"], state["purpose"]) == (
        "GET /v1/consent/{identifier_type}/{value}",
        "unspecified",
    )
    [shown] = state["subject"]["identifiers"]
    assert shown["type"] == "email" and shown["value"].startswith("hmac:")  # never in clear
    assert EMAIL.lower() not in str(recorded).lower()
    assert (update["action"], update["operation"], update["purpose"]) == (
        "update",
        "POST /v1/consent",
        "consent_management",
    )
    assert {i["type"] for i in update["subject"]["identifiers"]} == {"user_id", "email"}
    assert (history["api_key_id"], history["action"]) == (READER_ID, "read")

    def ids(**params: Any) -> list[str]:
        return [e["audit_event_id"] for e in entries(client, **params)]

    every = [e["audit_event_id"] for e in recorded]
    assert ids(identifier_type="email", value=EMAIL.upper()) == [every[1], every[2]]
    assert ids(identifier_type="user_id", value="mei") == [every[0], every[1], every[3]]
    assert ids(profile_id="p-mei") == [every[3]]
    assert ids(action="update") == [every[1]]
    assert ids(action=["update", "read"], purpose="customer_support") == [every[3]]
    assert ids(api_key_id=READER_ID) == [every[0]]
    assert ids(principal=KEY_ID, identifier_type="user_id", value="mei") == [every[1], every[3]]
    assert ids(start=state["occurred_at"]) == every[:3]  # inclusive
    assert ids(end=state["occurred_at"]) == every[3:]  # exclusive
    assert ids(page_size=1) == every  # paged one by one, nothing lost or repeated
    first = ok(client.get("/v1/audit-log", params={"page_size": 3}, headers=AUTH))
    assert len(first["entries"]) == 3 and first["next_cursor"]
    # Another workspace has its own log.
    assert ok(client.get("/v1/audit-log", headers={"X-API-Key": OTHER_KEY}))["entries"] == []


def test_bad_audit_log_queries_name_the_parameter(client: TestClient) -> None:
    def refused(*fields: str, **params: Any) -> None:
        response = client.get("/v1/audit-log", params=params, headers=AUTH)
        assert_error(response, 422, "invalid_argument", *fields)

    refused("value", identifier_type="user_id")
    refused("identifier_type", value="mei")
    refused("identifier_type", identifier_type="fax", value="1")
    refused("value", identifier_type="email", value="not-an-email")
    refused("purpose", purpose="Not A Purpose")
    refused("action[0]", action="delete")
    refused("start", start="2026-05-01T12:00:00")  # no offset
    refused("end", start="2026-05-02T00:00:00Z", end="2026-05-01T00:00:00Z")
    refused("cursor", cursor="not-a-cursor")
    refused("page_size", page_size=501)


def test_data_subject_bundle_reads_and_erasures_are_recorded(client: TestClient) -> None:
    ok(
        client.post(
            "/v1/consent",
            json={
                "subject": {"user_id": "mei"},
                "choices": [{"purpose": "analytics", "status": "granted"}],
                "policy_version": "2026-05",
                "source": "signup",
            },
            headers=AUTH,
        )
    )
    ok(
        client.post(
            "/v1/privacy/exports",
            json={"request_id": "exp-1", "subject": {"user_id": "mei"}},
            headers=AUTH,
        ),
        202,
    )
    deadline = time.monotonic() + 20
    while ok(client.get("/v1/privacy/requests/exp-1", headers=AUTH))["state"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    bundle = client.get(
        "/v1/privacy/requests/exp-1",
        params={"include_bundle": "true"},
        headers={**AUTH, "X-Precis-Purpose": "access_request"},
    )
    assert ok(bundle)["bundle"] is not None

    # Mei's accesses: the consent recorded, the consent service producing the export bundle,
    # and the bundle leaving through the gateway (linked to Mei through the request).
    about_mei = wait_for(client, 3, identifier_type="user_id", value="mei")
    read_out, produced, recorded = about_mei
    assert (read_out["action"], read_out["operation"], read_out["purpose"]) == (
        "export",
        "GET /v1/privacy/requests/{request_id}",
        "access_request",
    )
    assert read_out["resource"] == "data_subject_request:exp-1"
    assert read_out["api_key_id"] == KEY_ID
    assert (produced["action"], produced["service"], produced["purpose"]) == (
        "export",
        "consent",
        "data_subject_request",
    )
    assert produced["principal"] == KEY_ID  # the requester
    assert recorded["action"] == "update"

    erasure = ok(
        client.post("/v1/privacy/erasures", json={"subject": {"user_id": "mei"}}, headers=AUTH),
        202,
    )
    erased = wait_for(client, 2, action="erase")
    assert {(e["service"], e["resource"], e["purpose"]) for e in erased} == {
        ("gateway", f"data_subject_request:{erasure['request_id']}", "data_subject_request"),
        ("consent", f"data_subject_request:{erasure['request_id']}", "data_subject_request"),
    }
    assert {e["principal"] for e in erased} == {KEY_ID}
    # The trail survives the erasure; the link to Mei does not.
    assert entries(client, identifier_type="user_id", value="mei") == []
    trail = entries(client)
    assert len(trail) == 5
    assert all(e["subject"] is None for e in trail)


def test_a_request_succeeds_while_consent_is_down_and_its_access_is_recorded_later(
    make_client: MakeClient,
    profiles: ProfileServer,
    database_url_factory: Callable[[str], str],
    tmp_path: Path,
    provider: TracerProvider,
) -> None:
    profiles.servicer.add(WORKSPACE, MEI, profile_pb2.Profile(profile_id="p-mei"))
    port = free_port()
    client = make_client(gateway_consent_target=f"127.0.0.1:{port}", **FAST)
    batcher: audit.AuditBatcher = client.app.state.audit  # type: ignore[attr-defined]

    response = client.get("/v1/profiles/user_id/mei", headers=AUTH)
    assert ok(response)["profile_id"] == "p-mei"  # served without the audit log
    deadline = time.monotonic() + 20
    while batcher.failed_attempts < 2:  # tried, failed, and is trying again
        assert time.monotonic() < deadline, "the batcher never tried to send"
        time.sleep(0.02)
    assert batcher.pending == 1 and batcher.sent == 0

    consent_service = start_consent(database_url_factory("consent"), tmp_path, provider, port)
    try:
        deadline = time.monotonic() + 30  # the channel reconnects with a backoff of its own
        while batcher.sent < 1:
            assert time.monotonic() < deadline, "not recorded once consent was back"
            time.sleep(0.05)
        assert (batcher.pending, batcher.sent, batcher.dropped) == (0, 1, 0)
        [entry] = entries(client)
        assert (entry["operation"], entry["api_key_id"]) == (f"GET {PROFILE}", KEY_ID)
    finally:
        consent_service.stop(0)


# ---- the route table ------------------------------------------------------------------------


def test_every_route_that_names_a_person_is_audited(make_client: MakeClient) -> None:
    app = make_client().app
    assert isinstance(app, FastAPI)
    routes = {
        (method, re.sub(r"\{(\w+):\w+\}", r"{\1}", str(context.path)))  # the template as matched
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.original_route.methods
    }
    assert ("GET", PROFILE) in routes
    assert set(audit.AUDITED_ROUTES) <= routes, set(audit.AUDITED_ROUTES) - routes
    naming_a_person = {
        (method, path)
        for method, path in routes
        if "{identifier_type}" in path or "{profile_id}" in path
    }
    assert naming_a_person <= set(audit.AUDITED_ROUTES), naming_a_person - set(audit.AUDITED_ROUTES)
    # The REST action names are the contract's.
    assert list(get_args(AuditActionName)) == [
        n.removeprefix("AUDIT_ACTION_").lower() for n, v in pb.AuditAction.items() if v
    ]
    assert set(AUDIT_ACTIONS.values()) == set(get_args(AuditActionName))


def test_openapi_documents_the_purpose_header_and_the_audit_log(make_client: MakeClient) -> None:
    spec = make_client().get("/openapi.json").json()
    profile = spec["paths"][PROFILE]["get"]
    assert "X-Precis-Purpose" in [p["name"] for p in profile["parameters"]]
    query = spec["paths"]["/v1/audit-log"]["get"]
    assert query["operationId"] == "queryAuditLog"
    names = {p["name"] for p in query["parameters"]}
    assert {"identifier_type", "value", "profile_id", "principal", "api_key_id"} <= names
    assert {"action", "purpose", "start", "end", "page_size", "cursor"} <= names


# ---- the batcher, without a network -----------------------------------------------------------


class _Failure(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name


class FakeConsent:
    """RecordAuditEvents as a function: unavailable while `down`, refusing events whose
    operation is "bad"."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.batches: list[tuple[str, list[str]]] = []

    def __call__(self, workspace: str, events: Sequence[pb.AuditEvent], deadline: float) -> None:
        if self.down.is_set():
            raise _Failure(grpc.StatusCode.UNAVAILABLE)
        if any(e.operation == "bad" for e in events):
            raise _Failure(grpc.StatusCode.INVALID_ARGUMENT)
        self.batches.append((workspace, [e.audit_event_id for e in events]))

    def delivered(self) -> list[str]:
        return [i for _, ids in self.batches for i in ids]


def make_batcher(consent: FakeConsent, **overrides: Any) -> audit.AuditBatcher:
    options: dict[str, Any] = {
        "batch_size": 2,
        "flush_interval": 0.01,
        "max_pending": 100,
        "max_backoff": 0.05,
        "deadline": 1.0,
        **overrides,
    }
    return audit.AuditBatcher(consent, **options)


def access(n: int, operation: str = "GET /v1/profiles") -> pb.AuditEvent:
    return pb.AuditEvent(audit_event_id=f"e{n}", operation=operation)


def until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_the_queue_is_bounded_and_a_full_queue_drops_instead_of_blocking(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consent = FakeConsent()
    consent.down.set()
    batcher = make_batcher(consent, max_pending=3)
    accepted = [batcher.submit("ws", access(n)) for n in range(5)]
    assert accepted == [True, True, True, False, False]
    assert (batcher.pending, batcher.dropped) == (3, 2)
    assert "dropped" in caplog.text  # loudly
    batcher.start()
    until(lambda: batcher.failed_attempts >= 3, "no retries while consent is down")
    assert consent.delivered() == []
    consent.down.clear()
    until(lambda: batcher.sent == 3, "not delivered once consent was back")
    assert consent.delivered() == ["e0", "e1", "e2"]  # in order, none twice
    batcher.close(5)
    assert batcher.dropped == 2


def test_batches_hold_one_workspace_and_refused_events_are_isolated() -> None:
    consent = FakeConsent()
    batcher = make_batcher(consent, batch_size=3)
    for n in range(4):
        batcher.submit("ws-a", access(n, "bad" if n == 1 else "GET /v1/profiles"))
        batcher.submit("ws-b", access(10 + n))
    batcher.start()
    until(lambda: batcher.sent == 7, "not everything deliverable was delivered")
    assert all(len(ids) <= 3 for _, ids in consent.batches)
    by_workspace = {
        w: [i for x, ids in consent.batches if x == w for i in ids] for w in ("ws-a", "ws-b")
    }
    assert by_workspace == {"ws-a": ["e0", "e2", "e3"], "ws-b": ["e10", "e11", "e12", "e13"]}
    assert batcher.dropped == 1  # only the refused one
    batcher.close(5)


def test_shutdown_flushes_what_waits_and_counts_what_it_cannot_send() -> None:
    consent = FakeConsent()
    batcher = make_batcher(consent, batch_size=50, flush_interval=60)  # would wait a minute
    batcher.start()
    for n in range(3):
        batcher.submit("ws", access(n))
    batcher.close(5)
    assert consent.delivered() == ["e0", "e1", "e2"]
    assert not batcher.submit("ws", access(9))  # closed: nothing more is taken

    away = FakeConsent()
    away.down.set()
    stranded = make_batcher(away, batch_size=50, flush_interval=60)
    stranded.start()
    stranded.submit("ws", access(1))
    stranded.close(5)
    assert (stranded.pending, stranded.dropped, stranded.sent) == (0, 1, 0)
