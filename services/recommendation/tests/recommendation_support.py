"""The real recommendation service in process, fed by one stand-in gRPC server that plays the
profile service (the profile_changes feed and GetProfile), segmentation (membership_changes) and
the consent service (CheckConsent answers from a set the test fills)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import orjson
from sqlalchemy import MetaData, Table, func, select

from precis.common.v1 import feed_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis.recommendation.v1 import recommendation_pb2 as pb
from precis.recommendation.v1 import recommendation_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2
from precis_common.db import Database
from precis_common.feed import FeedServicer, FeedWriter, NewEntry, feed_table, to_timestamp
from precis_common.grpc_client import workspace_metadata
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_common.testing import wait_for
from precis_recommendation.app import RecommendationApp, build, start
from precis_recommendation.settings import RecommendationSettings

WORKSPACE = "ws-rec"
_metadata = MetaData()
profile_changes = feed_table(_metadata, "profile_changes")
membership_changes = feed_table(_metadata, "membership_changes")


class FakeProfiles(profile_pb2_grpc.ProfileServiceServicer):
    """GetProfile: user ids the test registered (user id -> profile id)."""

    def __init__(self) -> None:
        self.users: dict[tuple[str, str], str] = {}
        self.fail = False

    def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetProfileResponse:
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "profile store down")
        pid = self.users.get((workspace_of(context), request.identifier.value))
        if pid is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such profile")
        return profile_pb2.GetProfileResponse(profile=profile_pb2.Profile(profile_id=pid))


class FakeConsent(consent_pb2_grpc.ConsentServiceServicer):
    """CheckConsent: personalization is allowed for the (workspace, profile id) in `granted`."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str]] = set()
        self.fail = False
        self.asked = 0

    def CheckConsent(
        self, request: consent_pb2.CheckConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.CheckConsentResponse:
        self.asked += 1
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "consent store down")
        allowed = (workspace_of(context), request.subject.profile_id) in self.granted
        return consent_pb2.CheckConsentResponse(
            decisions=[
                consent_pb2.PurposeDecision(purpose=p, allowed=allowed) for p in request.purposes
            ]
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
    profile_id: str, user_id: str, events: Iterable[profile_pb2.ProfileEvent] = ()
) -> profile_pb2.ProfileChange:
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_UPSERTED,
        profile_id=profile_id,
        occurred_at=to_timestamp(datetime.now(UTC)),
        state=profile_pb2.ProfileState(
            identifiers=[
                types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id)
            ]
        ),
        events=list(events),
    )


@dataclass
class Producers:
    database: Database
    server: GrpcServer
    profiles: FakeProfiles
    consent: FakeConsent
    profile_feed: FeedWriter = field(default_factory=lambda: FeedWriter(profile_changes))
    membership_feed: FeedWriter = field(default_factory=lambda: FeedWriter(membership_changes))

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

    def membership(
        self,
        segment_id: str,
        profile_ids: Iterable[str],
        *,
        entered: bool = True,
        workspace: str = WORKSPACE,
    ) -> None:
        kind = (
            segmentation_pb2.MEMBERSHIP_CHANGE_KIND_ENTERED
            if entered
            else segmentation_pb2.MEMBERSHIP_CHANGE_KIND_EXITED
        )
        entries = [
            NewEntry(
                workspace,
                "membership.entered" if entered else "membership.exited",
                segmentation_pb2.MembershipChange(
                    kind=kind, segment_id=segment_id, profile_id=pid
                ).SerializeToString(),
            )
            for pid in profile_ids
        ]
        with self.database.write() as session:
            self.membership_feed.append(session, entries)
        self.membership_feed.committed()

    def produced(self, table: Table) -> int:
        with self.database.read() as session:
            return int(session.execute(select(func.max(table.c.seq))).scalar() or 0)


@dataclass
class Service:
    app: RecommendationApp
    producers: Producers
    channel: grpc.Channel
    stub: recommendation_pb2_grpc.RecommendationServiceStub

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.app.port}"

    def settle(self) -> None:
        wait_for(
            lambda: (
                self.app.profile_consumer.position() >= self.producers.produced(profile_changes)
            ),
            what="the profile_changes consumer",
        )
        wait_for(
            lambda: (
                self.app.membership_consumer.position()
                >= self.producers.produced(membership_changes)
            ),
            what="the membership_changes consumer",
        )

    def call(self, method: str, request: Any, workspace: str = WORKSPACE) -> Any:
        return getattr(self.stub, method)(
            request, timeout=30, metadata=workspace_metadata(workspace)
        )

    def train(self, workspace: str = WORKSPACE, **fields: Any) -> pb.TrainingJob:
        job = self.call("TrainModel", pb.TrainModelRequest(**fields), workspace).job
        done = wait_for(
            lambda: (
                lambda j: (
                    j
                    if j.state in (pb.TRAINING_JOB_STATE_SUCCEEDED, pb.TRAINING_JOB_STATE_FAILED)
                    else None
                )
            )(
                self.call(
                    "GetTrainingJob", pb.GetTrainingJobRequest(job_id=job.job_id), workspace
                ).job
            ),
            timeout=120,
            what="the training job",
        )
        return done  # type: ignore[no-any-return]


@contextmanager
def running_service(
    database_url_factory: Callable[[str], str], state_dir: Path, **overrides: Any
) -> Iterator[Service]:
    database = Database(database_url_factory("producers"))
    _metadata.create_all(database.engine)
    server = GrpcServer(name="producers", host="127.0.0.1", port=0)
    producers = Producers(database, server, FakeProfiles(), FakeConsent())
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [producers.profile_feed, producers.membership_feed]),
        "precis.common.v1.FeedService",
    )
    server.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        producers.profiles,
        "precis.profile.v1.ProfileService",
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        producers.consent,
        "precis.consent.v1.ConsentService",
    )
    server.start()
    server.set_serving(True)
    settings = RecommendationSettings(
        environment="test",
        state_dir=state_dir,
        recommendation_database_url=database_url_factory("recommendation"),
        recommendation_grpc_port=0,
        recommendation_profile_target=producers.target,
        recommendation_consent_target=producers.target,
        recommendation_segmentation_target=producers.target,
        recommendation_popular_refresh_seconds=0,  # the tests look right after each change
        **overrides,
    )
    app = start(build(settings, configure_logs=False))
    app.profile_consumer._wait_ms = 200
    app.membership_consumer._wait_ms = 200
    channel = grpc.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        yield Service(
            app, producers, channel, recommendation_pb2_grpc.RecommendationServiceStub(channel)
        )
    finally:
        channel.close()
        app.stop(0)
        server.stop(0)
        database.dispose()
