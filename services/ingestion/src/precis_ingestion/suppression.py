"""Refusing events of erased data subjects.

The consent service publishes a SUBJECT_SUPPRESSED change on consent_changes when it accepts an
erasure, carrying suppression tokens (keyed hashes that match no stored value) of the subject's
identifiers. Ingestion keeps them in its own table (a feed consumer, cursor in the same
transaction) and refuses, at the door, any event one of whose identifiers has a suppressed
token: a replay or a late event cannot bring the subject back. The check costs one indexed
query per request, and needs no call to another service on the request path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.consent.v1 import consent_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis_common.db import Database
from precis_common.identifiers import PiiHasher
from precis_common.privacy import event_identifiers
from precis_ingestion.store import suppressed_tokens

REASON = "belongs to an erased data subject (suppressed); the event was not stored"


class SuppressionList:
    def __init__(self, database: Database, hasher: PiiHasher) -> None:
        self.db = database
        self.hasher = hasher

    def refused(
        self, workspace_id: str, events: Sequence[ingestion_pb2.StoredEvent]
    ) -> list[str | None]:
        """Per event, the field of its first suppressed identifier, or None."""
        tokens = [
            [
                (field, self.hasher.suppression_token(workspace_id, kind, value))
                for field, (kind, value) in event_identifiers(event)
            ]
            for event in events
        ]
        wanted = sorted({t for per_event in tokens for _, t in per_event})
        if not wanted:
            return [None] * len(events)
        c = suppressed_tokens.c
        with self.db.read() as session:
            hit = {
                t
                for start in range(0, len(wanted), 400)
                for t in session.execute(
                    select(c.token).where(
                        c.workspace_id == workspace_id, c.token.in_(wanted[start : start + 400])
                    )
                ).scalars()
            }
        return [next((f for f, t in per_event if t in hit), None) for per_event in tokens]

    def apply_batch(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        """Consumer of consent_changes: keep the tokens of suppressed subjects."""
        now = datetime.now(UTC)
        c = suppressed_tokens.c
        for entry in entries:
            if entry.kind != "consent.subject_suppressed":
                continue
            change = consent_pb2.ConsentChange.FromString(entry.payload)
            tokens = sorted({i.value for i in change.identifiers if i.value})
            have = set(
                session.execute(
                    select(c.token).where(c.workspace_id == entry.workspace_id, c.token.in_(tokens))
                ).scalars()
            )
            fresh = [t for t in tokens if t not in have]
            if fresh:
                session.execute(
                    suppressed_tokens.insert(),
                    [
                        {"workspace_id": entry.workspace_id, "token": t, "created_at": now}
                        for t in fresh
                    ],
                )
