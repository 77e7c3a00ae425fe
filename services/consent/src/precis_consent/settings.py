"""Consent settings (PRECIS_CONSENT_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field, model_validator

from precis_common.settings import CommonSettings


class ConsentSettings(CommonSettings):
    consent_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file consent.db in the state folder.",
    )
    consent_grpc_port: int = Field(default=50053, ge=0, le=65535)
    consent_privacy_targets: dict[str, str] = Field(
        default_factory=lambda: {
            "ingestion": "127.0.0.1:50051",
            "profile": "127.0.0.1:50052",
            "segmentation": "127.0.0.1:50054",
            "recommendation": "127.0.0.1:50055",
            "measurement": "127.0.0.1:50056",
        },
        description=(
            "Service name -> host:port of every other service holding personal data (their "
            "PrivacyService), as JSON in PRECIS_CONSENT_PRIVACY_TARGETS. Data-subject requests "
            "call each; the consent service's own ledger is always included."
        ),
    )
    consent_dsr_interval_seconds: float = Field(
        default=1.0, ge=0, description="How often open data-subject requests advance (0: never)."
    )

    consent_retention_interval_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "How often the retention job applies every workspace's retention policies in every "
            "service (the first run 30 s after start; 0: never, apply on demand only)."
        ),
    )
    consent_ingestion_target: str = Field(
        default="",
        description=(
            "host:port of the ingestion service, whose consent_captures feed brings the consent "
            "that events state in context.consent; it is recorded in the ledger. Empty: such "
            "consent is not recorded; refused in production."
        ),
    )

    @model_validator(mode="after")
    def _event_consent_in_production(self) -> ConsentSettings:
        if self.environment == "production" and not self.consent_ingestion_target:
            raise ValueError(
                "PRECIS_CONSENT_INGESTION_TARGET must be set in production: without it, consent "
                "stated inside events never reaches the ledger"
            )
        return self

    @property
    def database_url(self) -> str:
        return self.consent_database_url or self.sqlite_url("consent")
