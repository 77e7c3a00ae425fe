"""The audit log of accesses to personal data over gRPC (SQLite and PostgreSQL): recording,
idempotency, validation naming the field, query filters, paging, retention purge, and erasure
that keeps the access but drops the link to the person."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from consent_support import WS, Consent, record, subject
from sqlalchemy import text

from precis.common.v1 import privacy_pb2
from precis.common.v1 import types_pb2 as T
from precis.consent.v1 import consent_pb2 as pb
from precis_common.identifiers import IdentifierKind, PiiHasher
from precis_common.settings import CommonSettings
from precis_consent.audit import AuditQuery

EMAIL = "Mei.Lin@Example.com"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEY_A, KEY_B = "key:0a1b2c3d", "key:9f8e7d6c"
READ, EXPORT, ERASE, UPDATE = (
    pb.AUDIT_ACTION_READ,
    pb.AUDIT_ACTION_EXPORT,
    pb.AUDIT_ACTION_ERASE,
    pb.AUDIT_ACTION_UPDATE,
)


def hashed(kind: IdentifierKind, value: str, workspace: str = "brand-a") -> str:
    hasher = PiiHasher(CommonSettings().pii_secret.get_secret_value())
    return hasher.stored_value(workspace, kind, value, field="x")


def event(
    audit_event_id: str,
    who: object = None,
    *,
    at: datetime = T0,
    action: int = READ,
    principal: str = KEY_A,
    api_key_id: str = KEY_A,
    purpose: str = "customer_support",
    resource: str = "",
    operation: str = "GET /v1/profiles/{identifier_type}/{value}",
) -> pb.AuditEvent:
    out = pb.AuditEvent(
        audit_event_id=audit_event_id,
        principal=principal,
        api_key_id=api_key_id,
        service="gateway",
        operation=operation,
        action=action,  # type: ignore[arg-type]
        purpose=purpose,
        resource=resource,
        record_count=1,
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
    )
    out.occurred_at.FromDatetime(at)
    if who is not None:
        out.subject.CopyFrom(who)  # type: ignore[arg-type]
    return out


def put(consent: Consent, *events: pb.AuditEvent, metadata: object = WS) -> tuple[int, int]:
    response = consent.stub.RecordAuditEvents(
        pb.RecordAuditEventsRequest(events=list(events)),
        metadata=metadata,  # type: ignore[arg-type]
    )
    return response.recorded, response.duplicates


def ids(consent: Consent, **filters: object) -> list[str]:
    """audit_event_ids matching, newest first, over every page."""
    found: list[str] = []
    token = ""
    while True:
        response = consent.stub.QueryAuditLog(
            pb.QueryAuditLogRequest(page_token=token, **filters),  # type: ignore[arg-type]
            metadata=WS,
        )
        found += [e.audit_event_id for e in response.events]
        token = response.next_page_token
        if not token:
            return found


def refused(call: object, field: str) -> None:
    with pytest.raises(grpc.RpcError) as failure:
        call()  # type: ignore[operator]
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (failure.value.details() or "").startswith(f"{field}:"), failure.value.details()


def test_an_access_is_recorded_once_and_names_the_subject_only_by_stored_keys(
    consent: Consent,
) -> None:
    mei = subject(user_id="mei", email=EMAIL, profile_id="p-1")
    assert put(consent, event("a-1", mei)) == (1, 0)
    # A client retrying the batch, and a repeat inside one batch, store nothing twice.
    assert put(consent, event("a-1", mei), event("a-2", mei), event("a-2", mei)) == (1, 2)
    rows = consent.rows()
    assert len(rows["audit_log"]) == 2
    assert {r[2:4] for r in rows["audit_log_subjects"]} == {
        ("user_id", "mei"),
        ("email", hashed(IdentifierKind.EMAIL, EMAIL)),
        ("profile_id", "p-1"),
    }
    assert EMAIL.lower() not in repr(rows).lower()  # email only as its keyed hash

    [shown] = consent.stub.QueryAuditLog(
        pb.QueryAuditLogRequest(api_key_id=KEY_A, page_size=1), metadata=WS
    ).events
    assert (shown.audit_event_id, shown.principal, shown.api_key_id) == ("a-2", KEY_A, KEY_A)
    assert (shown.service, shown.action, shown.purpose) == ("gateway", READ, "customer_support")
    assert shown.operation == "GET /v1/profiles/{identifier_type}/{value}"
    assert shown.occurred_at.ToDatetime(tzinfo=UTC) == T0
    assert (shown.record_count, shown.trace_id) == (1, "4bf92f3577b34da6a3ce929d0e0e4736")
    assert shown.subject.profile_id == "p-1"
    identifiers = {(i.type, i.value) for i in shown.subject.identifiers}
    assert (T.IDENTIFIER_TYPE_USER_ID, "mei") in identifiers
    [masked] = [v for t, v in identifiers if t == T.IDENTIFIER_TYPE_EMAIL]
    assert masked.startswith("hmac:") and EMAIL.lower() not in masked

    # Another workspace sees none of it.
    other = (("x-precis-workspace", "brand-b"),)
    assert not consent.stub.QueryAuditLog(pb.QueryAuditLogRequest(), metadata=other).events
    # The same id there is a different event.
    assert put(consent, event("a-1", mei), metadata=other) == (1, 0)


def test_bad_events_and_queries_are_refused_naming_the_field(consent: Consent) -> None:
    mei = subject(user_id="mei")

    def record_events(*events: pb.AuditEvent) -> object:
        return lambda: put(consent, *events)

    refused(record_events(), "events")
    refused(record_events(*[event(f"e{n}", mei) for n in range(501)]), "events")
    refused(record_events(event("", mei)), "events[0].audit_event_id")
    refused(record_events(event("ok", mei), event("x" * 129, mei)), "events[1].audit_event_id")
    no_time = event("t", mei)
    no_time.ClearField("occurred_at")
    refused(record_events(no_time), "events[0].occurred_at")
    future = datetime.now(UTC) + timedelta(hours=1)
    refused(record_events(event("t", mei, at=future)), "events[0].occurred_at")
    refused(record_events(event("p", mei, principal="")), "events[0].principal")
    refused(record_events(event("k", mei, api_key_id="k" * 65)), "events[0].api_key_id")
    refused(record_events(event("a", mei, action=0)), "events[0].action")
    for purpose in ("", "Customer Support", "x" * 65, "support;drop"):
        refused(record_events(event("u", mei, purpose=purpose)), "events[0].purpose")
    refused(record_events(event("n")), "events[0].subject")
    refused(
        record_events(event("m", subject(email="not-an-email"))),
        "events[0].subject.identifiers[0].value",
    )
    refused(record_events(event("r", resource="x" * 257)), "events[0].resource")
    bad_trace = event("tr", mei)
    bad_trace.trace_id = "not-a-trace"
    refused(record_events(bad_trace), "events[0].trace_id")
    negative = event("c", mei)
    negative.record_count = -1
    refused(record_events(negative), "events[0].record_count")
    assert consent.rows()["audit_log"] == []  # a refused batch stores nothing

    def query(**fields: object) -> object:
        return lambda: consent.stub.QueryAuditLog(
            pb.QueryAuditLogRequest(**fields),  # type: ignore[arg-type]
            metadata=WS,
        )

    refused(query(purpose="Not Valid"), "purpose")
    refused(query(actions=[READ, 0]), "actions[1]")
    refused(query(page_size=501), "page_size")
    refused(query(page_token="not-a-token"), "page_token")
    refused(query(subject=subject(phone="12")), "subject.identifiers[0].value")
    later = pb.QueryAuditLogRequest()
    later.start.FromDatetime(T0)
    later.end.FromDatetime(T0)
    refused(lambda: consent.stub.QueryAuditLog(later, metadata=WS), "end")


def test_filters_combine_and_match_any_identifier_of_the_subject(consent: Consent) -> None:
    mei = subject(user_id="mei", email=EMAIL)
    put(
        consent,
        event("read-email", subject(email=EMAIL.upper()), at=T0),
        event("read-user", subject(user_id="mei"), at=T0 + timedelta(minutes=1)),
        event("read-profile", subject(profile_id="p-mei"), at=T0 + timedelta(minutes=2)),
        event(
            "export-mei",
            mei,
            at=T0 + timedelta(minutes=3),
            action=EXPORT,
            principal=KEY_B,
            api_key_id=KEY_B,
            purpose="data_subject_request",
        ),
        event("update-zhou", subject(user_id="zhou"), at=T0 + timedelta(minutes=4), action=UPDATE),
        event("segment", resource="segment:seg_1", at=T0 + timedelta(minutes=5), action=EXPORT),
        event("erase", resource="data_subject_request:era-1", at=T0 + timedelta(minutes=6)),
    )
    everything = [
        "erase",
        "segment",
        "update-zhou",
        "export-mei",
        "read-profile",
        "read-user",
        "read-email",
    ]
    assert ids(consent) == everything  # newest first
    # Any identifier of the subject finds what was recorded under any of them.
    assert ids(consent, subject=subject(email=EMAIL)) == ["export-mei", "read-email"]
    assert ids(consent, subject=mei) == ["export-mei", "read-user", "read-email"]
    assert ids(consent, subject=subject(user_id="mei", profile_id="p-mei")) == [
        "export-mei",
        "read-profile",
        "read-user",
    ]
    assert ids(consent, principal=KEY_B) == ["export-mei"]
    assert ids(consent, api_key_id=KEY_A) == [e for e in everything if e != "export-mei"]
    assert ids(consent, actions=[EXPORT]) == ["segment", "export-mei"]
    assert ids(consent, actions=[EXPORT, UPDATE]) == ["segment", "update-zhou", "export-mei"]
    assert ids(consent, purpose="data_subject_request") == ["export-mei"]
    assert ids(consent, purpose="marketing_email") == []
    window = pb.QueryAuditLogRequest()
    window.start.FromDatetime(T0 + timedelta(minutes=1))  # inclusive
    window.end.FromDatetime(T0 + timedelta(minutes=3))  # exclusive
    assert ids(consent, start=window.start, end=window.end) == ["read-profile", "read-user"]
    # AND: each filter narrows the others.
    assert ids(consent, subject=mei, actions=[READ]) == ["read-user", "read-email"]
    assert ids(consent, subject=mei, actions=[READ], start=window.start) == ["read-user"]
    assert ids(consent, subject=mei, principal=KEY_B, actions=[READ]) == []


def test_pages_are_newest_first_without_gaps_or_repeats(consent: Consent) -> None:
    mei = subject(user_id="mei")
    # Several accesses in the same instant: ties are broken by id, pages still do not overlap.
    events = [event(f"e{n:02d}", mei, at=T0 + timedelta(seconds=n // 3)) for n in range(11)]
    put(consent, *events)
    expected = sorted((e.audit_event_id for e in events), key=lambda i: (int(i[1:]) // 3, i))
    pages = []
    token = ""
    while True:
        response = consent.stub.QueryAuditLog(
            pb.QueryAuditLogRequest(subject=mei, page_size=4, page_token=token), metadata=WS
        )
        pages.append([e.audit_event_id for e in response.events])
        token = response.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [4, 4, 3]
    assert [i for page in pages for i in page] == expected[::-1]


def test_retention_purges_accesses_before_a_cutoff_in_one_workspace(consent: Consent) -> None:
    mei = subject(user_id="mei", email=EMAIL)
    put(consent, *[event(f"old-{n}", mei, at=T0 - timedelta(days=n + 1)) for n in range(3)])
    put(consent, event("cutoff", mei, at=T0), event("new", mei, at=T0 + timedelta(days=1)))
    other = (("x-precis-workspace", "brand-b"),)
    put(consent, event("old-elsewhere", mei, at=T0 - timedelta(days=9)), metadata=other)
    audit_log = consent.app.audit_log

    assert audit_log.purge_before("brand-a", T0) == 3
    assert ids(consent) == ["new", "cutoff"]  # the cutoff itself is kept
    rows = consent.rows()
    assert {r[1] for r in rows["audit_log_subjects"] if r[0] == "brand-a"} == {"new", "cutoff"}
    assert [r[1] for r in rows["audit_log"] if r[0] == "brand-b"] == ["old-elsewhere"]
    assert audit_log.purge_before("brand-a", T0) == 0
    with pytest.raises(ValueError, match="timezone"):
        audit_log.purge_before("brand-a", T0.replace(tzinfo=None))


def test_erasure_keeps_the_access_but_not_who_it_was_about(consent: Consent) -> None:
    mei = subject(user_id="mei", email=EMAIL, profile_id="p-mei")
    put(
        consent,
        event("read-mei", subject(email=EMAIL), action=READ),
        event("update-mei", mei, action=UPDATE, at=T0 + timedelta(minutes=1)),
        event("read-zhou", subject(user_id="zhou"), at=T0 + timedelta(minutes=2)),
    )
    consent.stub.RecordConsent(
        record(mei, (pb.PURPOSE_MARKETING_EMAIL, pb.CONSENT_STATUS_GRANTED)), metadata=WS
    )
    receipt = consent.privacy.EraseSubject(
        privacy_pb2.EraseSubjectRequest(subject=mei), metadata=WS
    )
    assert {e.table: e.rows for e in receipt.erased}["audit_log_subjects"] == 4

    # Nothing in any table names Mei any more ...
    text_of_rows = repr(consent.rows())
    for needle in ("'mei'", "p-mei", hashed(IdentifierKind.EMAIL, EMAIL), EMAIL.lower()):
        assert needle not in text_of_rows, needle
    # ... but the accesses are still there: when, by whom, what and why.
    assert ids(consent) == ["read-zhou", "update-mei", "read-mei"]
    assert ids(consent, subject=mei) == []
    assert ids(consent, subject=subject(user_id="zhou")) == ["read-zhou"]
    kept = consent.stub.QueryAuditLog(
        pb.QueryAuditLogRequest(actions=[UPDATE]), metadata=WS
    ).events[0]
    assert (kept.principal, kept.purpose, kept.HasField("subject")) == (
        KEY_A,
        "customer_support",
        False,
    )


def test_an_access_reported_after_an_erasure_request_is_not_linked_to_the_person(
    consent: Consent,
) -> None:
    consent.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=subject(email=EMAIL), request_id="era-1"),
        metadata=WS,
    )
    # A gateway batch delayed by an outage arrives after the erasure request was accepted.
    assert put(consent, event("late", subject(email=EMAIL, user_id="zhou"))) == (1, 0)
    assert ids(consent, subject=subject(email=EMAIL)) == []
    assert ids(consent, subject=subject(user_id="zhou")) == ["late"]  # the other key stays
    assert hashed(IdentifierKind.EMAIL, EMAIL) not in repr(consent.rows()["audit_log_subjects"])


def test_a_subjects_accesses_are_found_through_the_index(consent: Consent) -> None:
    put(
        consent,
        *[
            event(f"e{n}", subject(user_id=f"u{n % 50}"), at=T0 + timedelta(seconds=n))
            for n in range(400)
        ],
    )
    query = AuditQuery(keys=(("user_id", "u7"),))
    statement = consent.app.audit_log.statement("brand-a", query)
    database = consent.app.database
    compiled = statement.compile(database.engine, compile_kwargs={"literal_binds": True})
    with database.engine.connect() as conn:
        if database.is_postgresql:
            conn.execute(text("ANALYZE audit_log"))
            conn.execute(text("ANALYZE audit_log_subjects"))
            plan = " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {compiled}")))
        else:
            plan = " ".join(
                str(r[-1]) for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
    assert "ix_audit_log_subjects_key" in plan, plan
    assert len(ids(consent, subject=subject(user_id="u7"))) == 8


def test_concurrent_retries_of_one_batch_store_each_access_once(consent: Consent) -> None:
    batch = [event(f"c{n}", subject(user_id=f"u{n}")) for n in range(50)]
    results: list[tuple[int, int]] = []

    def send() -> None:
        results.append(put(consent, *batch))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r for r, _ in results) == 50
    assert sum(d for _, d in results) == 150
    assert len(consent.rows()["audit_log"]) == 50
