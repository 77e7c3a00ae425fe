"""Data-subject requests across the real ingestion, profile and consent services (in process, on
SQLite and PostgreSQL): export bundles, erasure with receipts and suppression, proven by scanning
every table of every service, retries while a service is down, idempotency."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import orjson
import pytest
from consent_support import WS, every_row, record, subject

from precis.common.v1 import types_pb2 as T
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis_common.db import Database
from precis_common.grpc_client import PRINCIPAL_METADATA_KEY
from precis_common.identifiers import IdentifierKind, PiiHasher
from precis_common.settings import CommonSettings
from precis_consent.app import ConsentApp
from precis_consent.app import build as build_consent
from precis_consent.app import start as start_consent
from precis_consent.settings import ConsentSettings
from precis_ingestion.app import IngestionApp
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_profile.app import ProfileApp
from precis_profile.app import build as build_profile
from precis_profile.app import start as start_profile
from precis_profile.settings import ProfileSettings

EMAIL = "Mei.Lin@Example.com"
PHONE = "+86 138 0013 8000"
COMPLETED = pb.DATA_SUBJECT_REQUEST_STATE_COMPLETED
OFFICER = "key:0ff1cer0"
AS_OFFICER = (*WS, (PRINCIPAL_METADATA_KEY, OFFICER))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Suite:
    ingestion: IngestionApp
    profile: ProfileApp
    consent: ConsentApp
    events: ingestion_pb2_grpc.IngestionServiceStub
    stub: consent_pb2_grpc.ConsentServiceStub

    def send(self, events: list[ingestion_pb2.Event]) -> None:
        for start in range(0, len(events), 500):
            self.events.Batch(
                ingestion_pb2.BatchRequest(events=events[start : start + 500]), metadata=WS
            )
        while self.profile.consumer.run_once():
            pass

    def run_until_done(self, request_id: str, timeout: float = 60.0) -> pb.DataSubjectRequest:
        deadline = time.monotonic() + timeout
        while True:
            self.consent.requests.run_once()
            found = self.stub.GetDataSubjectRequest(
                pb.GetDataSubjectRequestRequest(request_id=request_id, include_bundle=True),
                metadata=WS,
            ).request
            if found.state == COMPLETED or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def databases(self) -> dict[str, Database]:
        return {
            "ingestion": self.ingestion.database,
            "profile": self.profile.database,
            "consent": self.consent.database,
        }


def start_suite(
    database_url_factory: Callable[[str], str], tmp_path: Path, ingestion_port: int = 0
) -> Suite:
    consent_port = free_port()
    ingestion = start_ingestion(
        build_ingestion(
            IngestionSettings(
                ingestion_database_url=database_url_factory("ingestion"),
                ingestion_grpc_port=ingestion_port,
                ingestion_consent_target=f"127.0.0.1:{consent_port}",
                state_dir=tmp_path,
            ),
            configure_logs=False,
        )
    )
    profile = start_profile(
        build_profile(
            ProfileSettings(
                profile_database_url=database_url_factory("profile"),
                profile_grpc_port=0,
                state_dir=tmp_path,
                profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
                profile_consume=False,
            ),
            configure_logs=False,
        )
    )
    consent = start_consent(
        build_consent(
            ConsentSettings(
                consent_database_url=database_url_factory("consent"),
                consent_grpc_port=consent_port,
                state_dir=tmp_path,
                consent_privacy_targets={
                    "ingestion": f"127.0.0.1:{ingestion.port}",
                    "profile": f"127.0.0.1:{profile.port}",
                },
                consent_dsr_interval_seconds=0,  # the test drives the worker
                consent_retention_interval_seconds=0,
            ),
            configure_logs=False,
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{consent.port}")
    return Suite(
        ingestion,
        profile,
        consent,
        ingestion_pb2_grpc.IngestionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ingestion.port}")
        ),
        consent_pb2_grpc.ConsentServiceStub(channel),
    )


@pytest.fixture
def suite(database_url_factory: Callable[[str], str], tmp_path: Path) -> Iterator[Suite]:
    made = start_suite(database_url_factory, tmp_path)
    yield made
    for app in (made.consent, made.profile, made.ingestion):
        app.stop(0)


def identify(uid: str, anon: str, email: str = "", phone: str = "") -> ingestion_pb2.Event:
    traits: dict[str, str] = {"name": "Mei"}
    if email:
        traits["email"] = email
    if phone:
        traits["phone"] = phone
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
        user_id=uid,
        anonymous_id=anon,
        traits_json=orjson.dumps(traits),
    )


def track(uid: str, anon: str, n: int) -> ingestion_pb2.Event:
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event="Product Viewed",
        message_id=f"{uid or anon}-view-{n}",
        user_id=uid,
        anonymous_id=anon,
        properties_json=orjson.dumps({"sku": f"sku-{n % 7}"}),
    )


def hashed(kind: IdentifierKind, value: str) -> str:
    hasher = PiiHasher(CommonSettings().pii_secret.get_secret_value())
    return hasher.stored_value("brand-a", kind, value, field="x")


def test_export_then_erase_a_subject_everywhere(suite: Suite) -> None:
    # Mei browses anonymously on two devices, then identifies on one of them; 1,000 events.
    events = [track("", "anon-mei-1", n) for n in range(600)]
    events += [track("", "anon-mei-2", n) for n in range(200)]
    events.append(identify("mei", "anon-mei-1", email=EMAIL, phone=PHONE))
    events.append(identify("mei", "anon-mei-2"))
    events += [track("mei", "", n) for n in range(198)]
    events += [identify("other", "anon-other", email="other@example.com")]
    events += [track("other", "", n) for n in range(5)]
    suite.send(events)
    suite.stub.RecordConsent(
        record(subject(email=EMAIL), (pb.PURPOSE_MARKETING_EMAIL, pb.CONSENT_STATUS_GRANTED)),
        metadata=WS,
    )
    profile_id = suite.profile.store.get("brand-a", "user_id", "mei").row.profile_id

    # Export, asked by email only: the subject is expanded through the profile service.
    opened = suite.stub.CreateExportRequest(
        pb.CreateExportRequestRequest(subject=subject(email=EMAIL), request_id="exp-1"),
        metadata=AS_OFFICER,
    ).request
    assert opened.state == pb.DATA_SUBJECT_REQUEST_STATE_PENDING
    assert [t.service for t in opened.tasks] == ["consent", "ingestion", "profile"]
    started = time.perf_counter()
    exported = suite.run_until_done("exp-1")
    export_seconds = time.perf_counter() - started
    assert exported.state == COMPLETED, exported
    bundle = orjson.loads(exported.bundle_json)
    assert len(bundle["ingestion"]["events"]) == 1000
    assert profile_id in [p["profile_id"] for p in bundle["profile"]["profiles"]]
    assert len(bundle["profile"]["events"]) == 1000
    assert bundle["consent"]["state"]["marketing_email"]["allowed"] is True
    assert EMAIL.lower() not in exported.bundle_json.decode().lower()  # hashed everywhere
    assert all(t.export_bytes > 0 for t in exported.tasks)
    # The export is in the audit log, found by any of Mei's identifiers (it was expanded).
    [export_audit] = suite.stub.QueryAuditLog(
        pb.QueryAuditLogRequest(subject=subject(user_id="mei")), metadata=WS
    ).events
    assert (export_audit.action, export_audit.principal, export_audit.purpose) == (
        pb.AUDIT_ACTION_EXPORT,
        OFFICER,
        "data_subject_request",
    )
    assert (export_audit.service, export_audit.resource) == (
        "consent",
        "data_subject_request:exp-1",
    )
    by_profile = suite.stub.QueryAuditLog(
        pb.QueryAuditLogRequest(subject=subject(profile_id=profile_id)), metadata=WS
    ).events
    assert [e.audit_event_id for e in by_profile] == [export_audit.audit_event_id]
    # And a support agent read Mei's profile (as the gateway records it).
    read = pb.AuditEvent(
        audit_event_id="support-read-1",
        principal="key:5upp0rt1",
        api_key_id="key:5upp0rt1",
        service="gateway",
        operation="GET /v1/profiles/{identifier_type}/{value}",
        action=pb.AUDIT_ACTION_READ,
        purpose="customer_support",
        subject=subject(phone=PHONE),
        record_count=1,
    )
    read.occurred_at.GetCurrentTime()
    suite.stub.RecordAuditEvents(pb.RecordAuditEventsRequest(events=[read]), metadata=WS)

    # Erasure, asked by phone only.
    started = time.perf_counter()
    suite.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=subject(phone=PHONE), request_id="era-1"),
        metadata=AS_OFFICER,
    )
    erased = suite.run_until_done("era-1")
    erase_seconds = time.perf_counter() - started
    assert erased.state == COMPLETED and erased.suppressed, erased
    receipts = {t.service: {e.table: e.rows for e in t.erased} for t in erased.tasks}
    assert receipts["ingestion"]["events"] == 1000
    assert receipts["consent"]["consent_entries"] == 1
    assert sum(receipts["profile"].values()) > 1000
    assert len(erased.subject.identifiers) == 0  # the request forgot who it was about

    # Nothing about Mei is left in any table of any service.
    needles = [
        "mei",
        "anon-mei-1",
        "anon-mei-2",
        profile_id,
        hashed(IdentifierKind.EMAIL, EMAIL),
        hashed(IdentifierKind.PHONE, PHONE),
        EMAIL.lower(),
    ]
    for service, database in suite.databases().items():
        for table, rows in every_row(database).items():
            text = repr(rows)
            for needle in needles:
                # "mei" alone would match other words; look for it as a quoted value.
                probe = f"'{needle}'" if needle == "mei" else needle
                assert probe not in text, f"{service}.{table} still holds {needle!r}"
    # The audit trail survives without the personal link: the read, the export and the erasure
    # are still there, and none names Mei.
    trail = suite.stub.QueryAuditLog(pb.QueryAuditLogRequest(), metadata=WS).events
    assert [(e.action, e.principal, e.resource) for e in trail] == [
        (pb.AUDIT_ACTION_ERASE, OFFICER, "data_subject_request:era-1"),
        (pb.AUDIT_ACTION_READ, "key:5upp0rt1", ""),
        (pb.AUDIT_ACTION_EXPORT, OFFICER, "data_subject_request:exp-1"),
    ]
    assert not any(e.HasField("subject") for e in trail)
    assert receipts["consent"]["audit_log_subjects"] > 0
    # The other customer is untouched.
    other = suite.profile.store.get("brand-a", "user_id", "other")
    assert other.row.event_count == 6

    # Late events and replays are recognized: the identifiers are suppressed.
    flags = suite.stub.CheckSuppression(
        pb.CheckSuppressionRequest(
            identifiers=[
                T.Identifier(type=T.IDENTIFIER_TYPE_EMAIL, value=EMAIL.upper()),
                T.Identifier(type=T.IDENTIFIER_TYPE_ANONYMOUS_ID, value="anon-mei-2"),
                T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="other"),
            ]
        ),
        metadata=WS,
    ).suppressed
    assert list(flags) == [True, True, False]

    # Ingestion learned the suppression list from the consent_changes feed: Mei's identifiers
    # are refused at the door, anyone else's accepted.
    late = [
        identify("", "anon-mei-2"),
        identify("someone-new", "anon-new", email=EMAIL.lower()),
        identify("fresh", "anon-fresh"),
    ]
    deadline = time.monotonic() + 20
    while True:
        response = suite.events.Batch(ingestion_pb2.BatchRequest(events=late), metadata=WS)
        statuses = [r.status for r in response.results]
        if statuses[0] == ingestion_pb2.EVENT_STATUS_REJECTED or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert statuses == [
        ingestion_pb2.EVENT_STATUS_REJECTED,
        ingestion_pb2.EVENT_STATUS_REJECTED,
        ingestion_pb2.EVENT_STATUS_ACCEPTED,
    ], response
    assert [v.field for v in response.results[1].violations] == ["batch[1].traits.email"]

    # Repeating the request changes nothing and returns the same request.
    again = suite.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=subject(phone=PHONE), request_id="era-1"),
        metadata=WS,
    ).request
    assert again.state == COMPLETED and again.created_at == erased.created_at
    print(f"export {export_seconds:.2f}s, erasure {erase_seconds:.2f}s for 1,000 events")


def test_an_unknown_subject_completes_with_zero_rows(suite: Suite) -> None:
    suite.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=subject(user_id="nobody"), request_id="e0"),
        metadata=WS,
    )
    done = suite.run_until_done("e0")
    assert done.state == COMPLETED
    assert sum(e.rows for t in done.tasks for e in t.erased) == 0


def test_bad_requests_are_refused(suite: Suite) -> None:
    cases = [
        (pb.CreateErasureRequestRequest(), "subject.identifiers"),
        (
            pb.CreateErasureRequestRequest(subject=subject(email="not-an-email")),
            "subject.identifiers[0].value",
        ),
        (pb.CreateErasureRequestRequest(subject=subject(user_id="u"), note="x" * 1001), "note"),
    ]
    for request, field in cases:
        with pytest.raises(grpc.RpcError) as refused:
            suite.stub.CreateErasureRequest(request, metadata=WS)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in (refused.value.details() or "")
    suite.stub.CreateExportRequest(
        pb.CreateExportRequestRequest(subject=subject(user_id="u"), request_id="same"), metadata=WS
    )
    with pytest.raises(grpc.RpcError) as reused:
        suite.stub.CreateErasureRequest(
            pb.CreateErasureRequestRequest(subject=subject(user_id="u"), request_id="same"),
            metadata=WS,
        )
    assert reused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as missing:
        suite.stub.GetDataSubjectRequest(
            pb.GetDataSubjectRequestRequest(request_id="nope"), metadata=WS
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_service_down_leaves_the_request_pending_until_it_returns(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> None:
    port = free_port()
    suite = start_suite(database_url_factory, tmp_path, ingestion_port=port)
    try:
        suite.send([identify("gone", "anon-gone"), track("gone", "", 1)])
        ingestion_url = suite.ingestion.settings.ingestion_database_url
        suite.ingestion.stop(0)
        suite.stub.CreateErasureRequest(
            pb.CreateErasureRequestRequest(subject=subject(user_id="gone"), request_id="e1"),
            metadata=WS,
        )
        for _ in range(3):
            suite.consent.requests.run_once()
            time.sleep(0.2)
        waiting = suite.stub.GetDataSubjectRequest(
            pb.GetDataSubjectRequestRequest(request_id="e1"), metadata=WS
        ).request
        assert waiting.state == pb.DATA_SUBJECT_REQUEST_STATE_IN_PROGRESS
        tasks = {t.service: t for t in waiting.tasks}
        assert tasks["ingestion"].state == pb.DATA_SUBJECT_REQUEST_STATE_IN_PROGRESS
        assert tasks["ingestion"].attempts >= 1 and "UNAVAILABLE" in tasks["ingestion"].last_error
        assert tasks["profile"].state == COMPLETED and tasks["consent"].state == COMPLETED

        # The service returns on the same port with its data; the retry completes the request.
        suite.ingestion = start_ingestion(
            build_ingestion(
                IngestionSettings(
                    ingestion_database_url=ingestion_url,
                    ingestion_grpc_port=port,
                    state_dir=tmp_path,
                ),
                configure_logs=False,
            )
        )
        done = suite.run_until_done("e1", timeout=30)
        assert done.state == COMPLETED
        receipts = {t.service: {e.table: e.rows for e in t.erased} for t in done.tasks}
        assert receipts["ingestion"]["events"] == 2
    finally:
        for app in (suite.consent, suite.profile, suite.ingestion):
            app.stop(0)
