"""Gateway settings (PRECIS_GATEWAY_* plus the shared PRECIS_* variables), read once at start-up."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from precis_common.settings import CommonSettings
from precis_gateway.scopes import KeyGrant, Scope

# Production refuses API keys shorter than this: they can be guessed.
MIN_PRODUCTION_KEY_LENGTH = 24
# A key given as "sha256:<64 hex>" is already hashed: the configuration then holds no usable secret.
HASHED_KEY = re.compile(r"^sha256:[0-9a-f]{64}$")
# The same rule ingestion applies to the workspace metadata; checked here so that a typo in the
# key file fails at start-up instead of on every request.
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GRANT_FIELDS = {"workspace", "scopes"}


def configured_key_id(key: str) -> str:
    """The safe id (ApiKeys.key_id) of a key as configured: `key:` and the first 8 hex digits
    of its SHA-256 digest, read off a `sha256:<hex>` key as it stands."""
    digest = key[7:] if HASHED_KEY.match(key) else hashlib.sha256(key.encode()).hexdigest()
    return "key:" + digest[:8]


def _workspace(key: str, workspace: object) -> str:
    if not isinstance(workspace, str) or not _WORKSPACE_ID.match(workspace):
        raise ValueError(
            f"API key {configured_key_id(key)}: workspace id {workspace!r} must be 1-64 letters, "
            "digits, '-' or '_'"
        )
    return workspace


def _grant(key: str, value: object) -> str | KeyGrant:
    """One entry of PRECIS_GATEWAY_API_KEYS checked by hand, so that every message names the key
    by its safe id: pydantic's own errors would put the key itself in their location."""
    if isinstance(value, str):
        return _workspace(key, value)
    if isinstance(value, KeyGrant):
        value = {"workspace": value.workspace, "scopes": sorted(value.scopes)}
    name = configured_key_id(key)
    if not isinstance(value, Mapping):
        raise ValueError(
            f'API key {name}: expected a workspace id or {{"workspace": ..., "scopes": [...]}}'
        )
    unknown = sorted(str(f) for f in value if f not in _GRANT_FIELDS)
    if unknown or "workspace" not in value or "scopes" not in value:
        raise ValueError(
            f"API key {name}: expected the fields workspace and scopes"
            + (f", not {', '.join(unknown)}" if unknown else "")
        )
    scopes = value["scopes"]
    if isinstance(scopes, str) or not isinstance(scopes, list | tuple | set | frozenset):
        raise ValueError(f"API key {name}: scopes must be a list of scope names")
    if not scopes:
        raise ValueError(
            f"API key {name}: scopes must not be empty (a plain workspace id gives full access)"
        )
    known = {s.value for s in Scope}
    bad = sorted(str(s) for s in scopes if s not in known)
    if bad:
        raise ValueError(
            f"API key {name}: unknown scope {', '.join(map(repr, bad))}; known scopes: "
            + ", ".join(s.value for s in Scope)
        )
    return KeyGrant(
        workspace=_workspace(key, value["workspace"]), scopes=frozenset(Scope(s) for s in scopes)
    )


class GatewaySettings(CommonSettings):
    # A rejected value would be echoed in the error, and gateway_api_keys holds secrets.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

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
    gateway_segmentation_target: str = Field(
        default="127.0.0.1:50054", description="host:port of the segmentation gRPC service."
    )
    gateway_recommendation_target: str = Field(
        default="127.0.0.1:50055", description="host:port of the recommendation gRPC service."
    )
    gateway_measurement_target: str = Field(
        default="127.0.0.1:50056", description="host:port of the measurement gRPC service."
    )
    gateway_api_keys: dict[str, str | KeyGrant] = Field(
        default_factory=dict,
        repr=False,  # the keys are secrets: keep them out of logs and tracebacks
        description=(
            "API key -> grant, as JSON in PRECIS_GATEWAY_API_KEYS. The grant is a workspace id "
            '(a full-access key: every scope, present and future) or {"workspace": "...", '
            '"scopes": ["profiles:read", ...]} (exactly those scopes; see scopes.Scope). A key '
            "may be given hashed as sha256:<hex digest of the key>. With no keys every request "
            "is refused."
        ),
    )
    gateway_deadline_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Deadline of every gRPC call to a service."
    )
    gateway_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Larger request bodies are refused with 413."
    )
    gateway_audit_batch_size: int = Field(
        default=200,
        ge=1,
        le=500,
        description="Audit events sent to the consent service per RecordAuditEvents call.",
    )
    gateway_audit_flush_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Longest an audit event waits for its batch to fill before it is sent.",
    )
    gateway_audit_max_pending: int = Field(
        default=50_000,
        ge=1,
        description=(
            "Audit events held in memory while the consent service is unavailable. When full, "
            "new events are dropped, counted and logged at ERROR; requests are still served."
        ),
    )
    gateway_audit_max_backoff_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest wait between retries of audit events while consent is away.",
    )
    gateway_audit_shutdown_seconds: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="How long shutdown waits for audit events still queued to be sent.",
    )
    gateway_small_cell_k: int = Field(
        default=10,
        ge=1,
        description=(
            "Small-cell threshold k: an aggregate count of profiles from 1 to k-1 shown to a key "
            "without privacy:admin is withheld (null), with the complementary counts that would "
            "give it away by subtraction (see disclosure.py). 1 turns the rule off."
        ),
    )

    @field_validator("gateway_api_keys", mode="before")
    @classmethod
    def _check_grants(cls, keys: Any) -> Any:
        if not isinstance(keys, Mapping):
            return keys  # pydantic refuses it as not an object
        grants: dict[str, str | KeyGrant] = {}
        for key, value in keys.items():
            if not isinstance(key, str) or not key:
                raise ValueError("API keys must be non-empty strings")
            grants[key] = _grant(key, value)
        return grants

    def key_grants(self) -> dict[str, KeyGrant]:
        """Every key with its grant; a plain workspace id is a full-access key."""
        return {key: KeyGrant.of(value) for key, value in self.gateway_api_keys.items()}

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
                    f"API key {configured_key_id(key)}: API keys must have at least "
                    f"{MIN_PRODUCTION_KEY_LENGTH} characters in production"
                )
        return self
