"""What an API key may do: the one list of scopes, a key's grant, and the caller of a request.

A key configured as a plain workspace id is a full-access key: it holds every scope, including
scopes added here later. A key configured as {"workspace", "scopes"} holds exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Scope(StrEnum):
    """Every scope a key can hold. Adding a resource (campaigns:read, ...) adds its scopes here
    and nowhere else: settings validation, the 403 messages and the tests read this list."""

    EVENTS_WRITE = "events:write"
    PROFILES_READ = "profiles:read"
    PROFILES_WRITE = "profiles:write"
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    # Audiences: definitions, sizes (estimates, member counts) and refreshes; no person's data.
    SEGMENTS_READ = "segments:read"
    SEGMENTS_WRITE = "segments:write"
    # Releasing a segment's members for a channel (member ids, CSV export): a use of personal
    # data, recorded in the audit log, so it is granted apart from reading the definitions.
    SEGMENTS_EXPORT = "segments:export"
    # Recommendations: serving (a person's recommendations, similar and popular items), the
    # catalog and the model versions, read; catalog changes and the model lifecycle (training,
    # promotion, rollback), write.
    RECOMMENDATIONS_READ = "recommendations:read"
    RECOMMENDATIONS_WRITE = "recommendations:write"
    # Campaign measurement: campaigns, assignments, reports and the statistics, read; creating
    # and changing campaigns and recording uplift evaluations, write.
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_WRITE = "campaigns:write"
    # Data-subject requests, the suppression list, the audit log, retention policies; it also
    # shows aggregate counts exactly (see disclosure.py).
    PRIVACY_ADMIN = "privacy:admin"
    # Workspace configuration: tag definitions, merge rules, the life-stage rule, consent
    # defaults, RFM refresh.
    WORKSPACE_ADMIN = "workspace:admin"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


class KeyGrant(BaseModel):
    """A key's workspace and scopes, as configured in PRECIS_GATEWAY_API_KEYS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace: str = Field(description="The workspace the key belongs to.")
    scopes: frozenset[Scope] = Field(description="What the key may do (never empty).")

    @classmethod
    def of(cls, configured: str | KeyGrant) -> KeyGrant:
        """The grant of a configured value: a plain workspace id is a full-access key."""
        if isinstance(configured, str):
            return cls(workspace=configured, scopes=ALL_SCOPES)
        return configured


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: the key's workspace, its non-secret id and its scopes."""

    workspace: str
    key_id: str
    scopes: frozenset[Scope]

    @property
    def is_admin(self) -> bool:
        """A privacy administrator: sees personal-data administration and exact counts."""
        return Scope.PRIVACY_ADMIN in self.scopes

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes
