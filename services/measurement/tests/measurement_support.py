"""The real measurement service in process, fed by one stand-in gRPC server that plays the
profile service (the profile_changes feed and GetProfile) and segmentation (GetSegment,
ListSegmentMembers releasing the members whose channel consent the test granted, and
ListModelScores paging the model scores the test set)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import orjson
from sqlalchemy import MetaData, func, select

from precis.common.v1 import feed_pb2_grpc, types_pb2
from precis.measurement.v1 import measurement_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedServicer, FeedWriter, NewEntry, feed_table, to_timestamp
from precis_common.grpc_client import workspace_metadata
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_common.testing import wait_for
from precis_measurement.app import MeasurementApp, build, start
from precis_measurement.settings import MeasurementSettings

WORKSPACE = "ws-ms"
_metadata = MetaData()
profile_changes = feed_table(_metadata, "profile_changes")


class FakeProfiles(profile_pb2_grpc.ProfileServiceServicer):
    def __init__(self) -> None:
        self.users: dict[tuple[str, str], str] = {}

    def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetProfileResponse:
        pid = self.users.get((workspace_of(context), request.identifier.value))
        if pid is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such profile")
        return profile_pb2.GetProfileResponse(profile=profile_pb2.Profile(profile_id=pid))


class FakeSegmentation(segmentation_pb2_grpc.SegmentationServiceServicer):
    """Segments are (workspace, segment id) -> members; `withheld` members lack the consent of
    every channel, so ListSegmentMembers leaves them out but counts them."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], list[str]] = {}
        self.withheld: set[str] = set()
        self.fail = False
        self.listed = 0
        # (workspace, model id) -> profile id -> score; a model absent here is NOT_FOUND, one
        # in `unscored` FAILED_PRECONDITION (trained, no scores yet).
        self.model_scores: dict[tuple[str, str], dict[str, float]] = {}
        self.unscored: set[str] = set()
        self.score_pages = 0
        # A server may answer fewer scores than asked: tests lower this to force several pages.
        self.score_page_limit = 10_000

    def GetSegment(
        self, request: segmentation_pb2.GetSegmentRequest, context: grpc.ServicerContext
    ) -> segmentation_pb2.GetSegmentResponse:
        if (workspace_of(context), request.segment_id) not in self.members:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such segment")
        return segmentation_pb2.GetSegmentResponse(
            segment=segmentation_pb2.Segment(segment_id=request.segment_id)
        )

    def ListSegmentMembers(
        self, request: segmentation_pb2.ListSegmentMembersRequest, context: grpc.ServicerContext
    ) -> segmentation_pb2.ListSegmentMembersResponse:
        self.listed += 1
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "segmentation down")
        members = sorted(self.members.get((workspace_of(context), request.segment_id), []))
        released = [m for m in members if m not in self.withheld]
        start = int(request.page_token or 0)
        size = request.page_size or 500
        page = released[start : start + size]
        return segmentation_pb2.ListSegmentMembersResponse(
            members=[segmentation_pb2.SegmentMember(profile_id=p) for p in page],
            next_page_token=str(start + size) if start + size < len(released) else "",
            total_count=len(members),
        )

    def ListModelScores(
        self, request: segmentation_pb2.ListModelScoresRequest, context: grpc.ServicerContext
    ) -> segmentation_pb2.ListModelScoresResponse:
        self.score_pages += 1
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "segmentation down")
        if request.model_id in self.unscored:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the model has no scores yet")
        key = (workspace_of(context), request.model_id)
        if key not in self.model_scores:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such model")
        scores = self.model_scores[key]
        if not 0 <= request.page_size <= 10_000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_size: 1..10000")
        ordered = sorted(scores)
        size = min(request.page_size or 1000, self.score_page_limit)
        start = bisect.bisect_right(ordered, request.page_token) if request.page_token else 0
        page = ordered[start : start + size]
        more = start + size < len(ordered)
        return segmentation_pb2.ListModelScoresResponse(
            scores=[segmentation_pb2.ModelScore(profile_id=p, score=scores[p]) for p in page],
            next_page_token=page[-1] if more else "",
        )


def event(
    name: str, properties: dict[str, Any], at: datetime, message_id: str
) -> profile_pb2.ProfileEvent:
    return profile_pb2.ProfileEvent(
        message_id=message_id,
        type="track",
        event=name,
        timestamp=to_timestamp(at),
        properties_json=orjson.dumps(properties),
    )


def upserted(
    profile_id: str, events: Iterable[profile_pb2.ProfileEvent] = (), user_id: str = ""
) -> profile_pb2.ProfileChange:
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_UPSERTED,
        profile_id=profile_id,
        occurred_at=to_timestamp(datetime.now(UTC)),
        state=profile_pb2.ProfileState(
            identifiers=[
                types_pb2.Identifier(
                    type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id or f"u-{profile_id}"
                )
            ]
        ),
        events=list(events),
    )


@dataclass
class Producers:
    database: Database
    server: GrpcServer
    profiles: FakeProfiles
    segments: FakeSegmentation
    profile_feed: FeedWriter = field(default_factory=lambda: FeedWriter(profile_changes))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def publish(
        self, changes: Iterable[profile_pb2.ProfileChange], workspace: str = WORKSPACE
    ) -> None:
        entries = []
        for change in changes:
            entries.append(NewEntry(workspace, "profile.change", change.SerializeToString()))
            if change.kind == profile_pb2.PROFILE_CHANGE_KIND_UPSERTED:
                for identifier in change.state.identifiers:
                    self.profiles.users[(workspace, identifier.value)] = change.profile_id
        with self.database.write() as session:
            self.profile_feed.append(session, entries)
        self.profile_feed.committed()

    def produced(self) -> int:
        with self.database.read() as session:
            return int(session.execute(select(func.max(profile_changes.c.seq))).scalar() or 0)


@dataclass
class Service:
    app: MeasurementApp
    producers: Producers
    channel: grpc.Channel
    stub: measurement_pb2_grpc.MeasurementServiceStub

    def settle(self) -> None:
        wait_for(
            lambda: self.app.profile_consumer.position() >= self.producers.produced(),
            what="the profile_changes consumer",
        )

    def call(self, method: str, request: Any, workspace: str = WORKSPACE) -> Any:
        return getattr(self.stub, method)(
            request, timeout=60, metadata=workspace_metadata(workspace)
        )


@contextmanager
def running_service(
    database_url_factory: Callable[[str], str], state_dir: Path, **overrides: Any
) -> Iterator[Service]:
    database = Database(database_url_factory("producers"))
    _metadata.create_all(database.engine)
    server = GrpcServer(name="producers", host="127.0.0.1", port=0)
    producers = Producers(database, server, FakeProfiles(), FakeSegmentation())
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [producers.profile_feed]),
        "precis.common.v1.FeedService",
    )
    server.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        producers.profiles,
        "precis.profile.v1.ProfileService",
    )
    server.add(
        segmentation_pb2_grpc.add_SegmentationServiceServicer_to_server,
        producers.segments,
        "precis.segmentation.v1.SegmentationService",
    )
    server.start()
    server.set_serving(True)
    settings = MeasurementSettings(
        environment="test",
        state_dir=state_dir,
        measurement_database_url=database_url_factory("measurement"),
        measurement_grpc_port=0,
        measurement_profile_target=producers.target,
        measurement_segmentation_target=producers.target,
        measurement_enroller=False,  # tests enroll explicitly, at times they choose
        **overrides,
    )
    app = start(build(settings, configure_logs=False))
    app.profile_consumer._wait_ms = 200
    channel = grpc.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        yield Service(app, producers, channel, measurement_pb2_grpc.MeasurementServiceStub(channel))
    finally:
        channel.close()
        app.stop(0)
        server.stop(0)
        database.dispose()
