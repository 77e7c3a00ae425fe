"""Helpers of the consent tests: an in-process consent service and request makers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import MetaData, Table, inspect, select

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2, privacy_pb2_grpc, types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.consent.v1 import consent_pb2_grpc
from precis_common.db import Database
from precis_consent.app import ConsentApp, build, start
from precis_consent.settings import ConsentSettings

WS = (("x-precis-workspace", "brand-a"),)
T = types_pb2


@dataclass
class Consent:
    app: ConsentApp
    stub: consent_pb2_grpc.ConsentServiceStub
    privacy: privacy_pb2_grpc.PrivacyServiceStub
    feed: feed_pb2_grpc.FeedServiceStub

    def changes(self) -> list[tuple[str, pb.ConsentChange]]:
        out = []
        for response in self.feed.ReadFeed(
            feed_pb2.ReadFeedRequest(feed="consent_changes", after_seq=0, max_entries=1000)
        ):
            for entry in response.entries:
                out.append((entry.kind, pb.ConsentChange.FromString(entry.payload)))
        return out

    def rows(self) -> dict[str, list[Any]]:
        return every_row(self.app.database)


def every_row(database: Database) -> dict[str, list[Any]]:
    """Every row of every table of a service's database, by table name."""
    with database.read() as session:
        bind = session.get_bind()
        meta = MetaData()
        return {
            name: [tuple(r) for r in session.execute(select(Table(name, meta, autoload_with=bind)))]
            for name in inspect(bind).get_table_names()
        }


def make_consent(
    database_url_factory: Callable[[str], str] | object, tmp_path: Path, **overrides: Any
) -> Iterator[Consent]:
    settings: dict[str, Any] = {
        "consent_grpc_port": 0,
        # No other services here: data-subject requests are exercised in test_dsr.
        "consent_privacy_targets": {},
        "consent_dsr_interval_seconds": 0,
        "consent_retention_interval_seconds": 0,
        **overrides,
    }
    app = start(
        build(
            ConsentSettings(
                consent_database_url=database_url_factory("consent"),  # type: ignore[operator]
                state_dir=tmp_path,
                **settings,
            ),
            configure_logs=False,
        )
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{app.port}")
    yield Consent(
        app,
        consent_pb2_grpc.ConsentServiceStub(channel),
        privacy_pb2_grpc.PrivacyServiceStub(channel),
        feed_pb2_grpc.FeedServiceStub(channel),
    )
    channel.close()
    app.stop(0)


def subject(
    user_id: str = "", email: str = "", phone: str = "", profile_id: str = ""
) -> privacy_pb2.DataSubject:
    s = privacy_pb2.DataSubject(profile_id=profile_id)
    if user_id:
        s.identifiers.append(T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value=user_id))
    if email:
        s.identifiers.append(T.Identifier(type=T.IDENTIFIER_TYPE_EMAIL, value=email))
    if phone:
        s.identifiers.append(T.Identifier(type=T.IDENTIFIER_TYPE_PHONE, value=phone))
    return s


def record(
    who: privacy_pb2.DataSubject,
    *choices: tuple[int, int],
    at: datetime | None = None,
    request_id: str = "",
    policy: str = "2026-05",
    jurisdiction: str = "",
    guardian: privacy_pb2.DataSubject | None = None,
) -> pb.RecordConsentRequest:
    request = pb.RecordConsentRequest(
        request_id=request_id,
        subject=who,
        choices=[pb.PurposeChoice(purpose=p, status=s) for p, s in choices],
        policy_version=policy,
        source="signup_form_v3",
        channel=pb.CAPTURE_CHANNEL_WEB,
        proof_reference="form-42",
        jurisdiction=jurisdiction,
    )
    if at is not None:
        request.occurred_at.FromDatetime(at)
    if guardian is not None:
        request.guardian.CopyFrom(guardian)
    return request
