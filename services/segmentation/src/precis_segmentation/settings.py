"""Segmentation settings (PRECIS_SEGMENTATION_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class SegmentationSettings(CommonSettings):
    segmentation_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file segmentation.db in the state folder.",
    )
    segmentation_grpc_port: int = Field(default=50054, ge=0, le=65535)
    segmentation_profile_target: str = Field(
        default="127.0.0.1:50052",
        description=(
            "host:port of the profile service, whose profile_changes feed fills the read model "
            "(profiles, tags, identifiers and event facts)."
        ),
    )
    segmentation_consent_target: str = Field(
        default="127.0.0.1:50053",
        description=(
            "host:port of the consent service: its consent_changes feed says whose consent "
            "changed, and CheckConsent answers for them."
        ),
    )
    segmentation_measurement_target: str = Field(
        default="127.0.0.1:50056",
        description=(
            "host:port of the measurement service, whose campaigns' subjects and outcomes train "
            "uplift models (only called while an uplift model is requested or trained)."
        ),
    )
    segmentation_measurement_deadline_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Deadline of each call to the measurement service (a page of subjects).",
    )
    segmentation_time_refresh_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "How often a materialized segment whose rule moves with the clock (relative windows "
            "and dates) is re-evaluated when it sets no refresh interval of its own (0: never)."
        ),
    )
    segmentation_scheduler_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often the scheduler looks for segments due a refresh (0: never).",
    )
    segmentation_consent_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Members are not released on a channel when the consent_changes feed was not read "
            "for this long (the answer is UNAVAILABLE rather than a release on stale consent)."
        ),
    )

    segmentation_query_timeout_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "Statement timeout of estimates and previews on PostgreSQL: a rule that runs longer "
            "is refused as too expensive (FAILED_PRECONDITION) instead of running on (0: none)."
        ),
    )

    @property
    def database_url(self) -> str:
        return self.segmentation_database_url or self.sqlite_url("segmentation")
