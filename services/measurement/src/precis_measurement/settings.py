"""Measurement settings (PRECIS_MEASUREMENT_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class MeasurementSettings(CommonSettings):
    measurement_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file measurement.db in the state folder.",
    )
    measurement_grpc_port: int = Field(default=50056, ge=0, le=65535)
    measurement_profile_target: str = Field(
        default="127.0.0.1:50052",
        description=(
            "host:port of the profile service: its profile_changes feed brings exposures and "
            "conversions keyed by profile (with merges and erasures), and GetProfile resolves "
            "identifiers."
        ),
    )
    measurement_segmentation_target: str = Field(
        default="127.0.0.1:50054",
        description=(
            "host:port of the segmentation service: campaigns enroll the members of their "
            "segment that it releases on the campaign's channel (consent honoured)."
        ),
    )
    measurement_enroll_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "Running campaigns enroll their segment's new members at least this often (and at "
            "once when a campaign starts)."
        ),
    )
    measurement_enroller: bool = Field(
        default=True,
        description="Run the enrollment worker (tests that drive enrollment turn it off).",
    )
    measurement_deadline_seconds: float = Field(
        default=5.0, gt=0, description="Deadline of the calls to profile and segmentation."
    )

    @property
    def database_url(self) -> str:
        return self.measurement_database_url or self.sqlite_url("measurement")
