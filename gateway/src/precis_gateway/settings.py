"""Gateway settings (PRECIS_GATEWAY_* plus the shared PRECIS_* variables), read once at start-up."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from precis_common.settings import CommonSettings

# Production refuses API keys shorter than this: they can be guessed.
MIN_PRODUCTION_KEY_LENGTH = 24
# A key given as "sha256:<64 hex>" is already hashed: the configuration then holds no usable secret.
HASHED_KEY = re.compile(r"^sha256:[0-9a-f]{64}$")
# The same rule ingestion applies to the workspace metadata; checked here so that a typo in the
# key file fails at start-up instead of on every request.
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class GatewaySettings(CommonSettings):
    gateway_host: str = Field(default="127.0.0.1", description="Bind address of the HTTP server.")
    gateway_port: int = Field(default=8080, ge=0, le=65535)
    gateway_ingestion_target: str = Field(
        default="127.0.0.1:50051", description="host:port of the ingestion gRPC service."
    )
    gateway_profile_target: str = Field(
        default="127.0.0.1:50052", description="host:port of the profile gRPC service."
    )
    gateway_consent_target: str = Field(
        default="127.0.0.1:50053", description="host:port of the consent gRPC service."
    )
    gateway_api_keys: dict[str, str] = Field(
        default_factory=dict,
        repr=False,  # the keys are secrets: keep them out of logs and tracebacks
        description=(
            "API key -> workspace id, as JSON in PRECIS_GATEWAY_API_KEYS. A key may be given "
            "hashed as sha256:<hex digest of the key>. With no keys every request is refused."
        ),
    )
    gateway_deadline_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Deadline of every gRPC call to a service."
    )
    gateway_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Larger request bodies are refused with 413."
    )

    @field_validator("gateway_api_keys")
    @classmethod
    def _check_workspaces(cls, keys: dict[str, str]) -> dict[str, str]:
        for key, workspace in keys.items():
            if not key:
                raise ValueError("API keys must not be empty")
            if not _WORKSPACE_ID.match(workspace):
                raise ValueError(
                    f"workspace id {workspace!r} must be 1-64 letters, digits, '-' or '_'"
                )
        return keys

    @model_validator(mode="after")
    def _refuse_weak_keys_in_production(self) -> GatewaySettings:
        if self.environment != "production":
            return self
        if not self.gateway_api_keys:
            raise ValueError(
                "PRECIS_GATEWAY_API_KEYS must configure at least one key in production"
            )
        for key in self.gateway_api_keys:
            if not HASHED_KEY.match(key) and len(key) < MIN_PRODUCTION_KEY_LENGTH:
                raise ValueError(
                    f"API keys must have at least {MIN_PRODUCTION_KEY_LENGTH} characters"
                    " in production"
                )
        return self
