"""Keeping seg_consent in step with the consent service.

The consent_changes follower (readmodel.ConsentChangesApplier) and new or re-identified
profiles queue profile ids in seg_consent_pending. ConsentSync takes a batch of them, asks
CheckConsent for every purpose with the profile's identifiers (the consent service decides:
recorded choices, defaults per jurisdiction, minors, suppression), writes the answers and
re-evaluates the materialized segments for those profiles, in one transaction.

A profile with no answer yet has no seg_consent rows, which reads as "not allowed": a new
profile is never released on a channel before the consent service has been asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import grpc
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from precis.common.v1 import privacy_pb2
from precis.consent.v1 import consent_pb2, consent_pb2_grpc
from precis_common.db import Database
from precis_common.grpc_client import workspace_metadata
from precis_common.privacy import identifier_of
from precis_segmentation.rules import PURPOSES
from precis_segmentation.store import (
    seg_consent,
    seg_consent_pending,
    seg_identities,
    seg_profiles,
)

log = logging.getLogger(__name__)

# consent.proto numbers purposes 1..9 in the order of rules.PURPOSES.
PURPOSE_NUMBERS = {name: i + 1 for i, name in enumerate(PURPOSES)}
BATCH = 200

Reevaluate = Callable[[Session, str, set[str]], None]


class ConsentSync:
    def __init__(
        self,
        database: Database,
        channel: grpc.Channel,
        reevaluate: Reevaluate,
        lock: Callable[[Session], None],
        *,
        interval_s: float = 0.2,
        deadline_s: float = 5.0,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.db = database
        self._stub = consent_pb2_grpc.ConsentServiceStub(channel)
        self._reevaluate = reevaluate
        self._lock = lock
        self._interval = interval_s
        self._deadline = deadline_s
        self._on_committed = on_committed
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.asked = 0

    def pending(self) -> int:
        with self.db.read() as session:
            return int(
                session.execute(select(func.count()).select_from(seg_consent_pending)).scalar_one()
            )

    def run_once(self) -> int:
        """Answer one batch of queued profiles; returns how many were answered."""
        with self.db.read() as session:
            queued = session.execute(
                select(
                    seg_consent_pending.c.workspace_id,
                    seg_consent_pending.c.profile_id,
                    seg_consent_pending.c.since,
                )
                .order_by(seg_consent_pending.c.since)
                .limit(BATCH)
            ).all()
        if not queued:
            return 0
        by_workspace: dict[str, list[str]] = {}
        for row in queued:
            by_workspace.setdefault(row.workspace_id, []).append(row.profile_id)
        answers: dict[tuple[str, str], dict[str, bool]] = {}
        with self.db.read() as session:
            for workspace, ids in by_workspace.items():
                keys: dict[str, list[tuple[str, str]]] = {}
                for r in session.execute(
                    select(
                        seg_identities.c.profile_id, seg_identities.c.kind, seg_identities.c.value
                    ).where(
                        seg_identities.c.workspace_id == workspace,
                        seg_identities.c.profile_id.in_(ids),
                    )
                ):
                    keys.setdefault(r.profile_id, []).append((r.kind, r.value))
                for pid in ids:
                    answers[(workspace, pid)] = self._ask(workspace, pid, keys.get(pid, []))
        with self.db.write() as session:
            # Replicas drain the same queue: answers for one profile are written one at a time.
            self._lock(session)
            for workspace, ids in by_workspace.items():
                live = set(
                    session.execute(
                        select(seg_profiles.c.profile_id).where(
                            seg_profiles.c.workspace_id == workspace,
                            seg_profiles.c.profile_id.in_(ids),
                        )
                    ).scalars()
                )
                session.execute(
                    delete(seg_consent).where(
                        seg_consent.c.workspace_id == workspace, seg_consent.c.profile_id.in_(ids)
                    )
                )
                rows = [
                    {"workspace_id": workspace, "profile_id": pid, "purpose": p, "allowed": ok}
                    for pid in ids
                    if pid in live
                    for p, ok in sorted(answers[(workspace, pid)].items())
                ]
                if rows:
                    session.execute(seg_consent.insert(), rows)
                # Only the entries answered here: a profile queued again meanwhile (its
                # consent changed while we asked) has a newer `since` and stays queued.
                for row in queued:
                    if row.workspace_id == workspace:
                        session.execute(
                            delete(seg_consent_pending).where(
                                seg_consent_pending.c.workspace_id == workspace,
                                seg_consent_pending.c.profile_id == row.profile_id,
                                seg_consent_pending.c.since <= row.since,
                            )
                        )
                self._reevaluate(session, workspace, live)
        if self._on_committed is not None:
            self._on_committed()
        self.asked += len(queued)
        return len(queued)

    def _ask(self, workspace: str, profile_id: str, keys: list[tuple[str, str]]) -> dict[str, bool]:
        subject = privacy_pb2.DataSubject(
            identifiers=[identifier_of(k) for k in sorted(keys)], profile_id=profile_id
        )
        response = self._stub.CheckConsent(
            consent_pb2.CheckConsentRequest(
                subject=subject,
                purposes=list(PURPOSE_NUMBERS.values()),  # type: ignore[arg-type]
            ),
            timeout=self._deadline,
            metadata=workspace_metadata(workspace),
        )
        names = {number: name for name, number in PURPOSE_NUMBERS.items()}
        return {names[d.purpose]: d.allowed for d in response.decisions if d.purpose in names}

    # ---- background ----------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="consent-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                done = self.run_once()
                self.last_error = None
                backoff = 0.2
                if done:
                    continue
                self._wake.wait(self._interval)
                self._wake.clear()
            except grpc.RpcError as exc:
                self.last_error = f"consent service: {exc.code()}"
                log.warning("consent check failed (%s); retrying in %.1fs", exc.code(), backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                self.last_error = "consent sync failed"
                log.exception("consent sync failed; retrying in %.1fs", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
