"""Filling the read model from the feeds it follows.

profile_changes (the profile service) is the one source of profiles, tags, identifiers and event
facts: each UPSERTED change carries the profile's state after it and the events it attributed to
the profile, in feed order, in the transaction that wrote them. Following one ordered feed means
the read model never has to reconcile two producers (ingestion's events and the profile
service's identity decisions): a fact arrives already keyed by the profile the profile service
chose, merge limits and all, and a merge, split or erasure arrives after the facts it moves.

consent_changes (the consent service) only says whose consent changed. The decision itself
(defaults per jurisdiction, minors, suppression) stays the consent service's: the profiles
concerned are queued in seg_consent_pending and ConsentSync asks CheckConsent for them.

Every batch ends by re-evaluating the materialized segments for the profiles it touched
(Memberships.reevaluate), in the same transaction as the cursor, so a membership change is
published exactly once and within one batch of the event that caused it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.consent.v1 import consent_pb2
from precis.profile.v1 import profile_pb2
from precis_common.db import insert_ignoring_duplicates
from precis_common.errors import InvalidArgument
from precis_common.identifiers import PiiHasher
from precis_common.privacy import stored_key
from precis_segmentation.store import (
    canonical_time,
    event_fact_row,
    seg_consent,
    seg_consent_pending,
    seg_event_facts,
    seg_identities,
    seg_memberships,
    seg_profile_tags,
    seg_profiles,
    seg_scores,
)

log = logging.getLogger(__name__)

PROFILE_FEED = "profile_changes"
CONSENT_FEED = "consent_changes"
CHUNK = 500

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def flatten_computed(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The profile's computed traits as rules address them: one level of names.

    The RFM object becomes rfm_recency, rfm_frequency, rfm_monetary (scores 1..5), rfm_code and
    rfm_cell; the predicted CLV object becomes clv_<name> for each scalar in it. Date-times are
    written in the canonical form (store.canonical_time) so that relative-date conditions compare
    them as strings. Day counts (days_since_last_order) are as of the change; rules that mean
    "recently" should use the dates (within_last_days), which move with the clock."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "rfm" and isinstance(value, Mapping):
            for part in ("recency", "frequency", "monetary", "code", "cell"):
                out[f"rfm_{part}"] = value.get(part)
        elif key == "predicted_clv" and isinstance(value, Mapping):
            for part, inner in value.items():
                if inner is None or isinstance(inner, str | int | float | bool):
                    out[f"clv_{part}"] = _canonical(inner)
        else:
            out[key] = _canonical(value)
    return out


def without_nul(value: Any) -> Any:
    """The document with U+0000 removed from every string, keys included: PostgreSQL's jsonb
    (and text) cannot hold it, and a read model that refuses a batch would stop following the
    feed. Done on both databases so that a rule gives the same answer on each."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


def canonical_traits(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Identify traits with their date-times in canonical form; dates without a time of day
    ("1990-05-01") stay as sent, which still orders correctly against canonical cut-offs."""
    return {key: _canonical(value) for key, value in doc.items()}


def _canonical(value: Any) -> Any:
    if isinstance(value, str) and _DATETIME.match(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return canonical_time(moment)
    return value


class Touched:
    """What one batch changed, per workspace: profiles to re-evaluate, profiles that are gone."""

    def __init__(self) -> None:
        self.changed: dict[str, set[str]] = {}
        self.removed: dict[str, set[str]] = {}

    def change(self, workspace_id: str, profile_ids: Iterable[str]) -> None:
        self.changed.setdefault(workspace_id, set()).update(profile_ids)

    def remove(self, workspace_id: str, profile_ids: Iterable[str]) -> None:
        ids = set(profile_ids)
        self.removed.setdefault(workspace_id, set()).update(ids)
        if workspace_id in self.changed:
            self.changed[workspace_id] -= ids

    def workspaces(self) -> set[str]:
        return set(self.changed) | set(self.removed)


def remove_profiles(
    session: Session, workspace_id: str, profile_ids: Sequence[str], *, memberships: bool = True
) -> int:
    """Delete every read-model row of the profiles; returns rows deleted. The feed path leaves
    memberships to Memberships.reevaluate, which publishes the exits before deleting them."""
    total = 0
    tables = [
        seg_event_facts,
        seg_profile_tags,
        seg_identities,
        seg_consent,
        seg_consent_pending,
        seg_scores,
        seg_profiles,
    ]
    if memberships:
        tables.append(seg_memberships)
    for start in range(0, len(profile_ids), CHUNK):
        chunk = list(profile_ids[start : start + CHUNK])
        for table in tables:
            result = session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace_id, table.c.profile_id.in_(chunk)
                )
            )
            total += int(getattr(result, "rowcount", 0) or 0)
    return total


class ProfileChangesApplier:
    """Applies profile_changes entries to the read model (see the module docstring)."""

    def __init__(self, hasher: PiiHasher) -> None:
        self.hasher = hasher
        self.skipped = 0

    def apply(
        self, session: Session, entries: Sequence[feed_pb2.FeedEntry], touched: Touched
    ) -> None:
        states: dict[tuple[str, str], profile_pb2.ProfileState] = {}
        facts: list[dict[str, Any]] = []

        def flush() -> None:
            self._write_states(session, states)
            states.clear()
            insert_ignoring_duplicates(
                session, seg_event_facts, facts, ("workspace_id", "message_id")
            )
            facts.clear()

        for entry in entries:
            change = profile_pb2.ProfileChange.FromString(entry.payload)
            workspace, pid = entry.workspace_id, change.profile_id
            if not pid:
                self.skipped += 1
                continue
            kind = change.kind
            if kind == profile_pb2.PROFILE_CHANGE_KIND_UPSERTED:
                if change.HasField("state"):
                    states[(workspace, pid)] = change.state
                for event in change.events:
                    properties = without_nul(orjson.loads(event.properties_json or b"{}"))
                    facts.append(
                        event_fact_row(
                            workspace_id=workspace,
                            profile_id=pid,
                            event=without_nul(event.event),
                            occurred_at=event.timestamp.ToDatetime(tzinfo=UTC),
                            properties=properties if isinstance(properties, dict) else {},
                            message_id=event.message_id,
                        )
                    )
                if change.reassigned_message_ids:
                    flush()
                    self._reassign(session, workspace, pid, list(change.reassigned_message_ids))
                touched.change(workspace, [pid])
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_MERGED:
                flush()
                others = [o for o in change.other_profile_ids if o and o != pid]
                self._merge(session, workspace, pid, others)
                if change.HasField("state"):
                    states[(workspace, pid)] = change.state
                touched.remove(workspace, others)
                touched.change(workspace, [pid])
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_SPLIT:
                # The UPSERTED changes that follow carry each resulting profile's state and the
                # events that moved to it.
                touched.change(workspace, [pid, *change.other_profile_ids])
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_DELETED:
                flush()
                remove_profiles(session, workspace, [pid], memberships=False)
                touched.remove(workspace, [pid])
            else:
                self.skipped += 1
        flush()

    def _write_states(
        self, session: Session, states: Mapping[tuple[str, str], profile_pb2.ProfileState]
    ) -> None:
        if not states:
            return
        now = datetime.now(UTC)
        by_workspace: dict[str, dict[str, profile_pb2.ProfileState]] = {}
        for (workspace, pid), state in states.items():
            by_workspace.setdefault(workspace, {})[pid] = state
        for workspace, items in by_workspace.items():
            ids = sorted(items)
            known_ids: dict[str, set[tuple[str, str]]] = {}
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                for row in session.execute(
                    select(
                        seg_identities.c.profile_id, seg_identities.c.kind, seg_identities.c.value
                    ).where(
                        seg_identities.c.workspace_id == workspace,
                        seg_identities.c.profile_id.in_(chunk),
                    )
                ):
                    known_ids.setdefault(row.profile_id, set()).add((row.kind, row.value))
                for table in (seg_profiles, seg_profile_tags):
                    session.execute(
                        delete(table).where(
                            table.c.workspace_id == workspace, table.c.profile_id.in_(chunk)
                        )
                    )
            profile_rows: list[dict[str, Any]] = []
            tag_rows: list[dict[str, Any]] = []
            identity_rows: list[dict[str, Any]] = []
            pending: list[str] = []
            for pid in ids:
                state = items[pid]
                traits = without_nul(orjson.loads(state.traits_json or b"{}"))
                computed = without_nul(orjson.loads(state.computed_traits_json or b"{}"))
                profile_rows.append(
                    {
                        "workspace_id": workspace,
                        "profile_id": pid,
                        "traits": canonical_traits(traits if isinstance(traits, dict) else {}),
                        "computed": flatten_computed(
                            computed if isinstance(computed, dict) else {}
                        ),
                        "updated_at": now,
                    }
                )
                tag_rows.extend(
                    {"workspace_id": workspace, "profile_id": pid, "tag": tag}
                    for tag in sorted(set(state.tags))
                )
                keys = set()
                for identifier in state.identifiers:
                    try:
                        keys.add(
                            stored_key(self.hasher, workspace, identifier, field="identifiers")
                        )
                    except (InvalidArgument, ValueError):
                        continue  # an identifier this version cannot read is not used
                if keys != known_ids.get(pid, set()):
                    pending.append(pid)
                    identity_rows.extend(
                        {"workspace_id": workspace, "kind": k, "value": v, "profile_id": pid}
                        for k, v in sorted(keys)
                    )
            session.execute(seg_profiles.insert(), profile_rows)
            if tag_rows:
                session.execute(seg_profile_tags.insert(), tag_rows)
            if pending:
                for start in range(0, len(pending), CHUNK):
                    chunk = pending[start : start + CHUNK]
                    session.execute(
                        delete(seg_identities).where(
                            seg_identities.c.workspace_id == workspace,
                            seg_identities.c.profile_id.in_(chunk),
                        )
                    )
                # An identifier moves between profiles on a split: the newest state wins.
                identity_rows = list({(r["kind"], r["value"]): r for r in identity_rows}.values())
                by_kind: dict[str, list[str]] = {}
                for item in identity_rows:
                    by_kind.setdefault(item["kind"], []).append(item["value"])
                for kind, values in sorted(by_kind.items()):
                    for start in range(0, len(values), CHUNK):
                        session.execute(
                            delete(seg_identities).where(
                                seg_identities.c.workspace_id == workspace,
                                seg_identities.c.kind == kind,
                                seg_identities.c.value.in_(values[start : start + CHUNK]),
                            )
                        )
                for start in range(0, len(identity_rows), 5000):
                    session.execute(seg_identities.insert(), identity_rows[start : start + 5000])
                queue_consent(session, workspace, pending)

    def _reassign(
        self, session: Session, workspace: str, profile_id: str, message_ids: list[str]
    ) -> None:
        for start in range(0, len(message_ids), CHUNK):
            session.execute(
                update(seg_event_facts)
                .where(
                    seg_event_facts.c.workspace_id == workspace,
                    seg_event_facts.c.message_id.in_(message_ids[start : start + CHUNK]),
                )
                .values(profile_id=profile_id)
            )

    def _merge(self, session: Session, workspace: str, survivor: str, others: list[str]) -> None:
        if not others:
            return
        session.execute(
            update(seg_event_facts)
            .where(
                seg_event_facts.c.workspace_id == workspace,
                seg_event_facts.c.profile_id.in_(others),
            )
            .values(profile_id=survivor)
        )
        session.execute(
            update(seg_identities)
            .where(
                seg_identities.c.workspace_id == workspace,
                seg_identities.c.profile_id.in_(others),
            )
            .values(profile_id=survivor)
        )
        for table in (seg_profile_tags, seg_consent, seg_consent_pending, seg_scores, seg_profiles):
            session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace, table.c.profile_id.in_(others)
                )
            )
        queue_consent(session, workspace, [survivor])


def queue_consent(session: Session, workspace: str, profile_ids: Sequence[str]) -> None:
    """Ask the consent service again about these profiles (ConsentSync drains the queue).

    A profile already queued gets the new time: ConsentSync removes an entry only if it was not
    queued again after it read it, so a change that lands while its answer is being fetched is
    asked again rather than lost."""
    now = datetime.now(UTC)
    rows = [
        {"workspace_id": workspace, "profile_id": pid, "since": now}
        for pid in sorted(set(profile_ids))
    ]
    if not rows:
        return
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), CHUNK):
        statement = module.insert(seg_consent_pending)
        statement = statement.on_conflict_do_update(
            index_elements=["workspace_id", "profile_id"],
            set_={"since": statement.excluded.since},
        )
        session.execute(statement, rows[start : start + CHUNK])


class ConsentChangesApplier:
    """Queues the profiles a consent change can concern; a change of defaults or a suppression
    concerns every profile of the workspace (defaults decide for those without a recorded
    choice; a suppression names hashed tokens that cannot be traced back to identifiers)."""

    def __init__(self, hasher: PiiHasher) -> None:
        self.hasher = hasher

    def apply(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        whole: set[str] = set()
        keys: dict[str, set[tuple[str, str]]] = {}
        profiles: dict[str, set[str]] = {}
        for entry in entries:
            change = consent_pb2.ConsentChange.FromString(entry.payload)
            workspace = entry.workspace_id
            if change.kind in (
                consent_pb2.CONSENT_CHANGE_KIND_DEFAULTS_CHANGED,
                consent_pb2.CONSENT_CHANGE_KIND_SUBJECT_SUPPRESSED,
            ):
                whole.add(workspace)
                continue
            for identifier in change.identifiers:
                try:
                    keys.setdefault(workspace, set()).add(
                        stored_key(self.hasher, workspace, identifier, field="identifiers")
                    )
                except (InvalidArgument, ValueError):
                    whole.add(workspace)  # unreadable: ask again about everyone
            if change.profile_id:
                profiles.setdefault(workspace, set()).add(change.profile_id)
        now = datetime.now(UTC)
        for workspace in whole:
            ids = (
                session.execute(
                    select(seg_profiles.c.profile_id).where(
                        seg_profiles.c.workspace_id == workspace
                    )
                )
                .scalars()
                .all()
            )
            session.execute(
                delete(seg_consent_pending).where(seg_consent_pending.c.workspace_id == workspace)
            )
            for start in range(0, len(ids), 5000):
                session.execute(
                    seg_consent_pending.insert(),
                    [
                        {"workspace_id": workspace, "profile_id": pid, "since": now}
                        for pid in ids[start : start + 5000]
                    ],
                )
        for workspace, wanted in keys.items():
            if workspace in whole:
                continue
            found: set[str] = set(profiles.pop(workspace, set()))
            by_kind: dict[str, list[str]] = {}
            for kind, value in wanted:
                by_kind.setdefault(kind, []).append(value)
            for kind, values in by_kind.items():
                found.update(
                    session.execute(
                        select(seg_identities.c.profile_id).where(
                            seg_identities.c.workspace_id == workspace,
                            seg_identities.c.kind == kind,
                            seg_identities.c.value.in_(values),
                        )
                    ).scalars()
                )
            queue_consent(session, workspace, sorted(found))
        for workspace, named in profiles.items():
            if workspace not in whole:
                queue_consent(session, workspace, sorted(named))
