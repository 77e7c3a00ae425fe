"""Ingestion settings (PRECIS_INGESTION_* plus the shared PRECIS_* variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from precis_common.settings import CommonSettings


class IngestionSettings(CommonSettings):
    ingestion_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file ingestion.db in the state folder.",
    )
    ingestion_grpc_port: int = Field(default=50051, ge=0, le=65535)
    ingestion_consent_target: str = Field(
        default="",
        description=(
            "host:port of the consent service, whose consent_changes feed brings the suppression "
            "list of erased subjects (their events are then refused). Empty: no suppression; "
            "refused in production."
        ),
    )

    ingestion_analytics_policy: dict[str, Literal["keep", "minimize", "drop"]] = Field(
        default_factory=dict,
        description=(
            'Workspace id (or "*" for any other) -> what happens to an event whose subject '
            "has no analytics consent: keep it, minimize it (stored without identifiers, traits, "
            "properties or context, so it counts but links to nobody) or drop it. JSON in "
            "PRECIS_INGESTION_ANALYTICS_POLICY; default keep. Needs the consent target."
        ),
    )

    def analytics_policy(self, workspace_id: str) -> str:
        policy = self.ingestion_analytics_policy
        return policy.get(workspace_id) or policy.get("*") or "keep"

    @model_validator(mode="after")
    def _policy_needs_consent(self) -> IngestionSettings:
        enforced = any(v != "keep" for v in self.ingestion_analytics_policy.values())
        if enforced and not self.ingestion_consent_target:
            raise ValueError(
                "PRECIS_INGESTION_ANALYTICS_POLICY enforces consent: set "
                "PRECIS_INGESTION_CONSENT_TARGET too"
            )
        return self

    @model_validator(mode="after")
    def _suppression_in_production(self) -> IngestionSettings:
        if self.environment == "production" and not self.ingestion_consent_target:
            raise ValueError(
                "PRECIS_INGESTION_CONSENT_TARGET must be set in production: without it, events "
                "of erased data subjects would be accepted again"
            )
        return self

    @property
    def database_url(self) -> str:
        return self.ingestion_database_url or self.sqlite_url("ingestion")
