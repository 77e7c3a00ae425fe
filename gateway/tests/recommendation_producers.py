"""The real recommendation service in process, fed by stand-in producers: one gRPC server that
serves the profile_changes feed (profiles with the shopping events attributed to them) and the
membership_changes feed from tables the test appends to, resolves identifiers (GetProfile) and
answers CheckConsent from a set the test fills, or with UNAVAILABLE when told to. The
recommendation service's consumers, training and serving are the real ones.

Modelled on segmentation_producers.py (helper modules share one namespace on sys.path, so the
two keep distinct names)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import orjson
from sqlalchemy import MetaData, Table, func, select

from precis.common.v1 import feed_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2
from precis_common.db import Database
from precis_common.errors import NotFound, Unavailable
from precis_common.feed import FeedServicer, FeedWriter, NewEntry, feed_table, to_timestamp
from precis_common.grpc_server import GrpcServer, workspace_of

_metadata = MetaData()
profile_changes = feed_table(_metadata, "profile_changes")
membership_changes = feed_table(_metadata, "membership_changes")

# The kinds the profile and segmentation services write on their feeds.
PROFILE_UPSERTED = "profile.upserted"
MEMBERSHIP_ENTERED = "membership.entered"
MEMBERSHIP_EXITED = "membership.exited"

VIEWED = "Product Viewed"
ADDED = "Product Added"
ORDERED = "Order Completed"

_message_ids = itertools.count(1)


def _product(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "product_id": item["item_id"],
        "name": item["title"],
        "category": item["category"],
        "price": item["price"],
    }


def event(name: str, properties: Mapping[str, Any], at: datetime) -> profile_pb2.ProfileEvent:
    return profile_pb2.ProfileEvent(
        message_id=f"m-{next(_message_ids)}",
        type="track",
        event=name,
        timestamp=to_timestamp(at),
        properties_json=orjson.dumps(dict(properties)),
    )


def viewed(item: Mapping[str, Any], at: datetime) -> profile_pb2.ProfileEvent:
    return event(VIEWED, _product(item), at)


def added(item: Mapping[str, Any], at: datetime) -> profile_pb2.ProfileEvent:
    return event(ADDED, _product(item), at)


def ordered(items: Sequence[Mapping[str, Any]], at: datetime) -> profile_pb2.ProfileEvent:
    products = [{**_product(i), "quantity": 1} for i in items]
    return event(ORDERED, {"products": products}, at)


def _user_id(value: str) -> types_pb2.Identifier:
    return types_pb2.Identifier(type=types_pb2.IDENTIFIER_TYPE_USER_ID, value=value)


class FakeProfiles(profile_pb2_grpc.ProfileServiceServicer):
    """GetProfile: a user id the test registered resolves to its profile id; others are
    NOT_FOUND."""

    def __init__(self) -> None:
        self.by_user_id: dict[tuple[str, str], str] = {}
        self.calls = 0

    def GetProfile(
        self, request: profile_pb2.GetProfileRequest, context: grpc.ServicerContext
    ) -> profile_pb2.GetProfileResponse:
        self.calls += 1
        i = request.identifier
        profile_id = (
            self.by_user_id.get((workspace_of(context), i.value))
            if i.type == types_pb2.IDENTIFIER_TYPE_USER_ID
            else None
        )
        if profile_id is None:
            raise NotFound("no profile has this identifier")
        return profile_pb2.GetProfileResponse(
            profile=profile_pb2.Profile(
                profile_id=profile_id,
                identifiers=[profile_pb2.LinkedIdentifier(identifier=i)],
            )
        )


class FakeConsent(consent_pb2_grpc.ConsentServiceServicer):
    """CheckConsent: personalization is allowed when the subject's profile id or one of its
    identifier values is in `granted` for the workspace; `fail` answers UNAVAILABLE."""

    def __init__(self) -> None:
        self.granted: set[tuple[str, str]] = set()
        self.fail = False
        self.calls: list[consent_pb2.CheckConsentRequest] = []

    def CheckConsent(
        self, request: consent_pb2.CheckConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.CheckConsentResponse:
        self.calls.append(request)
        if self.fail:
            raise Unavailable("consent store down")
        workspace = workspace_of(context)
        keys = {request.subject.profile_id} | {i.value for i in request.subject.identifiers}
        allowed = any((workspace, k) in self.granted for k in keys if k)
        return consent_pb2.CheckConsentResponse(
            decisions=[
                consent_pb2.PurposeDecision(
                    purpose=p,
                    allowed=allowed and p == consent_pb2.PURPOSE_PERSONALIZATION,
                )
                for p in request.purposes
            ]
        )


@dataclass
class Producers:
    """The stand-in profile, consent and segmentation services, on one server."""

    database: Database
    server: GrpcServer
    people: FakeProfiles
    consent: FakeConsent
    profiles: FeedWriter = field(default_factory=lambda: FeedWriter(profile_changes))
    memberships: FeedWriter = field(default_factory=lambda: FeedWriter(membership_changes))

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def _append(self, writer: FeedWriter, entries: Sequence[NewEntry]) -> None:
        with self.database.write() as session:
            writer.append(session, entries)
        writer.committed()

    def publish(
        self,
        workspace: str,
        profile_id: str,
        user_id: str,
        events: Iterable[profile_pb2.ProfileEvent],
    ) -> None:
        """A profile (resolvable by its user id from now on) and events attributed to it, as one
        UPSERTED change."""
        self.people.by_user_id[(workspace, user_id)] = profile_id
        change = profile_pb2.ProfileChange(
            kind=profile_pb2.PROFILE_CHANGE_KIND_UPSERTED,
            profile_id=profile_id,
            occurred_at=to_timestamp(datetime.now(UTC)),
            state=profile_pb2.ProfileState(
                traits_json=b"{}", computed_traits_json=b"{}", identifiers=[_user_id(user_id)]
            ),
            events=list(events),
        )
        self._append(
            self.profiles, [NewEntry(workspace, PROFILE_UPSERTED, change.SerializeToString())]
        )

    def membership(
        self, workspace: str, segment_id: str, profile_ids: Iterable[str], *, entered: bool = True
    ) -> None:
        kind = (
            segmentation_pb2.MEMBERSHIP_CHANGE_KIND_ENTERED
            if entered
            else segmentation_pb2.MEMBERSHIP_CHANGE_KIND_EXITED
        )
        entries = [
            NewEntry(
                workspace,
                MEMBERSHIP_ENTERED if entered else MEMBERSHIP_EXITED,
                segmentation_pb2.MembershipChange(
                    kind=kind,
                    segment_id=segment_id,
                    profile_id=profile_id,
                    segment_version=1,
                    occurred_at=to_timestamp(datetime.now(UTC)),
                ).SerializeToString(),
            )
            for profile_id in profile_ids
        ]
        self._append(self.memberships, entries)

    def grant(self, workspace: str, *subjects: str) -> None:
        """Personalization granted to these profile ids or user ids."""
        self.consent.granted.update((workspace, s) for s in subjects)

    def produced(self, feed: Table = profile_changes) -> int:
        """The last sequence number published on a feed (profile_changes by default)."""
        with self.database.read() as session:
            return int(session.execute(select(func.max(feed.c.seq))).scalar() or 0)


@contextmanager
def running_producers(database_url_factory: Callable[[str], str]) -> Iterator[Producers]:
    database = Database(database_url_factory("producers"))
    _metadata.create_all(database.engine)
    server = GrpcServer(name="recommendation-producers", host="127.0.0.1", port=0)
    producers = Producers(database, server, FakeProfiles(), FakeConsent())
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [producers.profiles, producers.memberships]),
        "precis.common.v1.FeedService",
    )
    server.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        producers.people,
        "precis.profile.v1.ProfileService",
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        producers.consent,
        "precis.consent.v1.ConsentService",
    )
    server.start()
    server.set_serving(True)
    try:
        yield producers
    finally:
        server.stop(0)
        database.dispose()
