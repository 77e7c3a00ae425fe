"""The segmentation service in process, fed by stand-in producers: a gRPC server that serves the
profile_changes and consent_changes feeds from tables the test appends to, answers
CheckConsent from a dictionary the test sets, and serves campaigns and their subjects (for uplift
models) from another. The consumers, the consent sync and the API are
the real ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import orjson
from sqlalchemy import MetaData, func, select

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis.measurement.v1 import measurement_pb2, measurement_pb2_grpc
from precis.profile.v1 import profile_pb2
from precis.segmentation.v1 import segmentation_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedServicer, FeedWriter, NewEntry, feed_table, to_timestamp
from precis_common.grpc_client import open_channel, workspace_metadata
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_common.testing import wait_for
from precis_segmentation.app import SegmentationApp, build, start
from precis_segmentation.consent_sync import PURPOSE_NUMBERS
from precis_segmentation.settings import SegmentationSettings
from precis_segmentation.store import seg_memberships

WORKSPACE = "ws_seg"
producer_metadata = MetaData()
profile_changes = feed_table(producer_metadata, "profile_changes")
consent_changes = feed_table(producer_metadata, "consent_changes")


class FakeConsent(consent_pb2_grpc.ConsentServiceServicer):
    """Answers CheckConsent: a purpose is allowed when (workspace, any identifier value or the
    profile id, purpose) is in `granted`."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str, str]] = set()
        self.calls = 0
        self.fail = False

    def CheckConsent(
        self, request: consent_pb2.CheckConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.CheckConsentResponse:
        self.calls += 1
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "consent store down")
        workspace = workspace_of(context)
        names = {n: p for p, n in PURPOSE_NUMBERS.items()}
        subjects = {i.value for i in request.subject.identifiers}
        if request.subject.profile_id:
            subjects.add(request.subject.profile_id)
        return consent_pb2.CheckConsentResponse(
            decisions=[
                consent_pb2.PurposeDecision(
                    purpose=p,
                    allowed=any((workspace, s, names[p]) in self.granted for s in subjects),
                )
                for p in request.purposes
            ]
        )


class FakeMeasurement(measurement_pb2_grpc.MeasurementServiceServicer):
    """GetCampaign and ListCampaignSubjects of the measurement service, from ``campaigns``:
    (workspace, campaign id) -> (campaign, subjects ordered by profile id). ``calls`` counts the
    subject pages served; ``down`` makes every call UNAVAILABLE."""

    def __init__(self) -> None:
        self.campaigns: dict[
            tuple[str, str],
            tuple[measurement_pb2.Campaign, list[measurement_pb2.CampaignSubject]],
        ] = {}
        self.calls = 0
        self.down = False

    def _find(self, context: grpc.ServicerContext, campaign_id: str) -> Any:
        if self.down:
            context.abort(grpc.StatusCode.UNAVAILABLE, "measurement is down")
        found = self.campaigns.get((workspace_of(context), campaign_id))
        if found is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no campaign {campaign_id}")
        return found

    def GetCampaign(
        self, request: measurement_pb2.GetCampaignRequest, context: grpc.ServicerContext
    ) -> measurement_pb2.GetCampaignResponse:
        campaign, _ = self._find(context, request.campaign_id)
        return measurement_pb2.GetCampaignResponse(campaign=campaign)

    def ListCampaignSubjects(
        self, request: measurement_pb2.ListCampaignSubjectsRequest, context: grpc.ServicerContext
    ) -> measurement_pb2.ListCampaignSubjectsResponse:
        campaign, subjects = self._find(context, request.campaign_id)
        self.calls += 1
        start = int(request.page_token or 0)
        size = request.page_size or 1000
        page = subjects[start : start + size]
        more = start + size < len(subjects)
        return measurement_pb2.ListCampaignSubjectsResponse(
            subjects=page,
            next_page_token=str(start + size) if more else "",
            total_subjects=len(subjects),
            primary_metric=campaign.primary_metric,
        )


@dataclass
class Producers:
    """The stand-in profile, consent and measurement services."""

    database: Database
    server: GrpcServer
    consent: FakeConsent
    measurement: FakeMeasurement
    profiles: FeedWriter = field(init=False)
    consents: FeedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.profiles = FeedWriter(profile_changes)
        self.consents = FeedWriter(consent_changes)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def publish(
        self, changes: Iterable[profile_pb2.ProfileChange], workspace: str = WORKSPACE
    ) -> None:
        entries = [
            NewEntry(workspace, "profile.change", change.SerializeToString()) for change in changes
        ]
        with self.database.write() as session:
            self.profiles.append(session, entries)
        self.profiles.committed()

    def consent_changed(self, user_id: str, workspace: str = WORKSPACE) -> None:
        change = consent_pb2.ConsentChange(
            kind=consent_pb2.CONSENT_CHANGE_KIND_RECORDED,
            identifiers=[
                types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id)
            ],
        )
        with self.database.write() as session:
            self.consents.append(
                session, [NewEntry(workspace, "consent.recorded", change.SerializeToString())]
            )
        self.consents.committed()

    def grant(self, user_id: str, *purposes: str, workspace: str = WORKSPACE) -> None:
        for purpose in purposes:
            self.consent.granted.add((workspace, user_id, purpose))
        self.consent_changed(user_id, workspace)

    def withdraw(self, user_id: str, *purposes: str, workspace: str = WORKSPACE) -> None:
        for purpose in purposes:
            self.consent.granted.discard((workspace, user_id, purpose))
        self.consent_changed(user_id, workspace)


def start_producers(url: str) -> Producers:
    database = Database(url)
    producer_metadata.create_all(database.engine)
    server = GrpcServer(name="producers", host="127.0.0.1", port=0)
    consent = FakeConsent()
    producers = Producers(database, server, consent, FakeMeasurement())
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [producers.profiles, producers.consents]),
        "precis.common.v1.FeedService",
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        consent,
        "precis.consent.v1.ConsentService",
    )
    server.add(
        measurement_pb2_grpc.add_MeasurementServiceServicer_to_server,
        producers.measurement,
        "precis.measurement.v1.MeasurementService",
    )
    server.start()
    server.set_serving(True)
    return producers


def upserted(
    profile_id: str,
    *,
    user_id: str | None = None,
    traits: dict[str, Any] | None = None,
    computed: dict[str, Any] | None = None,
    tags: Sequence[str] = (),
    events: Sequence[tuple[str, str, datetime, dict[str, Any]]] = (),
    email_hash: str | None = None,
    reassigned: Sequence[str] = (),
) -> profile_pb2.ProfileChange:
    """An UPSERTED change; events are (message_id, name, time, properties)."""
    identifiers = []
    if user_id:
        identifiers.append(
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id)
        )
    if email_hash:
        identifiers.append(
            types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_EMAIL, value=email_hash)
        )
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_UPSERTED,
        profile_id=profile_id,
        occurred_at=to_timestamp(datetime.now(UTC)),
        state=profile_pb2.ProfileState(
            traits_json=orjson.dumps(traits or {}),
            computed_traits_json=orjson.dumps(computed or {}),
            tags=list(tags),
            identifiers=identifiers,
        ),
        events=[
            profile_pb2.ProfileEvent(
                message_id=mid,
                type="track",
                event=name,
                timestamp=to_timestamp(at),
                properties_json=orjson.dumps(props),
            )
            for mid, name, at, props in events
        ],
        reassigned_message_ids=list(reassigned),
    )


def merged(survivor: str, absorbed: str) -> profile_pb2.ProfileChange:
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_MERGED,
        profile_id=survivor,
        other_profile_ids=[absorbed],
    )


def deleted(profile_id: str) -> profile_pb2.ProfileChange:
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_DELETED, profile_id=profile_id
    )


def metadata(workspace: str = WORKSPACE) -> tuple[tuple[str, str], ...]:
    return workspace_metadata(workspace)


@dataclass
class Service:
    app: SegmentationApp
    producers: Producers
    stub: segmentation_pb2_grpc.SegmentationServiceStub
    feed: feed_pb2_grpc.FeedServiceStub
    privacy: privacy_pb2_grpc.PrivacyServiceStub

    def create(self, name: str, rule: Any, **kw: Any) -> pb.Segment:
        response = self.stub.CreateSegment(
            pb.CreateSegmentRequest(name=name, rule_json=orjson.dumps(rule), **kw),
            metadata=metadata(),
        )
        return response.segment

    def members(self, segment_id: str, channel: int = 0) -> pb.ListSegmentMembersResponse:
        return self.stub.ListSegmentMembers(
            pb.ListSegmentMembersRequest(segment_id=segment_id, channel=channel),  # type: ignore[arg-type]
            metadata=metadata(),
        )

    def member_ids(self, segment_id: str) -> set[str]:
        """Every member, whatever its consent (from the read model)."""
        with self.app.database.read() as session:
            return set(
                session.execute(
                    select(seg_memberships.c.profile_id).where(
                        seg_memberships.c.segment_id == segment_id
                    )
                ).scalars()
            )

    def changes(self) -> list[pb.MembershipChange]:
        entries: list[feed_pb2.FeedEntry] = []
        for response in self.feed.ReadFeed(
            feed_pb2.ReadFeedRequest(feed="membership_changes", after_seq=0, max_entries=5000),
            metadata=metadata("system"),
        ):
            entries.extend(response.entries)
        return [pb.MembershipChange.FromString(e.payload) for e in entries]

    def caught_up(self) -> bool:
        """Both consumers have read everything the stand-in producers published."""
        return self.app.profile_consumer.position() >= self._produced(
            profile_changes
        ) and self.app.consent_consumer.position() >= self._produced(consent_changes)

    def _produced(self, feed: Any) -> int:
        with self.producers.database.read() as session:
            return int(session.execute(select(func.max(feed.c.seq))).scalar() or 0)

    def settle(self) -> None:
        wait_for(self.caught_up, what="the feed consumers")
        wait_for(lambda: self.app.consent_sync.pending() == 0, what="consent answers")
        wait_for(lambda: self.app.consent_follower.lag() is not None, what="the consent feed")


def make_service(database_url_factory: Any, tmp_path: Any) -> Iterator[Service]:
    producers = start_producers(database_url_factory("producers"))
    settings = SegmentationSettings(
        environment="test",
        state_dir=tmp_path,
        segmentation_database_url=database_url_factory("segmentation"),
        segmentation_grpc_port=0,
        segmentation_profile_target=producers.target,
        segmentation_consent_target=producers.target,
        segmentation_measurement_target=producers.target,
        segmentation_scheduler_interval_seconds=0,
    )
    app = start(build(settings, configure_logs=False))
    app.profile_consumer._wait_ms = 200
    app.consent_consumer._wait_ms = 200
    channel = open_channel(f"127.0.0.1:{app.port}")
    yield Service(
        app,
        producers,
        segmentation_pb2_grpc.SegmentationServiceStub(channel),
        feed_pb2_grpc.FeedServiceStub(channel),
        privacy_pb2_grpc.PrivacyServiceStub(channel),
    )
    channel.close()
    app.stop(0)
    producers.server.stop(0)
    producers.database.dispose()
