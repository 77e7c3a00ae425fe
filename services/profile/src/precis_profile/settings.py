"""Profile settings (PRECIS_PROFILE_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class ProfileSettings(CommonSettings):
    profile_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file profile.db in the state folder.",
    )
    profile_grpc_port: int = Field(default=50052, ge=0, le=65535)
    profile_ingestion_target: str = Field(
        default="127.0.0.1:50051", description="host:port of the ingestion service (events feed)."
    )
    profile_consume: bool = Field(
        default=True, description="Run the events-feed consumer in this process."
    )
    profile_batch_size: int = Field(default=500, ge=1, le=5000)
    profile_rfm_refresh_seconds: float = Field(
        default=3600.0, ge=0, description="How often RFM boundaries are recomputed (0: never)."
    )

    @property
    def database_url(self) -> str:
        return self.profile_database_url or self.sqlite_url("profile")
