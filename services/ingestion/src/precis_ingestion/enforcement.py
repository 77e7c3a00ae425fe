"""Analytics consent at the door, per workspace policy.

A workspace chooses what happens to an event whose subject has no analytics consent (the
consent service decides: explicit choices, defaults per jurisdiction, minors):
  - keep: stored as sent (the default: the workspace relies on another legal basis);
  - minimize: stored without anything that identifies or describes the person (user id,
    email and phone hashes, traits, properties, context; a fresh random anonymous id), so it
    still counts in aggregate reports but builds no profile;
  - drop: not stored; the event's result says why (field "consent").
Checks go through precis_common.consent_check.ConsentChecker (cached, invalidated from the
consent_changes feed). When the consent service cannot answer, the request fails with
UNAVAILABLE: clients retry, and nothing is stored against a decision nobody made.
"""

from __future__ import annotations

import uuid

import grpc

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis_common.consent_check import ConsentChecker
from precis_common.errors import Unavailable
from precis_common.privacy import event_identifiers, identifier_of

KEEP, MINIMIZE, DROP = "keep", "minimize", "drop"
DROP_REASON = "no analytics consent for this subject; the workspace's policy drops such events"
MINIMIZED_PREFIX = "minimized:"


def subject_of(event: ingestion_pb2.StoredEvent) -> privacy_pb2.DataSubject:
    """Every identifier the event carries (device and external ids included)."""
    return privacy_pb2.DataSubject(
        identifiers=[identifier_of(key) for _, key in event_identifiers(event)]
    )


def allowed(
    checker: ConsentChecker,
    workspace_id: str,
    event: ingestion_pb2.StoredEvent,
    *,
    stated: bool | None = None,
) -> bool:
    """Whether the event's subject allows analytics. `stated` is what the event itself says
    (its context.consent): a denial decides at once; a grant decides unless the ledger knows the
    subject as a minor, whose own grant does not count (a guardian's is needed)."""
    if stated is False:
        return False
    try:
        result = checker.check(workspace_id, subject_of(event), [consent_pb2.PURPOSE_ANALYTICS])
    except grpc.RpcError as exc:
        raise Unavailable(
            f"the consent service could not be asked about analytics consent ({exc.code().name}); "
            "retry"
        ) from None
    decision = result.decisions[0]
    if stated and decision.reason != consent_pb2.DECISION_REASON_MINOR_WITHOUT_GUARDIAN:
        return True
    return bool(decision.allowed)


def minimize(event: ingestion_pb2.StoredEvent) -> None:
    """Strip the event of everything about the person, in place."""
    event.user_id = ""
    event.email_hash = ""
    event.phone_hash = ""
    event.anonymous_id = MINIMIZED_PREFIX + str(uuid.uuid4())
    event.traits_json = b""
    event.properties_json = b""
    event.context_json = b""
