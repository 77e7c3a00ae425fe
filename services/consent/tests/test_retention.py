"""Retention policies per workspace and data kind, applied by the consent service's job in every
service that holds the data: ingestion, profile and consent, real gRPC, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from consent_support import WS, record, subject
from sqlalchemy import select, update
from test_dsr import Suite, free_port, start_suite

from precis.common.v1 import privacy_pb2_grpc
from precis.consent.v1 import consent_pb2 as pb
from precis.ingestion.v1 import ingestion_pb2
from precis_common.grpc_client import PRINCIPAL_METADATA_KEY
from precis_consent.retention import Retention
from precis_consent.store import dsr_requests
from precis_ingestion.store import events
from precis_profile.store import profile_events, profiles

NOW = datetime.now(UTC)
OTHER = (("x-precis-workspace", "brand-b"),)
ADMIN = (*WS, (PRINCIPAL_METADATA_KEY, "key:ad0001a0"))
RAW, INACTIVE, LEDGER, AUDIT, BUNDLES = (
    pb.DATA_KIND_RAW_EVENTS,
    pb.DATA_KIND_INACTIVE_PROFILES,
    pb.DATA_KIND_CONSENT_LEDGER,
    pb.DATA_KIND_AUDIT_LOG,
    pb.DATA_KIND_EXPORT_BUNDLES,
)


@pytest.fixture
def suite(database_url_factory: Any, tmp_path: Path) -> Iterator[Suite]:
    made = start_suite(database_url_factory, tmp_path)
    yield made
    for app in (made.consent, made.profile, made.ingestion):
        app.stop(0)


def view(uid: str, n: int, days_ago: float) -> ingestion_pb2.Event:
    event = ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event="Product Viewed",
        message_id=f"{uid}-{n}",
        user_id=uid,
        properties_json=orjson.dumps({"sku": f"sku-{n}"}),
    )
    event.timestamp.FromDatetime(NOW - timedelta(days=days_ago))
    return event


def set_policy(suite: Suite, kind: int, days: int, metadata: Any = ADMIN) -> pb.RetentionPolicy:
    return suite.stub.SetRetentionPolicy(
        pb.SetRetentionPolicyRequest(
            policy=pb.RetentionPolicy(data_kind=kind, retention_days=days)  # type: ignore[arg-type]
        ),
        metadata=metadata,
    ).policy


def count(database: Any, table: Any, **where: str) -> int:
    with database.read() as session:
        query = select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return len(session.execute(query).all())


def test_policies_have_built_in_defaults_and_refuse_bad_values(suite: Suite) -> None:
    listed = suite.stub.ListRetentionPolicies(pb.ListRetentionPoliciesRequest(), metadata=WS)
    days = {p.data_kind: (p.retention_days, p.is_default) for p in listed.policies}
    assert len(days) == 9
    assert days[BUNDLES] == (30, True)
    assert days[RAW] == days[INACTIVE] == (0, True)  # kept until the workspace decides

    stored = set_policy(suite, RAW, 30)
    assert (stored.retention_days, stored.is_default, stored.updated_by) == (
        30,
        False,
        "key:ad0001a0",
    )
    assert stored.action == pb.RETENTION_ACTION_DELETE
    got = suite.stub.GetRetentionPolicy(pb.GetRetentionPolicyRequest(data_kind=RAW), metadata=WS)
    assert got.policy.retention_days == 30
    # Per workspace: brand-b still has the built-in policy.
    other = suite.stub.GetRetentionPolicy(
        pb.GetRetentionPolicyRequest(data_kind=RAW), metadata=OTHER
    )
    assert (other.policy.retention_days, other.policy.is_default) == (0, True)

    def refused(policy: pb.RetentionPolicy) -> str:
        with pytest.raises(grpc.RpcError) as err:
            suite.stub.SetRetentionPolicy(pb.SetRetentionPolicyRequest(policy=policy), metadata=WS)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return err.value.details() or ""

    assert "policy.data_kind" in refused(pb.RetentionPolicy(retention_days=3))
    assert "policy.retention_days" in refused(pb.RetentionPolicy(data_kind=RAW, retention_days=-1))
    assert "36500" in refused(pb.RetentionPolicy(data_kind=RAW, retention_days=40_000))
    assert "365" in refused(pb.RetentionPolicy(data_kind=LEDGER, retention_days=30))
    assert "90" in refused(pb.RetentionPolicy(data_kind=AUDIT, retention_days=7))
    anonymize = pb.RetentionPolicy(
        data_kind=RAW, retention_days=30, action=pb.RETENTION_ACTION_ANONYMIZE
    )
    assert "policy.action" in refused(anonymize)
    with pytest.raises(grpc.RpcError) as err:
        suite.stub.GetRetentionPolicy(pb.GetRetentionPolicyRequest(), metadata=WS)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_old_events_and_inactive_profiles_go_in_every_service(suite: Suite) -> None:
    # "old" was last active 100 days ago; "fresh" 100 days ago and today.
    suite.send([view("old", n, 100 + n) for n in range(3)])
    suite.send([view("fresh", 1, 100), view("fresh", 2, 0)])
    suite.events.Batch(
        ingestion_pb2.BatchRequest(events=[view("elsewhere", 1, 400)]), metadata=OTHER
    )
    assert count(suite.ingestion.database, events, workspace_id="brand-a") == 5
    set_policy(suite, RAW, 30)
    set_policy(suite, INACTIVE, 60)

    applied = suite.stub.ApplyRetentionPolicies(pb.ApplyRetentionPoliciesRequest(), metadata=ADMIN)
    outcomes = {
        (o.data_kind, o.service): {e.table: e.rows for e in o.erased} for o in applied.outcomes
    }
    assert all(not o.error for o in applied.outcomes)
    assert outcomes[(RAW, "ingestion")] == {"events": 4}
    assert outcomes[(RAW, "profile")] == {"profile_events": 4}
    assert outcomes[(INACTIVE, "profile")]["profiles"] == 1
    assert (INACTIVE, "ingestion") not in outcomes  # ingestion holds no profiles

    with suite.ingestion.database.read() as session:
        left = session.execute(
            select(events.c.workspace_id, events.c.user_id).order_by(events.c.seq)
        ).all()
    assert [tuple(r) for r in left] == [("brand-a", "fresh"), ("brand-b", "elsewhere")]
    with suite.profile.database.read() as session:
        live = session.execute(
            select(profiles.c.profile_id).where(profiles.c.workspace_id == "brand-a")
        ).all()
        copies = session.execute(
            select(profile_events.c.message_id).where(profile_events.c.workspace_id == "brand-a")
        ).scalars()
        assert sorted(copies) == ["fresh-2"]
    assert len(live) == 1
    fresh = suite.profile.store.get("brand-a", "user_id", "fresh")
    assert fresh.row.event_count == 2  # aggregates counted before the cutoff are kept

    # The scheduled run finds nothing more, and says who enforces what.
    suite.consent.retention.run_once()
    listed = suite.stub.ListRetentionPolicies(pb.ListRetentionPoliciesRequest(), metadata=WS)
    by_kind = {p.data_kind: p for p in listed.policies}
    assert list(by_kind[RAW].enforced_by) == ["ingestion", "profile"]
    assert list(by_kind[INACTIVE].enforced_by) == ["profile"]
    assert by_kind[RAW].HasField("last_applied_at")
    assert count(suite.ingestion.database, events, workspace_id="brand-a") == 1
    assert count(suite.ingestion.database, events, workspace_id="brand-b") == 1


def test_the_ledger_keeps_what_is_in_force_and_proof_for_a_year(suite: Suite) -> None:
    who = subject(user_id="mei")
    email = pb.PURPOSE_MARKETING_EMAIL
    for days_ago, status in ((800, pb.CONSENT_STATUS_GRANTED), (500, pb.CONSENT_STATUS_WITHDRAWN)):
        suite.stub.RecordConsent(
            record(who, (email, status), at=NOW - timedelta(days=days_ago)), metadata=WS
        )
    suite.stub.RecordConsent(
        record(who, (pb.PURPOSE_MARKETING_SMS, pb.CONSENT_STATUS_GRANTED), at=NOW), metadata=WS
    )
    set_policy(suite, LEDGER, 365)
    applied = suite.stub.ApplyRetentionPolicies(
        pb.ApplyRetentionPoliciesRequest(data_kind=LEDGER), metadata=ADMIN
    )
    [mine] = [o for o in applied.outcomes if o.service == "consent"]
    assert {e.table: e.rows for e in mine.erased}["consent_entries"] == 1
    history = suite.stub.ListConsentHistory(
        pb.ListConsentHistoryRequest(subject=who), metadata=WS
    ).entries
    # The 800-day grant was superseded: gone. The 500-day withdrawal is in force: kept.
    assert sorted((h.purpose, h.status) for h in history) == [
        (email, pb.CONSENT_STATUS_WITHDRAWN),
        (pb.PURPOSE_MARKETING_SMS, pb.CONSENT_STATUS_GRANTED),
    ]
    state = suite.stub.CheckConsent(
        pb.CheckConsentRequest(subject=who, purposes=[email]), metadata=WS
    )
    assert state.decisions[0].allowed is False


def test_old_export_bundles_go_under_the_built_in_period(suite: Suite) -> None:
    suite.send([view("mei", 1, 1)])
    suite.stub.CreateExportRequest(
        pb.CreateExportRequestRequest(request_id="exp-old", subject=subject(user_id="mei")),
        metadata=WS,
    )
    done = suite.run_until_done("exp-old")
    assert done.bundle_json
    suite.consent.retention.run_once()
    assert count(suite.consent.database, dsr_requests) == 1  # 30 days have not passed
    with suite.consent.database.write() as session:
        session.execute(update(dsr_requests).values(completed_at=NOW - timedelta(days=31)))
    outcomes = suite.consent.retention.run_once()
    assert [o.erased for o in outcomes if o.data_kind == "export_bundles"] == [
        {"dsr_requests.bundle": 1}
    ]
    again = suite.stub.GetDataSubjectRequest(
        pb.GetDataSubjectRequestRequest(request_id="exp-old", include_bundle=True), metadata=WS
    ).request
    assert again.state == pb.DATA_SUBJECT_REQUEST_STATE_COMPLETED and not again.bundle_json


def test_old_audit_entries_go_after_their_period(suite: Suite) -> None:
    old = pb.AuditEvent(
        audit_event_id="a-old",
        principal="key:12345678",
        service="gateway",
        operation="GET /v1/profiles/{profile_id}",
        action=pb.AUDIT_ACTION_READ,
        purpose="customer_support",
        subject=subject(user_id="mei"),
        record_count=1,
    )
    old.occurred_at.FromDatetime(NOW - timedelta(days=120))
    new = pb.AuditEvent()
    new.CopyFrom(old)
    new.audit_event_id = "a-new"
    new.occurred_at.FromDatetime(NOW)
    suite.stub.RecordAuditEvents(pb.RecordAuditEventsRequest(events=[old, new]), metadata=WS)
    set_policy(suite, AUDIT, 90)
    outcomes = suite.consent.retention.apply_workspace("brand-a", ["audit_log"])
    assert [o.erased for o in outcomes] == [{"audit_log": 1}]
    left = suite.stub.QueryAuditLog(pb.QueryAuditLogRequest(), metadata=WS).events
    assert [e.audit_event_id for e in left if e.service == "gateway"] == ["a-new"]


def test_a_service_that_is_down_is_reported_and_retried_on_the_next_run(suite: Suite) -> None:
    suite.send([view("old", 1, 100)])
    set_policy(suite, RAW, 30)
    channel = grpc.insecure_channel(f"127.0.0.1:{free_port()}")  # nobody listens
    retention = Retention(
        suite.consent.database,
        suite.consent.audit_log,
        {
            "ingestion": privacy_pb2_grpc.PrivacyServiceStub(
                grpc.insecure_channel(f"127.0.0.1:{suite.ingestion.port}")
            ),
            "profile": privacy_pb2_grpc.PrivacyServiceStub(channel),
        },
        deadline_s=2,
    )
    outcomes = {o.service: o for o in retention.apply_workspace("brand-a", ["raw_events"])}
    assert outcomes["ingestion"].erased == {"events": 1}
    assert outcomes["profile"].error.startswith("UNAVAILABLE")
    policy = suite.stub.GetRetentionPolicy(pb.GetRetentionPolicyRequest(data_kind=RAW), metadata=WS)
    assert list(policy.policy.enforced_by) == ["ingestion"]
    # The real suite's run reaches the profile service too.
    suite.consent.retention.apply_workspace("brand-a", ["raw_events"])
    assert count(suite.profile.database, profile_events, workspace_id="brand-a") == 0
