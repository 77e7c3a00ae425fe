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

    @property
    def database_url(self) -> str:
        return self.consent_database_url or self.sqlite_url("consent")
