"""Wiring of the consent service: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import feed_pb2_grpc, privacy_pb2_grpc
from precis.consent.v1 import consent_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedConsumer, FeedServicer, FeedWriter
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_consent.audit import AuditLog
from precis_consent.dsr import DataSubjectRequests, DsrWorker, remote_target
from precis_consent.event_consent import FEED as CAPTURES_FEED
from precis_consent.event_consent import EventConsentRecorder
from precis_consent.retention import Retention, RetentionWorker
from precis_consent.service import ConsentStore
from precis_consent.servicer import ConsentPrivacyServicer, ConsentServicer
from precis_consent.settings import ConsentSettings
from precis_consent.store import consent_changes, feed_cursors

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
    recorder: EventConsentRecorder
    # The audit log of accesses to personal data (its retention calls audit_log.purge_before).
    audit_log: AuditLog
    # Retention policies and the scheduled job that applies them in every service.
    retention: Retention
    retention_worker: RetentionWorker
    # Follows ingestion's consent_captures feed (consent stated inside events); None when
    # PRECIS_CONSENT_INGESTION_TARGET is empty.
    consumer: FeedConsumer | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self, grace: float = 5.0) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        self.retention_worker.stop()
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
    audit_log = AuditLog(database, hasher)
    # Erasing a subject also unlinks it from the audit log, in the same transaction.
    store = ConsentStore(database, writer, erasers=[audit_log.erase_subject])
    channels = {
        name: open_channel(target, interceptors=telemetry.client_interceptors())
        for name, target in settings.consent_privacy_targets.items()
    }
    requests = DataSubjectRequests(
        database,
        hasher,
        store,
        {name: remote_target(ch) for name, ch in channels.items()},
        audit_log=audit_log,
    )
    retention = Retention(
        database,
        audit_log,
        {name: privacy_pb2_grpc.PrivacyServiceStub(ch) for name, ch in channels.items()},
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.consent_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        consent_pb2_grpc.add_ConsentServiceServicer_to_server,
        ConsentServicer(store, hasher, requests, audit_log, retention),
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
    recorder = EventConsentRecorder(store, hasher)
    consumer: FeedConsumer | None = None
    all_channels = list(channels.values())
    if settings.consent_ingestion_target:
        ingestion = open_channel(
            settings.consent_ingestion_target, interceptors=telemetry.client_interceptors()
        )
        all_channels.append(ingestion)
        consumer = FeedConsumer(
            consumer="consent",
            feed=CAPTURES_FEED,
            channel=ingestion,
            database=database,
            cursors=feed_cursors,
            apply=recorder.apply_batch,
            tracer=telemetry.tracer,
            on_applied=recorder.committed,
        )
    return ConsentApp(
        settings,
        telemetry,
        database,
        server,
        store,
        requests,
        worker,
        all_channels,
        recorder,
        audit_log,
        retention,
        RetentionWorker(retention, settings.consent_retention_interval_seconds),
        consumer,
    )


def start(app: ConsentApp) -> ConsentApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    app.worker.start()
    app.retention_worker.start()
    if app.consumer is not None:
        app.consumer.start()
    return app
