"""Wiring of the ingestion service: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import feed_pb2_grpc, privacy_pb2_grpc
from precis.ingestion.v1 import ingestion_pb2_grpc
from precis_common.consent_check import ConsentChecker
from precis_common.db import Database
from precis_common.feed import FeedConsumer, FeedServicer, FeedWriter
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_ingestion.ingestor import EventStore
from precis_ingestion.servicer import IngestionPrivacyServicer, IngestionServicer
from precis_ingestion.settings import IngestionSettings
from precis_ingestion.store import consent_captures, events, feed_cursors
from precis_ingestion.suppression import SuppressionList

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "ingestion"


@dataclass
class IngestionApp:
    settings: IngestionSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    store: EventStore
    suppression: SuppressionList
    consumer: FeedConsumer | None
    channel: grpc.Channel | None
    checker: ConsentChecker | None

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace: float = 5.0) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        if self.checker is not None:
            self.checker.stop()
        self.server.stop(grace)
        if self.channel is not None:
            self.channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: IngestionSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> IngestionApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    writer = FeedWriter(events)
    captures = FeedWriter(consent_captures)
    store = EventStore(database, writer, captures)
    suppression = SuppressionList(database, hasher)
    channel: grpc.Channel | None = None
    consumer: FeedConsumer | None = None
    checker: ConsentChecker | None = None
    if settings.ingestion_consent_target:
        channel = open_channel(
            settings.ingestion_consent_target, interceptors=telemetry.client_interceptors()
        )
        consumer = FeedConsumer(
            consumer="ingestion",
            feed="consent_changes",
            channel=channel,
            database=database,
            cursors=feed_cursors,
            apply=suppression.apply_batch,
            tracer=telemetry.tracer,
        )
        checker = ConsentChecker(channel, hasher)
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.ingestion_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        ingestion_pb2_grpc.add_IngestionServiceServicer_to_server,
        IngestionServicer(store, hasher, suppression, checker, settings.analytics_policy),
        "precis.ingestion.v1.IngestionService",
    )
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [writer, captures]),
        "precis.common.v1.FeedService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        IngestionPrivacyServicer(store, hasher),
        "precis.common.v1.PrivacyService",
    )
    return IngestionApp(
        settings, telemetry, database, server, store, suppression, consumer, channel, checker
    )


def start(app: IngestionApp) -> IngestionApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    if app.consumer is not None:
        app.consumer.start()
    if app.checker is not None:
        app.checker.start()
    return app
