"""Helpers for the profile tests: an in-process ingestion + profile suite and event makers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import grpc
import orjson

from precis.common.v1 import privacy_pb2_grpc, types_pb2
from precis.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from precis.profile.v1 import profile_pb2, profile_pb2_grpc
from precis_ingestion.app import IngestionApp
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_profile.app import ProfileApp, build, start
from precis_profile.settings import ProfileSettings

E = ingestion_pb2.Event
T = types_pb2
WS = (("x-precis-workspace", "brand-a"),)


@dataclass
class Suite:
    ingestion: IngestionApp
    profile: ProfileApp
    events: ingestion_pb2_grpc.IngestionServiceStub
    profiles: profile_pb2_grpc.ProfileServiceStub
    privacy: privacy_pb2_grpc.PrivacyServiceStub

    def send(self, *events: ingestion_pb2.Event) -> None:
        self.events.Batch(ingestion_pb2.BatchRequest(events=list(events)), metadata=WS)
        # Apply synchronously: the consumer thread is off in these tests, so they are exact.
        while self.profile.consumer.run_once():
            pass

    def get(self, kind: int, value: str, namespace: str = "") -> profile_pb2.Profile:
        identifier = T.Identifier(type=kind, value=value, namespace=namespace)
        return self.profiles.GetProfile(
            profile_pb2.GetProfileRequest(identifier=identifier), metadata=WS
        ).profile


def make_suite(database_url_factory: object, tmp_path: object) -> Iterator[Suite]:
    ingestion = start_ingestion(
        build_ingestion(
            IngestionSettings(
                ingestion_database_url=database_url_factory("ingestion"),
                ingestion_grpc_port=0,
                state_dir=tmp_path,  # type: ignore[operator]
            ),
            configure_logs=False,
        )
    )
    profile = start(
        build(
            ProfileSettings(
                profile_database_url=database_url_factory("profile"),
                profile_grpc_port=0,
                state_dir=tmp_path,  # type: ignore[operator]
                profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
                profile_consume=False,
            ),
            configure_logs=False,
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{profile.port}")
    yield Suite(
        ingestion,
        profile,
        ingestion_pb2_grpc.IngestionServiceStub(
            grpc.insecure_channel(f"127.0.0.1:{ingestion.port}")
        ),
        profile_pb2_grpc.ProfileServiceStub(channel),
        privacy_pb2_grpc.PrivacyServiceStub(channel),
    )
    profile.stop(0)
    ingestion.stop(0)


def identify(
    uid: str = "", anon: str = "", at: datetime | None = None, **traits: object
) -> ingestion_pb2.Event:
    e = E(
        type=ingestion_pb2.EVENT_TYPE_IDENTIFY,
        user_id=uid,
        anonymous_id=anon,
        traits_json=orjson.dumps(traits),
    )
    if at:
        e.timestamp.FromDatetime(at)
    return e


def track(name: str, uid: str = "", anon: str = "") -> ingestion_pb2.Event:
    return E(type=ingestion_pb2.EVENT_TYPE_TRACK, event=name, user_id=uid, anonymous_id=anon)
