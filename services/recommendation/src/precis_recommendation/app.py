"""Wiring of the recommendation service: everything a test or __main__ needs, built from
arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2, privacy_pb2_grpc
from precis.recommendation.v1 import recommendation_pb2_grpc
from precis_common.db import Database
from precis_common.feed import FeedConsumer
from precis_common.grpc_client import open_channel
from precis_common.grpc_server import GrpcServer
from precis_common.runtime import open_runtime
from precis_common.telemetry import Telemetry
from precis_recommendation.jobs import TrainingJobs
from precis_recommendation.privacy import RecommendationPrivacy
from precis_recommendation.readmodel import (
    MEMBERSHIP_FEED,
    PROFILE_FEED,
    MembershipChangesApplier,
    ProfileChangesApplier,
)
from precis_recommendation.registry import ModelCache, Registry
from precis_recommendation.servicer import RecommendationPrivacyServicer, RecommendationServicer
from precis_recommendation.serving import Serving
from precis_recommendation.settings import RecommendationSettings
from precis_recommendation.store import feed_cursors

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = "recommendation"


@dataclass
class RecommendationApp:
    settings: RecommendationSettings
    telemetry: Telemetry
    database: Database
    server: GrpcServer
    serving: Serving
    registry: Registry
    jobs: TrainingJobs
    profile_consumer: FeedConsumer
    membership_consumer: FeedConsumer
    channels: list[grpc.Channel]

    @property
    def port(self) -> int:
        return self.server.port

    def stop_workers(self) -> None:
        self.profile_consumer.stop()
        self.membership_consumer.stop()
        self.jobs.stop()

    def stop(self, grace: float = 5.0) -> None:
        self.stop_workers()
        self.server.stop(grace)
        for channel in self.channels:
            channel.close()
        self.database.dispose()
        self.telemetry.shutdown()


def build(
    settings: RecommendationSettings,
    *,
    tracer_provider: TracerProvider | None = None,
    configure_logs: bool = True,
) -> RecommendationApp:
    runtime = open_runtime(
        SERVICE_NAME,
        settings,
        database_url=settings.database_url,
        migrations=MIGRATIONS,
        tracer_provider=tracer_provider,
        configure_logs=configure_logs,
    )
    telemetry, database, hasher = runtime.telemetry, runtime.database, runtime.hasher
    models = ModelCache()
    serving = Serving(
        database, models, popular_refresh_seconds=settings.recommendation_popular_refresh_seconds
    )
    registry = Registry(database)
    jobs = TrainingJobs(database, registry, consumer=SERVICE_NAME, feed=PROFILE_FEED)
    profile_applier = ProfileChangesApplier(hasher)
    changed: set[str] = set()

    def apply_profile_changes(session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        changed.update(profile_applier.apply(session, entries))

    def profile_changes_committed() -> None:
        serving.popular_cache.forget(changed)
        changed.clear()

    def membership_committed() -> None:
        serving.popular_cache.forget_all()

    profile_channel = open_channel(
        settings.recommendation_profile_target, interceptors=telemetry.client_interceptors()
    )
    consent_channel = open_channel(
        settings.recommendation_consent_target, interceptors=telemetry.client_interceptors()
    )
    segmentation_channel = open_channel(
        settings.recommendation_segmentation_target, interceptors=telemetry.client_interceptors()
    )
    profile_consumer = FeedConsumer(
        consumer=SERVICE_NAME,
        feed=PROFILE_FEED,
        channel=profile_channel,
        database=database,
        cursors=feed_cursors,
        apply=apply_profile_changes,
        tracer=telemetry.tracer,
        on_applied=profile_changes_committed,
    )
    membership_consumer = FeedConsumer(
        consumer=SERVICE_NAME,
        feed=MEMBERSHIP_FEED,
        channel=segmentation_channel,
        database=database,
        cursors=feed_cursors,
        apply=MembershipChangesApplier().apply,
        tracer=telemetry.tracer,
        on_applied=membership_committed,
    )
    server = GrpcServer(
        name=SERVICE_NAME,
        host=settings.grpc_host,
        port=settings.recommendation_grpc_port,
        interceptors=telemetry.server_interceptors(),
    )
    server.add(
        recommendation_pb2_grpc.add_RecommendationServiceServicer_to_server,
        RecommendationServicer(
            database,
            hasher,
            serving,
            registry,
            jobs,
            profile_channel,
            consent_channel,
            deadline_s=settings.recommendation_deadline_seconds,
        ),
        "precis.recommendation.v1.RecommendationService",
    )
    server.add(
        privacy_pb2_grpc.add_PrivacyServiceServicer_to_server,
        RecommendationPrivacyServicer(
            RecommendationPrivacy(database, on_models_changed=models.forget), hasher
        ),
        "precis.common.v1.PrivacyService",
    )
    return RecommendationApp(
        settings,
        telemetry,
        database,
        server,
        serving,
        registry,
        jobs,
        profile_consumer,
        membership_consumer,
        [profile_channel, consent_channel, segmentation_channel],
    )


def start(app: RecommendationApp) -> RecommendationApp:
    app.server.start()
    app.server.watch_readiness(app.database.ping)
    app.profile_consumer.start()
    app.membership_consumer.start()
    app.jobs.fail_interrupted()
    app.jobs.start()
    return app
