"""Wiring of the measurement service: everything a test or __main__ needs, built from
arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider

from precis.common.v1 import privacy_pb2_grpc
from precis.measurement.v1 import measurement_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedConsumer
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_measurement.campaigns import Campaigns, Enroller
from precis_measurement.privacy import MeasurementPrivacy
from precis_measurement.readmodel import PROFILE_FEED, ProfileChangesApplier
from precis_measurement.report_page import render_report_page
from precis_measurement.send_times import SendTimeService
from precis_measurement.servicer import MeasurementPrivacyServicer, MeasurementServicer
from precis_measurement.settings import MeasurementSettings
from precis_measurement.store import feed_cursors

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "measurement"


@dataclass
class MeasurementApp:
    settings: MeasurementSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    campaigns: Campaigns
    enroller: Enroller
    profile_consumer: FeedConsumer
    channels: list[grpc.Channel]

    @property
    def port(self) -> int:
        return self.server.port

    def stop_workers(self) -> None:
        self.profile_consumer.stop()
        self.enroller.stop()

    def stop(self, grace: float = 5.0) -> None:
        self.stop_workers()
        self.server.stop(grace)
        for channel in self.channels:
            channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: MeasurementSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> MeasurementApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    campaigns = Campaigns(database)
    profile_channel = open_channel(
        settings.measurement_profile_target, interceptors=telemetry.client_interceptors()
    )
    segmentation_channel = open_channel(
        settings.measurement_segmentation_target, interceptors=telemetry.client_interceptors()
    )
    enroller = Enroller(
        campaigns,
        segmentation_channel,
        interval_s=settings.measurement_enroll_seconds,
        deadline_s=settings.measurement_deadline_seconds,
    )
    profile_consumer = FeedConsumer(
        consumer=SERVICE_NAME,
        feed=PROFILE_FEED,
        channel=profile_channel,
        database=database,
        cursors=feed_cursors,
        apply=ProfileChangesApplier(hasher, campaigns.conversion_events).apply,
        tracer=telemetry.tracer,
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.measurement_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        measurement_pb2_grpc.add_MeasurementServiceServicer_to_server,
        MeasurementServicer(
            database,
            hasher,
            campaigns,
            enroller,
            profile_channel,
            segmentation_channel,
            send_times=SendTimeService(database),
            render_page=render_report_page,
            deadline_s=settings.measurement_deadline_seconds,
        ),
        "precis.measurement.v1.MeasurementService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        MeasurementPrivacyServicer(MeasurementPrivacy(database), hasher),
        "precis.common.v1.PrivacyService",
    )
    return MeasurementApp(
        settings,
        telemetry,
        database,
        server,
        campaigns,
        enroller,
        profile_consumer,
        [profile_channel, segmentation_channel],
    )


def start(app: MeasurementApp) -> MeasurementApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    app.profile_consumer.start()
    if app.settings.measurement_enroller:
        app.enroller.start()
    return app
