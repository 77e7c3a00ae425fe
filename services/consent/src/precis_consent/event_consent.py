"""Recording the consent that events state (context.consent), from ingestion's
"consent_captures" feed.

Ingestion validates the consent context and publishes it as a RecordConsentRequest whose
request_id is the event's message_id (see precis_ingestion.consent_context). Here each entry is
recorded in the ledger inside the consumer's transaction, so an entry is recorded exactly once
even though the feed delivers at least once.

Decisions written down here:
  - Each purpose the event states becomes a ledger request of its own (request id derived from
    the message id and the purpose). A consent context carries one choice per purpose, as
    consent-management platforms send them (one toggle per purpose), which is what PIPL's
    separate consent for sharing, transfer and sensitive data asks for; recording them as one
    request would refuse the whole capture as "bundled".
  - A capture of an erased (suppressed) subject is skipped: an event accepted just before the
    erasure must not bring the subject back into the ledger after it.
  - A choice the ledger refuses (a subject marked as a minor, whose own choice needs a
    guardian; a capture that fails the ledger's own validation) is skipped and logged with the
    entry's seq and the reason, and counted in `rejected`: it must not stop the feed, and the
    event cannot be refused any more. The entry stays on ingestion's feed for inspection.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis_common.errors import PrecisError
from precis_common.identifiers import PiiHasher
from precis_consent.service import ConsentStore
from precis_consent.servicer import parse_capture, subject_keys
from precis_consent.store import suppressions

log = logging.getLogger(__name__)

FEED = "consent_captures"
KIND = "consent.captured"


def request_id(message_id: str, purpose: int) -> str:
    """The ledger's idempotency key of one purpose stated by one event (at most 128 chars)."""
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
    return f"event:{digest}:{pb.Purpose.Name(purpose).removeprefix('PURPOSE_').lower()}"


class EventConsentRecorder:
    def __init__(self, store: ConsentStore, hasher: PiiHasher) -> None:
        self.store = store
        self.hasher = hasher
        # Totals of committed batches; a batch's own counts wait for its commit (committed()).
        self.recorded = 0
        self.rejected = 0
        self._batch = [0, 0]

    def apply_batch(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        self._batch = [0, 0]
        for entry in entries:
            if entry.kind != KIND:
                continue
            captured = pb.RecordConsentRequest.FromString(entry.payload)
            if self._suppressed(session, entry.workspace_id, captured):
                self._batch[1] += len(captured.choices)
                log.info(
                    "consent stated in event (consent_captures seq %d) skipped: the subject was "
                    "erased",
                    entry.seq,
                )
                continue
            for choice in captured.choices:
                one = pb.RecordConsentRequest()
                one.CopyFrom(captured)
                del one.choices[:]
                one.choices.append(choice)
                one.request_id = request_id(captured.request_id, choice.purpose)
                try:
                    capture = parse_capture(self.hasher, entry.workspace_id, one)
                    with session.begin_nested():
                        self.store.record_in(session, entry.workspace_id, capture)
                except PrecisError as exc:
                    self._batch[1] += 1
                    log.warning(
                        "consent stated in event (consent_captures seq %d, workspace %s) not "
                        "recorded: %s",
                        entry.seq,
                        entry.workspace_id,
                        exc,
                    )
                    continue
                self._batch[0] += 1

    def _suppressed(
        self, session: Session, workspace_id: str, captured: pb.RecordConsentRequest
    ) -> bool:
        try:
            keys = subject_keys(self.hasher, workspace_id, captured.subject, "subject")
        except PrecisError:
            return False  # parse_capture reports it
        tokens = sorted({self.hasher.suppression_token(workspace_id, k, v) for k, v in keys})
        s = suppressions.c
        return (
            session.execute(
                select(s.token).where(s.workspace_id == workspace_id, s.token.in_(tokens)).limit(1)
            ).first()
            is not None
        )

    def committed(self) -> None:
        """After the consumer's transaction committed: count the batch, wake feed readers."""
        self.recorded += self._batch[0]
        self.rejected += self._batch[1]
        self._batch = [0, 0]
        self.store.writer.committed()
