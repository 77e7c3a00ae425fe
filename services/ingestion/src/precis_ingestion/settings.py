"""Ingestion settings (PRECIS_INGESTION_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from pydantic import Field

from precis_common.settings import CommonSettings


class IngestionSettings(CommonSettings):
    ingestion_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file ingestion.db in the state folder.",
    )
    ingestion_grpc_port: int = Field(default=50051, ge=0, le=65535)

    @property
    def database_url(self) -> str:
        return self.ingestion_database_url or self.sqlite_url("ingestion")
