"""Consent stated inside an event: `context.consent`.

A consent banner, an app's settings screen or a consent-management platform (CMP) sends the
person's choices with the event that carries them, so the ledger learns them without a second
API call. The shape (validated here; every violation names its field):

    "context": {"consent": {
        "policy_version": "2026-03",                       required, 1-64 characters
        "purposes": {"analytics": "granted",               required, 1-9 purposes; each
                     "marketing_email": "denied",            "granted" | "denied" | "withdrawn"
                     "ads_targeting": false},                or true / false (granted / denied)
        "legal_basis": "consent",                          optional (default consent)
        "jurisdiction": "CN",                              optional ISO 3166 code or "*"
        "proof_reference": "cmp:receipt/8812",             optional, up to 512 characters
        "channel": "web"                                   optional capture channel
    }}

What happens to it:
  - It becomes a precis.consent.v1.RecordConsentRequest for the event's subject (every
    identifier the event carries, email and phone as keyed hashes), at the event's time, with
    the event's message_id as the idempotency key and `context.source` (else "event") as the
    source. Ingestion appends it to its "consent_captures" feed in the same transaction as the
    event; the consent service follows that feed and records it in the ledger.
  - It is captured even when the event itself is dropped or minimized for lack of analytics
    consent: a "no" must reach the ledger precisely when the event does not. Proof of consent
    is kept under the controller's legal obligation to demonstrate it (GDPR art. 7(1)).
  - What the event states about analytics decides the event's own fate under the workspace's
    analytics policy (the person just said so); other purposes are decided by the ledger.
"""

from __future__ import annotations

from typing import Any

from precis.consent.v1 import consent_pb2
from precis_common.errors import Violation
from precis_common.privacy import JURISDICTION

FIELD = "context.consent"
MAX_POLICY_VERSION = 64
MAX_PROOF_REFERENCE = 512


def _names(enum: Any, prefix: str, *, skip: tuple[str, ...] = ("UNSPECIFIED",)) -> dict[str, int]:
    """Lower-case names of a proto enum's values: PURPOSE_MARKETING_EMAIL -> marketing_email."""
    return {
        name.removeprefix(prefix).lower(): number
        for name, number in enum.items()
        if name.removeprefix(prefix) not in skip
    }


PURPOSES = _names(consent_pb2.Purpose, "PURPOSE_")
STATUSES = _names(consent_pb2.ConsentStatus, "CONSENT_STATUS_")
LEGAL_BASES = _names(consent_pb2.LegalBasis, "LEGAL_BASIS_")
CHANNELS = _names(consent_pb2.CaptureChannel, "CAPTURE_CHANNEL_")
_KNOWN = {"policy_version", "purposes", "legal_basis", "jurisdiction", "proof_reference", "channel"}


def parse(value: Any, violations: list[Violation]) -> consent_pb2.RecordConsentRequest | None:
    """The choices of a `context.consent` object, or None (violations appended) when invalid.
    The caller fills in request_id, subject, source and occurred_at."""
    if not isinstance(value, dict):
        violations.append(Violation(FIELD, "must be a JSON object"))
        return None
    before = len(violations)
    for key in sorted(set(value) - _KNOWN):
        violations.append(
            Violation(
                f"{FIELD}.{key}", f"is not a known field (known: {', '.join(sorted(_KNOWN))})"
            )
        )
    request = consent_pb2.RecordConsentRequest()
    policy = value.get("policy_version")
    if not isinstance(policy, str) or not 1 <= len(policy.strip()) <= MAX_POLICY_VERSION:
        violations.append(
            Violation(
                f"{FIELD}.policy_version",
                f"is required: the version of the policy shown, 1-{MAX_POLICY_VERSION} characters",
            )
        )
    else:
        request.policy_version = policy
    _choices(value.get("purposes"), request, violations)
    for key, names, target in (
        ("legal_basis", LEGAL_BASES, "legal_basis"),
        ("channel", CHANNELS, "channel"),
    ):
        given = value.get(key)
        if given is None:
            continue
        if not isinstance(given, str) or given not in names:
            violations.append(
                Violation(f"{FIELD}.{key}", f"must be one of {', '.join(sorted(names))}")
            )
        else:
            setattr(request, target, names[given])
    jurisdiction = value.get("jurisdiction")
    if jurisdiction is not None:
        if not isinstance(jurisdiction, str) or not JURISDICTION.match(jurisdiction):
            violations.append(
                Violation(
                    f"{FIELD}.jurisdiction",
                    'must be an ISO 3166 code such as "CN", "DE" or "US-CA", or "*"',
                )
            )
        else:
            request.jurisdiction = jurisdiction
    proof = value.get("proof_reference")
    if proof is not None:
        if not isinstance(proof, str) or len(proof) > MAX_PROOF_REFERENCE:
            violations.append(
                Violation(
                    f"{FIELD}.proof_reference",
                    f"must be a string of at most {MAX_PROOF_REFERENCE} characters",
                )
            )
        else:
            request.proof_reference = proof
    return request if len(violations) == before else None


def _choices(
    purposes: Any, request: consent_pb2.RecordConsentRequest, violations: list[Violation]
) -> None:
    field = f"{FIELD}.purposes"
    if not isinstance(purposes, dict) or not purposes:
        violations.append(
            Violation(field, 'is required: an object such as {"marketing_email": "granted"}')
        )
        return
    for name, status in purposes.items():
        if name not in PURPOSES:
            violations.append(
                Violation(
                    f"{field}.{name}",
                    f"is not a consent purpose (purposes: {', '.join(sorted(PURPOSES))})",
                )
            )
            continue
        if isinstance(status, bool):
            status = "granted" if status else "denied"
        if not isinstance(status, str) or status not in STATUSES:
            violations.append(
                Violation(
                    f"{field}.{name}", "must be granted, denied or withdrawn (or true / false)"
                )
            )
            continue
        request.choices.add(purpose=PURPOSES[name], status=STATUSES[status])


def stated_analytics(request: consent_pb2.RecordConsentRequest | None) -> bool | None:
    """What the event itself says about analytics: True (granted), False (denied or
    withdrawn), or None when it says nothing."""
    if request is None:
        return None
    for choice in request.choices:
        if choice.purpose == consent_pb2.PURPOSE_ANALYTICS:
            return bool(choice.status == consent_pb2.CONSENT_STATUS_GRANTED)
    return None
