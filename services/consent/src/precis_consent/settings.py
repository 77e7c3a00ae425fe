"""Consent settings (PRECIS_CONSENT_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class ConsentSettings(CommonSettings):
    consent_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file consent.db in the state folder.",
    )
    consent_grpc_port: int = Field(default=50053, ge=0, le=65535)
    consent_privacy_targets: dict[str, str] = Field(
        default_factory=lambda: {"ingestion": "127.0.0.1:50051", "profile": "127.0.0.1:50052"},
        description=(
            "Service name -> host:port of every other service holding personal data (their "
            "PrivacyService), as JSON in PRECIS_CONSENT_PRIVACY_TARGETS. Data-subject requests "
            "call each; the consent service's own ledger is always included."
        ),
    )
    consent_dsr_interval_seconds: float = Field(
        default=1.0, ge=0, description="How often open data-subject requests advance (0: never)."
    )

    @property
    def database_url(self) -> str:
        return self.consent_database_url or self.sqlite_url("consent")
