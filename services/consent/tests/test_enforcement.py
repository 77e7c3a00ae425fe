"""Analytics consent enforced by ingestion, per workspace policy (drop, minimize, keep), against
the real consent service (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import orjson
import pytest
from consent_support import Consent, record, subject
from sqlalchemy import select

from precis.consent.v1 import consent_pb2 as pb
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis_ingestion.app import IngestionApp, build, start
from precis_ingestion.settings import IngestionSettings
from precis_ingestion.store import events

ANALYTICS, GRANTED, DENIED = (
    pb.PURPOSE_ANALYTICS,
    pb.CONSENT_STATUS_GRANTED,
    pb.CONSENT_STATUS_DENIED,
)
ACCEPTED = ingestion_pb2.EVENT_STATUS_ACCEPTED
REJECTED = ingestion_pb2.EVENT_STATUS_REJECTED


def ws(workspace: str) -> tuple[tuple[str, str], ...]:
    return (("x-precis-workspace", workspace),)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ingestion(
    database_url: str, tmp_path: Path, consent_target: str, policy: dict[str, str], port: int = 0
) -> IngestionApp:
    return start(
        build(
            IngestionSettings(
                ingestion_database_url=database_url,
                ingestion_grpc_port=port,
                ingestion_consent_target=consent_target,
                ingestion_analytics_policy=policy,  # type: ignore[arg-type]
                state_dir=tmp_path,
            ),
            configure_logs=False,
        )
    )


@pytest.fixture
def ingestion(
    consent: Consent, database_url_factory: Callable[[str], str], tmp_path: Path
) -> Iterator[IngestionApp]:
    app = start_ingestion(
        database_url_factory("ingestion"),
        tmp_path,
        f"127.0.0.1:{consent.app.port}",
        {"drops": "drop", "minimizes": "minimize"},
    )
    deadline = time.monotonic() + 10
    while app.checker is not None and not app.checker.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    yield app
    app.stop(0)


def deny_analytics_by_default(consent: Consent, workspace: str) -> None:
    consent.stub.SetConsentDefaults(
        pb.SetConsentDefaultsRequest(
            defaults=pb.JurisdictionDefaults(
                jurisdiction="*",
                defaults=[pb.PurposeDefault(purpose=ANALYTICS, status=DENIED)],
            )
        ),
        metadata=ws(workspace),
    )


def track(uid: str, n: int = 0) -> ingestion_pb2.Event:
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event="Product Viewed",
        message_id=f"{uid}-{n}",
        user_id=uid,
        properties_json=orjson.dumps({"sku": "a-1"}),
        context_json=orjson.dumps({"page": {"url": "https://shop.example/a-1"}}),
    )


def send(app: IngestionApp, workspace: str, *batch: ingestion_pb2.Event) -> list[int]:
    stub = ingestion_pb2_grpc.IngestionServiceStub(grpc.insecure_channel(f"127.0.0.1:{app.port}"))
    response = stub.Batch(ingestion_pb2.BatchRequest(events=list(batch)), metadata=ws(workspace))
    return [r.status for r in response.results]


def test_drop_policy_refuses_events_without_analytics_consent(
    consent: Consent, ingestion: IngestionApp
) -> None:
    deny_analytics_by_default(consent, "drops")
    consent.stub.RecordConsent(
        record(subject(user_id="fan"), (ANALYTICS, GRANTED)), metadata=ws("drops")
    )
    deadline = time.monotonic() + 10
    while True:  # until the checker has read both changes from the feed
        statuses = send(ingestion, "drops", track("stranger"), track("fan"))
        if statuses == [REJECTED, ACCEPTED] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert statuses == [REJECTED, ACCEPTED]
    stub = ingestion_pb2_grpc.IngestionServiceStub(
        grpc.insecure_channel(f"127.0.0.1:{ingestion.port}")
    )
    with pytest.raises(grpc.RpcError) as refused:
        stub.Track(ingestion_pb2.TrackRequest(event=track("stranger", 1)), metadata=ws("drops"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The stranger consents: the feed invalidates the cached refusal.
    consent.stub.RecordConsent(
        record(subject(user_id="stranger"), (ANALYTICS, GRANTED)), metadata=ws("drops")
    )
    while send(ingestion, "drops", track("stranger", 2)) != [ACCEPTED]:
        assert time.monotonic() < deadline + 10
        time.sleep(0.05)
    with ingestion.database.read() as session:
        stored = session.execute(select(events.c.user_id).where(events.c.workspace_id == "drops"))
        assert sorted(stored.scalars()) == ["fan", "stranger"]


def test_minimize_policy_keeps_the_event_but_not_the_person(
    consent: Consent, ingestion: IngestionApp
) -> None:
    deny_analytics_by_default(consent, "minimizes")
    # Nothing about this subject is cached yet: the consent service answers, with the new default.
    assert send(ingestion, "minimizes", track("anon-shopper", 0)) == [ACCEPTED]
    with ingestion.database.read() as session:
        row = session.execute(
            select(events.c.user_id, events.c.anonymous_id, events.c.payload).where(
                events.c.workspace_id == "minimizes"
            )
        ).one()
    stored = ingestion_pb2.StoredEvent.FromString(row.payload)
    assert row.user_id is None and row.anonymous_id.startswith("minimized:")
    assert stored.user_id == "" and stored.anonymous_id == row.anonymous_id
    assert stored.properties_json == b"" and stored.context_json == b""
    assert stored.event == "Product Viewed"  # still counts in aggregate
    send(ingestion, "minimizes", track("anon-shopper", 1))
    with ingestion.database.read() as session:
        latest = session.execute(
            select(events.c.user_id, events.c.anonymous_id)
            .where(events.c.workspace_id == "minimizes")
            .order_by(events.c.seq.desc())
        ).first()
    assert latest is not None and latest.user_id is None
    assert latest.anonymous_id.startswith("minimized:")
    # Workspaces without a policy keep events as sent.
    assert send(ingestion, "keeps", track("anyone")) == [ACCEPTED]


def test_no_decision_no_event_when_consent_cannot_answer(
    database_url_factory: Callable[[str], str], tmp_path: Path
) -> None:
    app = start_ingestion(
        database_url_factory("ingestion"),
        tmp_path,
        f"127.0.0.1:{free_port()}",  # nobody listens
        {"*": "drop"},
    )
    try:
        stub = ingestion_pb2_grpc.IngestionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{app.port}")
        )
        with pytest.raises(grpc.RpcError) as unavailable:
            stub.Track(ingestion_pb2.TrackRequest(event=track("x")), metadata=ws("any"), timeout=30)
        assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
        with app.database.read() as session:
            assert session.execute(select(events.c.seq)).first() is None
    finally:
        app.stop(0)


def test_a_policy_without_the_consent_service_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="PRECIS_INGESTION_CONSENT_TARGET"):
        IngestionSettings(ingestion_analytics_policy={"*": "drop"})  # type: ignore[arg-type]
