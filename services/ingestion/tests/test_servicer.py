"""The ingestion service in process (gRPC on port 0) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2, privacy_pb2_grpc, types_pb2
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis_ingestion.app import IngestionApp, build, start
from precis_ingestion.settings import IngestionSettings
from precis_ingestion.store import events

E = ingestion_pb2.Event
WS = (("x-precis-workspace", "brand-a"),)
OTHER = (("x-precis-workspace", "brand-b"),)


@pytest.fixture
def app(database_url: str, tmp_path: object) -> Iterator[IngestionApp]:
    settings = IngestionSettings(
        ingestion_database_url=database_url, ingestion_grpc_port=0, state_dir=tmp_path
    )
    application = start(build(settings, configure_logs=False))
    yield application
    application.stop(0)


@pytest.fixture
def channel(app: IngestionApp) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as ch:
        yield ch


def stored_count(app: IngestionApp) -> int:
    with app.database.read() as session:
        return int(session.execute(select(func.count()).select_from(events)).scalar_one())


def violations(err: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(err)
    assert status is not None
    out = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad)
        out.update({v.field: v.description for v in bad.field_violations})
    return out


def test_track_is_stored_once_per_message_id(app: IngestionApp, channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    event = E(
        message_id="m-1", event="Order Completed", user_id="u1", properties_json=b'{"revenue": 20}'
    )
    first = stub.Track(ingestion_pb2.TrackRequest(event=event), metadata=WS)
    again = stub.Track(ingestion_pb2.TrackRequest(event=event), metadata=WS)
    other = stub.Track(ingestion_pb2.TrackRequest(event=event), metadata=OTHER)
    assert first.result.status == ingestion_pb2.EVENT_STATUS_ACCEPTED
    assert again.result.status == ingestion_pb2.EVENT_STATUS_DUPLICATE
    assert other.result.status == ingestion_pb2.EVENT_STATUS_ACCEPTED  # dedupe is per workspace
    assert stored_count(app) == 2


def test_invalid_event_fails_with_field_details_and_stores_nothing(
    app: IngestionApp, channel: grpc.Channel
) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.Identify(
            ingestion_pb2.IdentifyRequest(event=E(user_id="u1", traits_json=b'{"email": "nope"}')),
            metadata=WS,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(err.value) == {"traits.email": "is not a valid email address"}
    assert stored_count(app) == 0


def test_calls_without_a_workspace_are_refused(channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.Track(ingestion_pb2.TrackRequest(event=E(event="x", user_id="u")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metadata.x-precis-workspace" in violations(err.value)


def test_batch_rejects_bad_events_alone(app: IngestionApp, channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    response = stub.Batch(
        ingestion_pb2.BatchRequest(
            events=[
                E(
                    type=ingestion_pb2.EVENT_TYPE_TRACK,
                    message_id="a",
                    event="Product Viewed",
                    anonymous_id="anon-1",
                ),
                E(
                    type=ingestion_pb2.EVENT_TYPE_TRACK,
                    message_id="b",
                    event="",
                    anonymous_id="anon-1",
                ),
                E(
                    type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
                    message_id="c",
                    user_id="u1",
                    traits_json=b'{"email": "a@b.co"}',
                ),
                E(
                    type=ingestion_pb2.EVENT_TYPE_TRACK,
                    message_id="a",
                    event="Product Viewed",
                    anonymous_id="anon-1",
                ),
            ]
        ),
        metadata=WS,
    )
    statuses = [(r.index, r.message_id, r.status) for r in response.results]
    assert statuses == [
        (0, "a", ingestion_pb2.EVENT_STATUS_ACCEPTED),
        (1, "b", ingestion_pb2.EVENT_STATUS_REJECTED),
        (2, "c", ingestion_pb2.EVENT_STATUS_ACCEPTED),
        (3, "a", ingestion_pb2.EVENT_STATUS_DUPLICATE),
    ]
    assert [v.field for v in response.results[1].violations] == ["batch[1].event"]
    assert (response.accepted, response.duplicates, response.rejected) == (2, 1, 1)
    assert stored_count(app) == 2


def test_oversized_batch_is_refused_whole(app: IngestionApp, channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    events_ = [E(type=ingestion_pb2.EVENT_TYPE_TRACK, event="x", user_id="u")] * 501
    with pytest.raises(grpc.RpcError) as err:
        stub.Batch(ingestion_pb2.BatchRequest(events=events_), metadata=WS)
    assert "batch" in violations(err.value)
    assert stored_count(app) == 0


def test_accepted_events_appear_on_the_feed_in_order_without_pii(
    app: IngestionApp, channel: grpc.Channel
) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    stub.Identify(
        ingestion_pb2.IdentifyRequest(
            event=E(message_id="i", user_id="u1", traits_json=b'{"email": "Ann@Example.com"}')
        ),
        metadata=WS,
    )
    stub.Track(
        ingestion_pb2.TrackRequest(event=E(message_id="t", event="Signed Up", user_id="u1")),
        metadata=WS,
    )
    feed = feed_pb2_grpc.FeedServiceStub(channel)
    entries = [e for r in feed.ReadFeed(feed_pb2.ReadFeedRequest(feed="events")) for e in r.entries]
    assert [(e.kind, e.workspace_id) for e in entries] == [
        ("identify", "brand-a"),
        ("track", "brand-a"),
    ]
    assert entries[0].seq < entries[1].seq
    assert all(b"ann@example.com" not in e.payload.lower() for e in entries)
    stored = ingestion_pb2.StoredEvent.FromString(entries[0].payload)
    assert len(stored.email_hash) == 64


def test_replay_by_time_range(channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    for day in (1, 2, 3):
        e = E(message_id=f"d{day}", event="Order Completed", user_id="u")
        e.timestamp.FromDatetime(datetime(1997, 1, day, tzinfo=UTC))
        stub.Track(ingestion_pb2.TrackRequest(event=e), metadata=WS)
    request = ingestion_pb2.ReadEventsRequest()
    request.start.FromDatetime(datetime(1997, 1, 2, tzinfo=UTC))
    request.end.FromDatetime(datetime(1997, 1, 3, tzinfo=UTC))
    got = [ev.message_id for r in stub.ReadEvents(request, metadata=WS) for ev in r.events]
    assert got == ["d2"]
    assert [ev for r in stub.ReadEvents(request, metadata=OTHER) for ev in r.events] == []


def test_privacy_export_and_erase_by_email(app: IngestionApp, channel: grpc.Channel) -> None:
    stub = ingestion_pb2_grpc.IngestionServiceStub(channel)
    stub.Identify(
        ingestion_pb2.IdentifyRequest(
            event=E(message_id="i", anonymous_id="a9", traits_json=b'{"email": "ann@example.com"}')
        ),
        metadata=WS,
    )
    stub.Track(
        ingestion_pb2.TrackRequest(event=E(message_id="t", event="Viewed", anonymous_id="a9")),
        metadata=WS,
    )
    stub.Track(
        ingestion_pb2.TrackRequest(
            event=E(message_id="o", event="Viewed", anonymous_id="someone-else")
        ),
        metadata=WS,
    )
    privacy = privacy_pb2_grpc.PrivacyServiceStub(channel)
    subject = privacy_pb2.DataSubject(
        identifiers=[
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_EMAIL, value="ANN@example.com"),
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID, value="a9"),
        ]
    )
    bundle = privacy.ExportSubject(privacy_pb2.ExportSubjectRequest(subject=subject), metadata=WS)
    assert bundle.bundle_json.count(b'"message_id"') == 2
    receipt = privacy.EraseSubject(privacy_pb2.EraseSubjectRequest(subject=subject), metadata=WS)
    assert [(r.table, r.rows) for r in receipt.erased] == [("events", 2), ("consent_captures", 0)]
    assert stored_count(app) == 1
    again = privacy.EraseSubject(privacy_pb2.EraseSubjectRequest(subject=subject), metadata=WS)
    assert again.erased[0].rows == 0


def test_health_reports_serving_once_ready(channel: grpc.Channel) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health = health_pb2_grpc.HealthStub(channel)
    assert (
        health.Check(health_pb2.HealthCheckRequest(service="")).status
        == health_pb2.HealthCheckResponse.SERVING
    )
    assert (
        health.Check(
            health_pb2.HealthCheckRequest(service="precis.ingestion.v1.IngestionService")
        ).status
        == health_pb2.HealthCheckResponse.SERVING
    )
