"""The real segmentation service in process, fed by stand-in producers: one gRPC server that
serves the profile_changes and consent_changes feeds from tables the test appends to, and
answers CheckConsent from a set the test fills. The segmentation service's consumers, consent
sync and API are the real ones.

Trimmed from services/segmentation/tests/service_support.py: a package's tests folder is not
importable from another's reliably (helper modules share one namespace on sys.path)."""

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
from precis.profile.v1 import profile_pb2
from precis_common.db import Database
from precis_common.feed import FeedServicer, FeedWriter, NewEntry, feed_table, to_timestamp
from precis_common.grpc_server import GrpcServer, workspace_of
from precis_common.testing import wait_for
from precis_segmentation.app import SegmentationApp, build, start
from precis_segmentation.consent_sync import PURPOSE_NUMBERS
from precis_segmentation.settings import SegmentationSettings

_metadata = MetaData()
profile_changes = feed_table(_metadata, "profile_changes")
consent_changes = feed_table(_metadata, "consent_changes")


class FakeConsent(consent_pb2_grpc.ConsentServiceServicer):
    """CheckConsent: a purpose is allowed when (workspace, user id, purpose) is in `granted`."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str, str]] = set()
        self.fail = False

    def CheckConsent(
        self, request: consent_pb2.CheckConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.CheckConsentResponse:
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "consent store down")
        workspace = workspace_of(context)
        names = {number: name for name, number in PURPOSE_NUMBERS.items()}
        subjects = {i.value for i in request.subject.identifiers}
        return consent_pb2.CheckConsentResponse(
            decisions=[
                consent_pb2.PurposeDecision(
                    purpose=p,
                    allowed=any((workspace, s, names[p]) in self.granted for s in subjects),
                )
                for p in request.purposes
            ]
        )


@dataclass
class Producers:
    """The stand-in profile and consent services."""

    database: Database
    server: GrpcServer
    consent: FakeConsent
    profiles: FeedWriter = field(default_factory=lambda: FeedWriter(profile_changes))
    consents: FeedWriter = field(default_factory=lambda: FeedWriter(consent_changes))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def publish(self, workspace: str, changes: Iterable[profile_pb2.ProfileChange]) -> None:
        entries = [NewEntry(workspace, "profile.change", c.SerializeToString()) for c in changes]
        with self.database.write() as session:
            self.profiles.append(session, entries)
        self.profiles.committed()

    def grant(self, workspace: str, user_id: str, *purposes: str) -> None:
        for purpose in purposes:
            self.consent.granted.add((workspace, user_id, purpose))
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

    def produced(self, feed: Table = profile_changes) -> int:
        """The last sequence number published on a feed (profile_changes by default)."""
        with self.database.read() as session:
            return int(session.execute(select(func.max(feed.c.seq))).scalar() or 0)


def upserted(
    profile_id: str,
    *,
    user_id: str,
    traits: dict[str, Any] | None = None,
    computed: dict[str, Any] | None = None,
) -> profile_pb2.ProfileChange:
    return profile_pb2.ProfileChange(
        kind=profile_pb2.PROFILE_CHANGE_KIND_UPSERTED,
        profile_id=profile_id,
        occurred_at=to_timestamp(datetime.now(UTC)),
        state=profile_pb2.ProfileState(
            traits_json=orjson.dumps(traits or {}),
            computed_traits_json=orjson.dumps(computed or {}),
            identifiers=[
                types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id)
            ],
        ),
    )


@dataclass
class Segmentation:
    app: SegmentationApp
    producers: Producers

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.app.port}"

    def settle(self) -> None:
        """Wait until the read model holds everything published (profiles and consent)."""
        wait_for(
            lambda: self.app.profile_consumer.position() >= self.producers.produced(),
            what="the profile_changes consumer",
        )
        wait_for(
            lambda: (
                self.app.consent_consumer.position() >= self.producers.produced(consent_changes)
            ),
            what="the consent_changes consumer",
        )
        wait_for(lambda: self.app.consent_sync.pending() == 0, what="consent answers")
        wait_for(lambda: self.app.consent_follower.lag() is not None, what="the consent feed")


@contextmanager
def running_segmentation(
    database_url_factory: Callable[[str], str], state_dir: Path, **overrides: Any
) -> Iterator[Segmentation]:
    database = Database(database_url_factory("producers"))
    _metadata.create_all(database.engine)
    server = GrpcServer(name="producers", host="127.0.0.1", port=0)
    producers = Producers(database, server, FakeConsent())
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [producers.profiles, producers.consents]),
        "precis.common.v1.FeedService",
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        producers.consent,
        "precis.consent.v1.ConsentService",
    )
    server.start()
    server.set_serving(True)
    settings = SegmentationSettings(
        environment="test",
        state_dir=state_dir,
        segmentation_database_url=database_url_factory("segmentation"),
        segmentation_grpc_port=0,
        segmentation_profile_target=producers.target,
        segmentation_consent_target=producers.target,
        segmentation_scheduler_interval_seconds=0,  # refreshes happen on request only
        **overrides,
    )
    app = start(build(settings, configure_logs=False))
    # Shorter long polls: the tests wait for the consumers, and shutdown waits for a poll.
    app.profile_consumer._wait_ms = 200
    app.consent_consumer._wait_ms = 200
    try:
        yield Segmentation(app, producers)
    finally:
        app.stop(0)
        server.stop(0)
        database.dispose()
