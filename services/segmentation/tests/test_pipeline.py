"""The whole path with the real services in process: events accepted by ingestion are resolved
into profiles by the profile service, whose profile_changes feed carries them (state and events)
to the segmentation service; consent recorded in the consent service decides who is released; a
data-subject erasure run by the consent service reaches the segmentation service too."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2
from precis.common.v1 import types_pb2 as T
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2_grpc
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
from precis_segmentation.app import SegmentationApp
from precis_segmentation.app import build as build_segmentation
from precis_segmentation.app import start as start_segmentation
from precis_segmentation.settings import SegmentationSettings

WS = (("x-precis-workspace", "brand-a"),)
OFFICER = (*WS, ("x-precis-principal", "key:officer"))
ORDER = "Order Completed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    ingestion: IngestionApp
    profile: ProfileApp
    consent: ConsentApp
    segmentation: SegmentationApp
    events: ingestion_pb2_grpc.IngestionServiceStub
    consents: consent_pb2_grpc.ConsentServiceStub
    segments: segmentation_pb2_grpc.SegmentationServiceStub
    feed: feed_pb2_grpc.FeedServiceStub

    def send(self, *events: ingestion_pb2.Event) -> None:
        response = self.events.Batch(ingestion_pb2.BatchRequest(events=list(events)), metadata=WS)
        assert all(r.status == ingestion_pb2.EVENT_STATUS_ACCEPTED for r in response.results)

    def membership_changes(self) -> list[pb.MembershipChange]:
        entries: list[feed_pb2.FeedEntry] = []
        for response in self.feed.ReadFeed(
            feed_pb2.ReadFeedRequest(feed="membership_changes", max_entries=1000), metadata=WS
        ):
            entries.extend(response.entries)
        return [pb.MembershipChange.FromString(e.payload) for e in entries]

    def profile_segments(self, user_id: str) -> pb.ListProfileSegmentsResponse:
        return self.segments.ListProfileSegments(
            pb.ListProfileSegmentsRequest(
                identifier=T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value=user_id)
            ),
            metadata=WS,
        )


@pytest.fixture
def stack(database_url_factory: Any, tmp_path: Path) -> Iterator[Stack]:
    consent_port, segmentation_port = free_port(), free_port()
    ingestion = start_ingestion(
        build_ingestion(
            IngestionSettings(
                ingestion_database_url=database_url_factory("ingestion"),
                ingestion_grpc_port=0,
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
                    "segmentation": f"127.0.0.1:{segmentation_port}",
                },
                consent_dsr_interval_seconds=0.1,
                consent_retention_interval_seconds=0,
            ),
            configure_logs=False,
        )
    )
    segmentation = start_segmentation(
        build_segmentation(
            SegmentationSettings(
                segmentation_database_url=database_url_factory("segmentation"),
                segmentation_grpc_port=segmentation_port,
                state_dir=tmp_path,
                segmentation_profile_target=f"127.0.0.1:{profile.port}",
                segmentation_consent_target=f"127.0.0.1:{consent_port}",
                segmentation_scheduler_interval_seconds=0,
            ),
            configure_logs=False,
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{segmentation_port}")
    yield Stack(
        ingestion,
        profile,
        consent,
        segmentation,
        ingestion_pb2_grpc.IngestionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ingestion.port}")
        ),
        consent_pb2_grpc.ConsentServiceStub(grpc.insecure_channel(f"127.0.0.1:{consent_port}")),
        segmentation_pb2_grpc.SegmentationServiceStub(channel),
        feed_pb2_grpc.FeedServiceStub(channel),
    )
    for app in (segmentation, consent, profile, ingestion):
        app.stop(0)


def eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def identify(uid: str, email: str, **traits: Any) -> ingestion_pb2.Event:
    return ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
        user_id=uid,
        traits_json=orjson.dumps({"email": email, **traits}),
    )


def order(uid: str, n: int, revenue: float, days_ago: int = 1) -> ingestion_pb2.Event:
    event = ingestion_pb2.Event(
        type=ingestion_pb2.EVENT_TYPE_TRACK,
        event=ORDER,
        message_id=f"{uid}-order-{n}",
        user_id=uid,
        properties_json=orjson.dumps({"revenue": revenue, "order_id": f"{uid}-{n}"}),
    )
    event.timestamp.FromDatetime(datetime.now(UTC) - timedelta(days=days_ago))
    return event


def test_events_to_audience_to_release_and_erasure(stack: Stack) -> None:
    rule = {
        "all": [
            {"field": "traits.city", "op": "=", "value": "Shanghai"},
            {"event": {"name": ORDER, "count": {"op": ">=", "value": 2}, "within_days": 30}},
        ]
    }
    segment = stack.segments.CreateSegment(
        pb.CreateSegmentRequest(
            name="Shanghai repeat buyers", rule_json=orjson.dumps(rule), materialize=True
        ),
        metadata=WS,
    ).segment

    stack.send(
        identify("u1", "mei@example.com", city="Shanghai"),
        identify("u2", "lin@example.com", city="Shanghai"),
        identify("u3", "wu@example.com", city="Beijing"),
        order("u1", 1, 30.0),
        order("u2", 1, 12.0),
        order("u3", 1, 50.0),
        order("u3", 2, 50.0),
    )
    sent = time.monotonic()
    stack.send(order("u1", 2, 20.0))
    found = eventually(lambda: stack.profile_segments("u1").segments)
    freshness = time.monotonic() - sent
    assert [s.segment_id for s in found] == [segment.segment_id]
    assert stack.profile_segments("u2").segments == []
    assert stack.profile_segments("u3").segments == []
    u1 = stack.profile_segments("u1").profile_id
    entered = [c for c in stack.membership_changes() if c.kind == pb.MEMBERSHIP_CHANGE_KIND_ENTERED]
    assert [c.profile_id for c in entered] == [u1]

    # Nobody is released for email until the ledger says so.
    def members() -> pb.ListSegmentMembersResponse:
        return stack.segments.ListSegmentMembers(
            pb.ListSegmentMembersRequest(segment_id=segment.segment_id, channel=pb.CHANNEL_EMAIL),
            metadata=WS,
        )

    listing = eventually(members)
    assert (listing.total_count, listing.suppressed_count, len(listing.members)) == (1, 1, 0)
    stack.consents.RecordConsent(
        consent_pb2.RecordConsentRequest(
            subject=privacy_pb2.DataSubject(
                identifiers=[T.Identifier(type=T.IDENTIFIER_TYPE_EMAIL, value="mei@example.com")]
            ),
            choices=[
                consent_pb2.PurposeChoice(
                    purpose=consent_pb2.PURPOSE_MARKETING_EMAIL,
                    status=consent_pb2.CONSENT_STATUS_GRANTED,
                )
            ],
            policy_version="2026-11",
            source="signup_form",
        ),
        metadata=WS,
    )
    released = eventually(lambda: members().members)
    assert [m.profile_id for m in released] == [u1]

    # An erasure through the consent service removes the person from the audience.
    stack.consents.CreateErasureRequest(
        consent_pb2.CreateErasureRequestRequest(
            subject=privacy_pb2.DataSubject(
                identifiers=[T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value="u1")]
            ),
            request_id="erase-u1",
        ),
        metadata=OFFICER,
    )

    def erased() -> bool:
        request = stack.consents.GetDataSubjectRequest(
            consent_pb2.GetDataSubjectRequestRequest(request_id="erase-u1"), metadata=WS
        ).request
        return request.state == consent_pb2.DATA_SUBJECT_REQUEST_STATE_COMPLETED

    eventually(erased)
    request = stack.consents.GetDataSubjectRequest(
        consent_pb2.GetDataSubjectRequestRequest(request_id="erase-u1"), metadata=WS
    ).request
    receipts = {t.service: {e.table: e.rows for e in t.erased} for t in request.tasks}
    assert receipts["segmentation"]["seg_event_facts"] >= 2
    assert members().total_count == 0
    with pytest.raises(grpc.RpcError) as err:
        stack.profile_segments("u1")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    print(f"event accepted -> membership entered: {freshness * 1000:.0f} ms")
