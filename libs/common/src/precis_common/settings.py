"""Settings shared by every Precis process, read once at start-up from PRECIS_* variables.

Each service subclasses CommonSettings and adds its own fields, named after the service so
that the environment variable says whose it is (``ingestion_grpc_port`` is read from
``PRECIS_INGESTION_GRPC_PORT``). Shared fields (``PRECIS_PII_SECRET``...) must be the same in
every process of one deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used only in development and tests; production refuses to start with it.
DEVELOPMENT_PII_SECRET = "precis-development-pii-secret-change-me"


class CommonSettings(BaseSettings):
    """Fields every service and the gateway share."""

    model_config = SettingsConfigDict(
        env_prefix="PRECIS_", extra="ignore", populate_by_name=True, frozen=True
    )

    environment: Literal["development", "test", "production"] = "development"
    pii_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PII_SECRET),
        description="Master key from which per-workspace HMAC keys for email/phone are derived.",
    )
    default_phone_region: str = Field(
        default="CN",
        description="ISO region used to parse phone numbers written without a +country code.",
    )
    telemetry: Literal["none", "console", "otlp"] = Field(
        default="none",
        description="Span export: none, console, or otlp (default when an endpoint is set).",
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "OTEL_EXPORTER_OTLP_ENDPOINT", "PRECIS_OTLP_ENDPOINT", "otlp_endpoint"
        ),
    )
    log_level: str = "INFO"
    grpc_host: str = Field(default="127.0.0.1", description="Bind address of gRPC servers.")
    state_dir: Path = Field(default=Path(".precis"), description="Folder for the SQLite files.")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> CommonSettings:
        if (
            self.environment == "production"
            and self.pii_secret.get_secret_value() == DEVELOPMENT_PII_SECRET
        ):
            raise ValueError("PRECIS_PII_SECRET must be set to a real secret in production")
        if len(self.pii_secret.get_secret_value()) < 16:
            raise ValueError("PRECIS_PII_SECRET must be at least 16 characters")
        return self

    @property
    def span_exporter(self) -> Literal["none", "console", "otlp"]:
        if self.telemetry == "none" and self.otlp_endpoint:
            return "otlp"
        return self.telemetry

    def sqlite_url(self, name: str) -> str:
        """The embedded default: one SQLite file per service under the state folder."""
        return f"sqlite:///{(self.state_dir / f'{name}.db').as_posix()}"
