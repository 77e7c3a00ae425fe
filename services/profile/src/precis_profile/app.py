"""Wiring of the profile service: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import feed_pb2_grpc, privacy_pb2_grpc
from precis.profile.v1 import profile_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedConsumer, FeedServicer, FeedWriter
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_profile.profiles import ProfileStore
from precis_profile.servicer import ProfilePrivacyServicer, ProfileServicer
from precis_profile.settings import ProfileSettings
from precis_profile.store import feed_cursors, profile_changes

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "profile"


@dataclass
class ProfileApp:
    settings: ProfileSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    store: ProfileStore
    consumer: FeedConsumer
    channel: grpc.Channel
    schedule: RfmSchedule

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace: float = 5.0) -> None:
        self.consumer.stop()
        self.schedule.stop()
        self.server.stop(grace)
        self.channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: ProfileSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> ProfileApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    writer = FeedWriter(profile_changes)
    store = ProfileStore(database, writer, telemetry.tracer)
    channel = open_channel(
        settings.profile_ingestion_target, interceptors=telemetry.client_interceptors()
    )
    consumer = FeedConsumer(
        consumer="profile",
        feed="events",
        channel=channel,
        database=database,
        cursors=feed_cursors,
        apply=store.apply_batch,
        tracer=telemetry.tracer,
        batch_size=settings.profile_batch_size,
        on_applied=writer.committed,
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.profile_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        profile_pb2_grpc.add_ProfileServiceServicer_to_server,
        ProfileServicer(store, hasher),
        "precis.profile.v1.ProfileService",
    )
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [writer]),
        "precis.common.v1.FeedService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        ProfilePrivacyServicer(store, hasher),
        "precis.common.v1.PrivacyService",
    )
    schedule = RfmSchedule(store, settings.profile_rfm_refresh_seconds)
    return ProfileApp(settings, telemetry, database, server, store, consumer, channel, schedule)


class RfmSchedule:
    """Recomputes every workspace's RFM boundaries and refits its lifetime-value models
    periodically, off the request path."""

    def __init__(self, store: ProfileStore, interval: float) -> None:
        self._store = store
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="rfm-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            for workspace in self._store.workspaces():
                try:
                    self._store.refresh_rfm(workspace)
                    self._store.refresh_predictions(workspace)
                    self._store.refresh_tags(workspace)
                except Exception:
                    log.exception(
                        "RFM refresh of workspace %s failed; next try in %ss",
                        workspace,
                        self._interval,
                    )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def start(app: ProfileApp) -> ProfileApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    if app.settings.profile_consume:
        app.consumer.start()
    app.schedule.start()
    return app
