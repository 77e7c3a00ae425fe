"""Wiring of the consent service: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import feed_pb2_grpc, privacy_pb2_grpc
from precis.consent.v1 import consent_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedServicer, FeedWriter
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_consent.dsr import DataSubjectRequests, DsrWorker, remote_target
from precis_consent.service import ConsentStore
from precis_consent.servicer import ConsentPrivacyServicer, ConsentServicer
from precis_consent.settings import ConsentSettings
from precis_consent.store import consent_changes

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "consent"


@dataclass
class ConsentApp:
    settings: ConsentSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    store: ConsentStore
    requests: DataSubjectRequests
    worker: DsrWorker
    channels: list[grpc.Channel]

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace: float = 5.0) -> None:
        self.worker.stop()
        self.server.stop(grace)
        for channel in self.channels:
            channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: ConsentSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> ConsentApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    writer = FeedWriter(consent_changes)
    store = ConsentStore(database, writer)
    channels = {
        name: open_channel(target, interceptors=telemetry.client_interceptors())
        for name, target in settings.consent_privacy_targets.items()
    }
    requests = DataSubjectRequests(
        database, hasher, store, {name: remote_target(ch) for name, ch in channels.items()}
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.consent_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        ConsentServicer(store, hasher, requests),
        "precis.consent.v1.ConsentService",
    )
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [writer]),
        "precis.common.v1.FeedService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        ConsentPrivacyServicer(store, hasher),
        "precis.common.v1.PrivacyService",
    )
    worker = DsrWorker(requests, settings.consent_dsr_interval_seconds)
    return ConsentApp(
        settings, telemetry, database, server, store, requests, worker, list(channels.values())
    )


def start(app: ConsentApp) -> ConsentApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    app.worker.start()
    return app
