"""Recommendation settings (PRECIS_RECOMMENDATION_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class RecommendationSettings(CommonSettings):
    recommendation_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file recommendation.db in the state folder.",
    )
    recommendation_grpc_port: int = Field(default=50055, ge=0, le=65535)
    recommendation_profile_target: str = Field(
        default="127.0.0.1:50052",
        description=(
            "host:port of the profile service: its profile_changes feed brings the interactions "
            "(keyed by profile, with merges and erasures), and GetProfile resolves identifiers."
        ),
    )
    recommendation_consent_target: str = Field(
        default="127.0.0.1:50053",
        description=(
            "host:port of the consent service, asked (CheckConsent, personalization) before a "
            "profile is personalized."
        ),
    )
    recommendation_segmentation_target: str = Field(
        default="127.0.0.1:50054",
        description=(
            "host:port of the segmentation service, whose membership_changes feed gives the "
            "members of segments for popular-in-segment."
        ),
    )
    recommendation_deadline_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Deadline of the profile and consent calls made while serving.",
    )

    recommendation_popular_refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        description=(
            "Popular lists (also the fallback of every request not personalized) are computed "
            "again at most this often while new interactions arrive (0: at every change)."
        ),
    )

    @property
    def database_url(self) -> str:
        return self.recommendation_database_url or self.sqlite_url("recommendation")
