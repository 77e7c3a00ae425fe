"""The consent rules as pure functions: purposes, workspace defaults per jurisdiction, and the
decision whether a purpose is allowed for a subject now.

Decisions written down here:
  - The subject's latest decision wins, by the time the subject made it (occurred_at), whichever
    of its identifiers it was recorded under: a withdrawal by email stops processing keyed by
    user_id too, when the caller names both. Imports of old decisions never override newer ones.
  - Built-in defaults (a workspace that set none): analytics and personalization are allowed
    (the service itself, under contract or legitimate interest), every other purpose needs an
    explicit grant (opt-in), and third-party sharing, cross-border transfer and sensitive data
    need a separate consent that cannot be bundled with other choices (PIPL articles 23, 39, 29).
  - Where PIPL or GDPR applies (CN, the EU/EEA, the UK, and the fallback "*", which may cover
    them), marketing, ads targeting, sharing, transfer and sensitive data may not default to
    granted; other jurisdictions (for example US-CA) may choose an opt-out default.
  - Minors: under PIPL a child's data is sensitive and needs a guardian's consent, so for a
    subject marked as a minor nothing is allowed by default, and only a guardian's grant counts.
    Denials and withdrawals count whoever made them.
  - A grant under a policy version older than the jurisdiction's minimum no longer counts
    (versions compare as strings: use sortable ones such as "2026-05").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from precis.consent.v1 import consent_pb2 as pb
from precis_common.errors import InvalidArgument, Violation
from precis_common.privacy import JURISDICTION

PURPOSES: dict[int, str] = {
    pb.PURPOSE_ANALYTICS: "analytics",
    pb.PURPOSE_PERSONALIZATION: "personalization",
    pb.PURPOSE_MARKETING_EMAIL: "marketing_email",
    pb.PURPOSE_MARKETING_SMS: "marketing_sms",
    pb.PURPOSE_MARKETING_PUSH: "marketing_push",
    pb.PURPOSE_ADS_TARGETING: "ads_targeting",
    pb.PURPOSE_THIRD_PARTY_SHARING: "third_party_sharing",
    pb.PURPOSE_CROSS_BORDER_TRANSFER: "cross_border_transfer",
    pb.PURPOSE_SENSITIVE_DATA: "sensitive_data",
}
PURPOSE_IDS = {v: k for k, v in PURPOSES.items()}

GRANTED, DENIED, WITHDRAWN = "granted", "denied", "withdrawn"
STATUSES: dict[int, str] = {
    pb.CONSENT_STATUS_GRANTED: GRANTED,
    pb.CONSENT_STATUS_DENIED: DENIED,
    pb.CONSENT_STATUS_WITHDRAWN: WITHDRAWN,
}
STATUS_IDS = {v: k for k, v in STATUSES.items()}

LEGAL_BASES: dict[int, str] = {
    pb.LEGAL_BASIS_CONSENT: "consent",
    pb.LEGAL_BASIS_CONTRACT: "contract",
    pb.LEGAL_BASIS_LEGAL_OBLIGATION: "legal_obligation",
    pb.LEGAL_BASIS_VITAL_INTERESTS: "vital_interests",
    pb.LEGAL_BASIS_PUBLIC_INTEREST: "public_interest",
    pb.LEGAL_BASIS_LEGITIMATE_INTERESTS: "legitimate_interests",
}
LEGAL_BASIS_IDS = {v: k for k, v in LEGAL_BASES.items()}

CHANNELS: dict[int, str] = {
    pb.CAPTURE_CHANNEL_UNSPECIFIED: "unspecified",
    pb.CAPTURE_CHANNEL_WEB: "web",
    pb.CAPTURE_CHANNEL_APP: "app",
    pb.CAPTURE_CHANNEL_MINI_PROGRAM: "mini_program",
    pb.CAPTURE_CHANNEL_POS: "pos",
    pb.CAPTURE_CHANNEL_CALL_CENTER: "call_center",
    pb.CAPTURE_CHANNEL_EMAIL: "email",
    pb.CAPTURE_CHANNEL_SMS: "sms",
    pb.CAPTURE_CHANNEL_IMPORT: "import",
    pb.CAPTURE_CHANNEL_API: "api",
}
CHANNEL_IDS = {v: k for k, v in CHANNELS.items()}

# Purposes that need their own consent under PIPL and may never default to granted where it
# (or GDPR) applies.
SEPARATE = frozenset({"third_party_sharing", "cross_border_transfer", "sensitive_data"})
OPT_IN_WHERE_REGULATED = SEPARATE | {
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "ads_targeting",
}
FALLBACK = "*"
# ISO 3166-1 alpha-2 codes of the EU/EEA and the UK, where GDPR (or UK GDPR) applies, and CN.
_GDPR = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO GB"
)
REGULATED = frozenset(["CN", FALLBACK, *_GDPR.split(" ")])
DEFAULT_MINOR_AGE = 14  # PIPL article 28: personal information of children under 14 is sensitive
BUILT_IN_GRANTED = frozenset({"analytics", "personalization"})


def regulated(jurisdiction: str) -> bool:
    return jurisdiction in REGULATED or jurisdiction.split("-")[0] in REGULATED


def check_jurisdiction(value: str, field: str) -> str:
    if not JURISDICTION.match(value):
        raise InvalidArgument.field(
            field, 'must be an ISO 3166 code such as "CN", "DE" or "US-CA", or "*"'
        )
    return value


@dataclass(frozen=True, slots=True)
class PurposeDefault:
    status: str  # granted or denied
    separate: bool


@dataclass(frozen=True, slots=True)
class JurisdictionDefaults:
    jurisdiction: str
    purposes: Mapping[str, PurposeDefault]
    minor_age_threshold: int = DEFAULT_MINOR_AGE
    minimum_policy_version: str = ""
    updated_at: datetime | None = None
    built_in: bool = False

    def default(self, purpose: str) -> PurposeDefault:
        return self.purposes.get(purpose) or built_in_default(purpose)

    def to_json(self) -> dict[str, Any]:
        return {
            "purposes": {
                p: {"status": d.status, "separate": d.separate} for p, d in self.purposes.items()
            },
            "minor_age_threshold": self.minor_age_threshold,
            "minimum_policy_version": self.minimum_policy_version,
        }

    @classmethod
    def from_json(
        cls, jurisdiction: str, doc: Mapping[str, Any], updated_at: datetime | None
    ) -> JurisdictionDefaults:
        return cls(
            jurisdiction,
            {
                p: PurposeDefault(d["status"], bool(d["separate"]))
                for p, d in doc.get("purposes", {}).items()
            },
            int(doc.get("minor_age_threshold", DEFAULT_MINOR_AGE)),
            str(doc.get("minimum_policy_version", "")),
            updated_at,
        )


def built_in_default(purpose: str) -> PurposeDefault:
    return PurposeDefault(GRANTED if purpose in BUILT_IN_GRANTED else DENIED, purpose in SEPARATE)


def built_in(jurisdiction: str) -> JurisdictionDefaults:
    return JurisdictionDefaults(
        jurisdiction, {p: built_in_default(p) for p in PURPOSE_IDS}, built_in=True
    )


def validate_defaults(
    jurisdiction: str,
    choices: list[tuple[str, str, bool]],
    minor_age_threshold: int,
    minimum_policy_version: str,
) -> JurisdictionDefaults:
    """Defaults from (purpose, status, separate) triples; InvalidArgument names each bad field."""
    violations: list[Violation] = []
    seen: dict[str, PurposeDefault] = {}
    for i, (purpose, status, separate) in enumerate(choices):
        where = f"defaults.defaults[{i}]"
        if purpose in seen:
            violations.append(Violation(f"{where}.purpose", "appears twice"))
        elif status not in (GRANTED, DENIED):
            violations.append(Violation(f"{where}.status", "must be GRANTED or DENIED"))
        elif status == GRANTED and purpose in OPT_IN_WHERE_REGULATED and regulated(jurisdiction):
            violations.append(
                Violation(
                    f"{where}.status",
                    f"{purpose} may not default to granted in {jurisdiction}: PIPL and GDPR "
                    "require opt-in",
                )
            )
        elif purpose in SEPARATE and not separate:
            violations.append(
                Violation(f"{where}.requires_separate_consent", f"{purpose} always needs it")
            )
        else:
            seen[purpose] = PurposeDefault(status, separate)
    if not 0 <= minor_age_threshold <= 21:
        violations.append(Violation("defaults.minor_age_threshold", "must be between 0 and 21"))
    if len(minimum_policy_version) > 64:
        violations.append(
            Violation("defaults.minimum_policy_version", "must be at most 64 characters")
        )
    if violations:
        raise InvalidArgument(
            "; ".join(f"{v.field}: {v.description}" for v in violations), violations
        )
    return JurisdictionDefaults(
        jurisdiction, seen, minor_age_threshold or DEFAULT_MINOR_AGE, minimum_policy_version
    )


@dataclass(frozen=True, slots=True)
class Latest:
    """A subject's latest entry for one purpose."""

    entry_id: str
    status: str
    policy_version: str
    by_guardian: bool
    occurred_at: datetime
    jurisdiction: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: str  # the status in force (from the entry or the default)
    reason: int  # DecisionReason
    entry_id: str = ""
    policy_version: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Minor:
    is_minor: bool
    guardian: list[list[str]] = field(default_factory=list)
    comes_of_age_at: datetime | None = None
    verification_reference: str = ""
    updated_at: datetime | None = None

    def applies(self, now: datetime) -> bool:
        return self.is_minor and (self.comes_of_age_at is None or self.comes_of_age_at > now)


def decide(
    purpose: str,
    latest: Latest | None,
    defaults: JurisdictionDefaults,
    minor: Minor | None,
    now: datetime,
) -> Decision:
    """Whether processing for `purpose` is allowed now (see the module docstring)."""
    is_minor = minor is not None and minor.applies(now)
    if latest is not None:
        at = latest.occurred_at
        if latest.status == DENIED:
            return Decision(
                False,
                DENIED,
                pb.DECISION_REASON_EXPLICIT_DENIAL,
                latest.entry_id,
                latest.policy_version,
                at,
            )
        if latest.status == WITHDRAWN:
            return Decision(
                False,
                WITHDRAWN,
                pb.DECISION_REASON_WITHDRAWN,
                latest.entry_id,
                latest.policy_version,
                at,
            )
        if is_minor and not latest.by_guardian:
            return Decision(
                False,
                GRANTED,
                pb.DECISION_REASON_MINOR_WITHOUT_GUARDIAN,
                latest.entry_id,
                latest.policy_version,
                at,
            )
        minimum = defaults.minimum_policy_version
        if minimum and latest.policy_version < minimum:
            return Decision(
                False,
                GRANTED,
                pb.DECISION_REASON_POLICY_OUTDATED,
                latest.entry_id,
                latest.policy_version,
                at,
            )
        return Decision(
            True,
            GRANTED,
            pb.DECISION_REASON_EXPLICIT_GRANT,
            latest.entry_id,
            latest.policy_version,
            at,
        )
    default = defaults.default(purpose)
    if is_minor:
        return Decision(
            False,
            default.status,
            pb.DECISION_REASON_MINOR_WITHOUT_GUARDIAN,
            updated_at=defaults.updated_at,
        )
    if default.status == GRANTED:
        return Decision(
            True,
            GRANTED,
            pb.DECISION_REASON_DEFAULT_GRANTED,
            policy_version=defaults.minimum_policy_version,
            updated_at=defaults.updated_at,
        )
    return Decision(
        False,
        DENIED,
        pb.DECISION_REASON_DEFAULT_DENIED,
        policy_version=defaults.minimum_policy_version,
        updated_at=defaults.updated_at,
    )
