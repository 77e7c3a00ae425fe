"""Wiring of the segmentation service: everything a test or __main__ needs, built from arguments."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2, feed_pb2_grpc, privacy_pb2_grpc
from precis.segmentation.v1 import segmentation_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedConsumer, FeedServicer, FeedWriter
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_segmentation.builtin import Families, JobRunner
from precis_segmentation.campaigns import MeasurementCampaigns
from precis_segmentation.consent_sync import ConsentSync
from precis_segmentation.privacy import SegmentationPrivacy
from precis_segmentation.readmodel import (
    CONSENT_FEED,
    PROFILE_FEED,
    ConsentChangesApplier,
    ProfileChangesApplier,
    Touched,
)
from precis_segmentation.segments import Memberships, Scheduler, SegmentStore
from precis_segmentation.servicer import SegmentationPrivacyServicer, SegmentationServicer
from precis_segmentation.settings import SegmentationSettings
from precis_segmentation.store import feed_cursors, membership_changes

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "segmentation"


class ConsentFollower:
    """Applies consent_changes (queues the profiles concerned) and says how current the read
    model's consent is, which decides whether members may be released
    (SegmentStore.require_fresh_consent)."""

    def __init__(self, applier: ConsentChangesApplier) -> None:
        self.applier = applier
        self.consumer: FeedConsumer | None = None
        self.sync: ConsentSync | None = None

    def apply(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        self.applier.apply(session, entries)

    def applied(self) -> None:
        if self.sync is not None:
            self.sync.wake()

    def lag(self) -> float | None:
        """Seconds since the consent feed was last read; None when it never was or when the
        consent service does not answer the checks of the profiles it named."""
        if self.consumer is None or self.consumer.last_success is None:
            return None
        if self.sync is not None and self.sync.last_error is not None:
            return None
        return time.monotonic() - self.consumer.last_success


@dataclass
class SegmentationApp:
    settings: SegmentationSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    store: SegmentStore
    memberships: Memberships
    profile_consumer: FeedConsumer
    consent_consumer: FeedConsumer
    consent_follower: ConsentFollower
    consent_sync: ConsentSync
    scheduler: Scheduler
    channels: list[grpc.Channel]
    families: Families
    jobs: JobRunner

    @property
    def port(self) -> int:
        return self.server.port

    def stop_workers(self) -> None:
        self.profile_consumer.stop()
        self.consent_consumer.stop()
        self.consent_sync.stop()
        self.scheduler.stop()
        self.jobs.stop()

    def stop(self, grace: float = 5.0) -> None:
        self.stop_workers()
        self.server.stop(grace)
        for channel in self.channels:
            channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: SegmentationSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> SegmentationApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    writer = FeedWriter(membership_changes)
    memberships = Memberships(writer)
    follower = ConsentFollower(ConsentChangesApplier(hasher))
    store = SegmentStore(
        database,
        memberships,
        consent_health=follower.lag,
        consent_stale_after_s=settings.segmentation_consent_stale_seconds,
        query_timeout_s=settings.segmentation_query_timeout_seconds,
    )
    profile_applier = ProfileChangesApplier(hasher)

    def apply_profile_changes(session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        touched = Touched()
        profile_applier.apply(session, entries, touched)
        for workspace in sorted(touched.workspaces()):
            memberships.reevaluate(
                session,
                workspace,
                touched.changed.get(workspace, set()),
                touched.removed.get(workspace, set()),
            )

    def reevaluate(session: Session, workspace: str, profile_ids: set[str]) -> None:
        memberships.reevaluate(session, workspace, profile_ids)

    profile_channel = open_channel(
        settings.segmentation_profile_target, interceptors=telemetry.client_interceptors()
    )
    consent_channel = open_channel(
        settings.segmentation_consent_target, interceptors=telemetry.client_interceptors()
    )
    consent_sync = ConsentSync(
        database, consent_channel, reevaluate, writer.lock, on_committed=writer.committed
    )
    follower.sync = consent_sync

    def profile_changes_committed() -> None:
        writer.committed()
        consent_sync.wake()

    profile_consumer = FeedConsumer(
        consumer="segmentation",
        feed=PROFILE_FEED,
        channel=profile_channel,
        database=database,
        cursors=feed_cursors,
        apply=apply_profile_changes,
        tracer=telemetry.tracer,
        on_applied=profile_changes_committed,
    )
    consent_consumer = FeedConsumer(
        consumer="segmentation",
        feed=CONSENT_FEED,
        channel=consent_channel,
        database=database,
        cursors=feed_cursors,
        apply=follower.apply,
        tracer=telemetry.tracer,
        on_applied=follower.applied,
    )
    follower.consumer = consent_consumer
    measurement_channel = open_channel(
        settings.segmentation_measurement_target, interceptors=telemetry.client_interceptors()
    )
    jobs = JobRunner()
    families = Families(
        database,
        store,
        jobs,
        MeasurementCampaigns(
            measurement_channel, settings.segmentation_measurement_deadline_seconds
        ),
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.segmentation_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        segmentation_pb2_grpc.add_SegmentationServiceServicer_to_server,
        SegmentationServicer(store, hasher, families),
        "precis.segmentation.v1.SegmentationService",
    )
    server.add(
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        FeedServicer(database, [writer]),
        "precis.common.v1.FeedService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        SegmentationPrivacyServicer(SegmentationPrivacy(database), hasher),
        "precis.common.v1.PrivacyService",
    )
    scheduler = Scheduler(
        store,
        settings.segmentation_scheduler_interval_seconds,
        settings.segmentation_time_refresh_seconds,
    )
    return SegmentationApp(
        settings,
        telemetry,
        database,
        server,
        store,
        memberships,
        profile_consumer,
        consent_consumer,
        follower,
        consent_sync,
        scheduler,
        [profile_channel, consent_channel, measurement_channel],
        families,
        jobs,
    )


def start(app: SegmentationApp) -> SegmentationApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    app.profile_consumer.start()
    app.consent_consumer.start()
    app.consent_sync.start()
    app.scheduler.start()
    app.families.fail_interrupted()
    app.jobs.start()
    return app
