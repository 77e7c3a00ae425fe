"""The identity graph, batch by batch: resolves a batch of one workspace's events in memory
(two lookups: the identifiers, then the candidate profiles) under the workspace's merge rules,
and writes the outcome back with one statement per kind of change. The result is the same as
applying the events one at a time in feed order, at a fraction of the cost per event."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session

from precis.ingestion.v1 import ingestion_pb2
from precis_common.privacy import event_identifiers
from precis_profile.computed import (
    ORDER_EVENT,
    fold_orders,
    order_of,
    stats_from_json,
    stats_to_json,
)
from precis_profile.identity import (
    ELSEWHERE,
    Conflict,
    Key,
    MergeRules,
    merge_traits,
    resolve,
)
from precis_profile.rfm import OrderStats
from precis_profile.store import (
    clv_predictions,
    identities,
    identity_conflicts,
    merge_rules,
    merges,
    profile_events,
    profile_tags,
    profiles,
    separations,
)
from precis_profile.timeutil import aware, iso

log = logging.getLogger(__name__)


def load_rules(session: Session, workspace_id: str) -> MergeRules:
    doc = session.execute(
        select(merge_rules.c.rules).where(merge_rules.c.workspace_id == workspace_id)
    ).scalar_one_or_none()
    return MergeRules.from_json(doc) if doc else MergeRules()


def event_keys(event: ingestion_pb2.StoredEvent) -> list[Key]:
    return list(dict.fromkeys(key for _, key in event_identifiers(event)))


DEFAULT_SOURCE = "api"
MAX_SOURCE = 64


def event_source(event: ingestion_pb2.StoredEvent) -> str:
    """Where an event's traits came from: its context.source (a name the sender chooses: "crm",
    "pos", "mini_program"), else context.library.name (what SDKs send), else "api"."""
    if event.context_json:
        context = orjson.loads(event.context_json)
        source = context.get("source")
        if isinstance(source, str) and source.strip():
            return source[:MAX_SOURCE]
        library = context.get("library")
        if isinstance(library, dict) and isinstance(library.get("name"), str) and library["name"]:
            return str(library["name"])[:MAX_SOURCE]
    return DEFAULT_SOURCE


@dataclass
class ProfileState:
    """A profile as the batch sees it."""

    profile_id: str
    created_at: datetime
    traits: dict[str, Any]
    trait_times: dict[str, str]
    event_counts: dict[str, int]
    event_count: int
    first_seen: datetime | None
    last_seen: datetime | None
    id_counts: Counter[str] = field(default_factory=Counter)
    order_stats: OrderStats = field(default_factory=OrderStats)
    trait_sources: dict[str, Any] = field(default_factory=dict)
    new: bool = False
    dirty: bool = False


class IdentityBatch:
    """Resolves a batch of one workspace's events in memory, then writes the outcome."""

    def __init__(
        self,
        session: Session,
        workspace_id: str,
        keys: list[list[Key]],
        *,
        replay: bool = False,
        rules: MergeRules | None = None,
        isolated: bool = False,
    ) -> None:
        """replay: rebuilding split profiles from their own events. Identifiers that other
        profiles hold stay there (they were conflicts when first seen), and no profile outside
        the replay is merged or changed.
        isolated: a what-if graph (dry run) that reads and writes nothing; use with `rules`."""
        self.session = session
        self.workspace_id = workspace_id
        self.replay = replay
        self.isolated = isolated
        self.rules = rules or load_rules(session, workspace_id)
        self.separations: set[frozenset[str]] = set()
        self.now = datetime.now(UTC)
        i = identities.c
        wanted: dict[str, set[str]] = {}
        for k in () if isolated else {k for ks in keys for k in ks}:
            wanted.setdefault(k[0], set()).add(k[1])
        self.owners: dict[Key, str] = {}
        # One query per identifier type, `kind = ? AND value IN (...)`: a range of the primary
        # key. (A row-value IN list makes SQLite scan every identity of the workspace.)
        for kind, values in sorted(wanted.items()):
            for part in _chunks(sorted(values), 400):
                for r in session.execute(
                    select(i.value, i.profile_id).where(
                        i.workspace_id == workspace_id, i.kind == kind, i.value.in_(part)
                    )
                ):
                    self.owners[(kind, r.value)] = r.profile_id
        self.states: dict[str, ProfileState] = {}
        self.external = set(self.owners.values()) if replay else set()
        if not replay:
            self._load(set(self.owners.values()))
        self.new_links: list[dict[str, Any]] = []
        self.new_events: list[dict[str, Any]] = []
        self.merge_rows: list[dict[str, Any]] = []
        self.absorbed: list[tuple[str, str]] = []  # (other, survivor) in order
        self._moved: dict[str, str] = {}  # the same, as a map
        self.conflict_rows: list[dict[str, Any]] = []

    def _load(self, ids: set[str]) -> None:
        ids -= self.states.keys()
        if not ids:
            return
        p, i = profiles.c, identities.c
        counts: dict[str, Counter[str]] = {}
        rows: list[Any] = []
        for chunk in _chunks(sorted(ids), 400):
            for r in self.session.execute(
                # By profile id alone (ids are unique across workspaces), so that the planner
                # takes ix_identities_profile instead of scanning the workspace's identities.
                select(i.profile_id, i.kind, func.count().label("n"))
                .where(i.profile_id.in_(chunk))
                .group_by(i.profile_id, i.kind)
            ):
                counts.setdefault(r.profile_id, Counter())[r.kind] = int(r.n)
            rows.extend(self.session.execute(select(profiles).where(p.profile_id.in_(chunk))).all())
            sep = separations.c
            self.separations.update(
                frozenset((r.profile_id, r.other_profile_id))
                for r in self.session.execute(
                    select(sep.profile_id, sep.other_profile_id).where(
                        sep.workspace_id == self.workspace_id,
                        or_(sep.profile_id.in_(chunk), sep.other_profile_id.in_(chunk)),
                    )
                )
            )
        for r in rows:
            self.states[r.profile_id] = ProfileState(
                profile_id=r.profile_id,
                created_at=aware(r.created_at) or self.now,
                traits=dict(r.traits),
                trait_times=dict(r.trait_times),
                event_counts=dict(r.event_counts),
                event_count=r.event_count,
                first_seen=aware(r.first_seen),
                last_seen=aware(r.last_seen),
                id_counts=counts.get(r.profile_id, Counter()),
                order_stats=stats_from_json(r.order_stats),
                trait_sources=dict(r.trait_sources or {}),
            )

    def apply(
        self, event: ingestion_pb2.StoredEvent, seq: int, keys: list[Key] | None = None
    ) -> tuple[str, list[str]]:
        """Apply one event; `keys` overrides the identifiers read from it (replays pass the
        identifiers recorded when the event was first applied)."""
        carried = event_keys(event) if keys is None else keys
        at = event.timestamp.ToDatetime(tzinfo=UTC)
        elsewhere = [k for k in carried if self.owners.get(k) in self.external]
        keys = [k for k in carried if k not in elsewhere]
        owners = {k: self.owners[k] for k in keys if k in self.owners}
        candidates = set(owners.values())
        plan = resolve(
            keys,
            owners,
            {pid: self.states[pid].id_counts for pid in candidates},
            {pid: self.states[pid].created_at for pid in candidates},
            self.rules,
            lambda a, b: frozenset((a, b)) in self.separations,
        )
        plan.conflicts.extend(Conflict(k, ELSEWHERE, self.owners[k]) for k in elsewhere)
        if plan.profile_id is None:
            state = ProfileState(
                profile_id=str(uuid.uuid4()),
                # Profiles started in one batch are as old as their events' places in it, so
                # that "the oldest profile" (resolve) is the one it is when applied one by one.
                created_at=self.now + timedelta(microseconds=len(self.new_events) + 1),
                traits={},
                trait_times={},
                event_counts={},
                event_count=0,
                first_seen=None,
                last_seen=None,
                new=True,
            )
            self.states[state.profile_id] = state
        else:
            state = self.states[plan.profile_id]
        for other, via in plan.merge:
            self._merge(state, self.states.pop(other), via, event.message_id)
        for kind, value in plan.link:
            self.owners[(kind, value)] = state.profile_id
            state.id_counts[kind] += 1
            self.new_links.append(
                {
                    "workspace_id": self.workspace_id,
                    "kind": kind,
                    "value": value,
                    "profile_id": state.profile_id,
                    "source_message_id": event.message_id,
                    "linked_at": at,
                }
            )
        for conflict in plan.conflicts:
            self._conflict(conflict, state.profile_id, event.message_id, at)
        name = event.event if event.type == ingestion_pb2.EVENT_TYPE_TRACK else "identify"
        self.new_events.append(
            {
                "workspace_id": self.workspace_id,
                "message_id": event.message_id,
                "profile_id": state.profile_id,
                "seq": seq,
                "event_type": "track"
                if event.type == ingestion_pb2.EVENT_TYPE_TRACK
                else "identify",
                "event_name": event.event,
                "event_time": at,
                "properties_json": event.properties_json,
                "traits_json": event.traits_json,
                # As the event carried them, held elsewhere or not: a later replay or dry run
                # must see every profile the event touched.
                "identifiers": [list(k) for k in carried],
            }
        )
        order = order_of(event.event, event.properties_json, event.message_id, at)
        if order is not None:
            state.order_stats = fold_orders(state.order_stats, [order])
        state.event_counts[name] = state.event_counts.get(name, 0) + 1
        state.event_count += 1
        if event.type == ingestion_pb2.EVENT_TYPE_IDENTIFY and event.traits_json:
            merge_traits(
                state.traits,
                state.trait_times,
                orjson.loads(event.traits_json),
                iso(at),
                state.trait_sources,
                {"source": event_source(event), "message_id": event.message_id},
            )
        state.first_seen = min(state.first_seen, at) if state.first_seen else at
        state.last_seen = max(state.last_seen, at) if state.last_seen else at
        state.dirty = True
        return state.profile_id, [other for other, _ in plan.merge]

    def _conflict(self, conflict: Conflict, profile_id: str, message_id: str, at: datetime) -> None:
        """Record an identifier the event carried but could not link or merge by, and why."""
        self.conflict_rows.append(
            {
                "conflict_id": str(uuid.uuid4()),
                "workspace_id": self.workspace_id,
                "profile_id": profile_id,
                "other_profile_id": conflict.owner,
                "kind": conflict.key[0],
                "value": conflict.key[1],
                "reason": conflict.reason,
                "source_message_id": message_id,
                "occurred_at": at,
            }
        )

    def _merge(self, keep: ProfileState, gone: ProfileState, via: Key, message_id: str) -> None:
        for name, when in sorted(gone.trait_times.items(), key=lambda kv: kv[1]):
            merge_traits(
                keep.traits,
                keep.trait_times,
                {name: gone.traits.get(name)},
                when,
                keep.trait_sources,
                gone.trait_sources.get(name),
            )
        for name, n in gone.event_counts.items():
            keep.event_counts[name] = keep.event_counts.get(name, 0) + n
        keep.event_count += gone.event_count
        firsts = [t for t in (keep.first_seen, gone.first_seen) if t]
        lasts = [t for t in (keep.last_seen, gone.last_seen) if t]
        keep.first_seen = min(firsts) if firsts else None
        keep.last_seen = max(lasts) if lasts else None
        keep.id_counts.update(gone.id_counts)
        if gone.order_stats.order_count and keep.order_stats.order_count:
            keep.order_stats = self._orders_of(keep.profile_id, gone.profile_id)
        elif gone.order_stats.order_count:
            # Only one side has orders: its statistics are already what a recomputation over
            # both sides' events gives (identify-heavy merges skip the query).
            keep.order_stats = gone.order_stats
        self.separations = {
            frozenset(keep.profile_id if p == gone.profile_id else p for p in pair)
            for pair in self.separations
        }
        keep.dirty = True
        for key, owner in list(self.owners.items()):
            if owner == gone.profile_id:
                self.owners[key] = keep.profile_id
        for row in (*self.new_links, *self.new_events):
            if row["profile_id"] == gone.profile_id:
                row["profile_id"] = keep.profile_id
        if gone.new:
            # Never written: nothing to re-point in the database, but the merge is recorded.
            gone.new = False
            self.absorbed.append((gone.profile_id, keep.profile_id))
            self._insert_profile(gone, merged_into=keep.profile_id)
        else:
            self.absorbed.append((gone.profile_id, keep.profile_id))
        self._moved[gone.profile_id] = keep.profile_id
        self.merge_rows.append(
            {
                "merge_id": str(uuid.uuid4()),
                "workspace_id": self.workspace_id,
                "profile_id": keep.profile_id,
                "other_profile_id": gone.profile_id,
                "kind": via[0],
                "value": via[1],
                "source_message_id": message_id,
                "rule": f"shared_{via[0].split(':', 1)[0]}",
                "occurred_at": self.now,
            }
        )

    def _insert_profile(self, state: ProfileState, merged_into: str | None = None) -> None:
        self.session.execute(
            profiles.insert().values(
                **self._row(state),
                profile_id=state.profile_id,
                workspace_id=self.workspace_id,
                created_at=state.created_at,
                merged_into=merged_into,
            )
        )

    def _row(self, state: ProfileState) -> dict[str, Any]:
        return {
            "traits": state.traits,
            "trait_times": state.trait_times,
            "trait_sources": state.trait_sources,
            "event_counts": state.event_counts,
            "event_count": state.event_count,
            "first_seen": state.first_seen,
            "last_seen": state.last_seen,
            "order_stats": stats_to_json(state.order_stats),
            "updated_at": self.now,
        }

    def flush(self) -> None:
        session = self.session
        fresh = [s for s in self.states.values() if s.new]
        if fresh:
            session.execute(
                profiles.insert(),
                [
                    {
                        **self._row(s),
                        "profile_id": s.profile_id,
                        "workspace_id": self.workspace_id,
                        "created_at": s.created_at,
                        "merged_into": None,
                    }
                    for s in fresh
                ],
            )
        if self.absorbed:
            self._flush_merges(session)
        changed = [s for s in self.states.values() if s.dirty and not s.new]
        if changed:
            session.execute(
                update(profiles)
                .where(profiles.c.profile_id == bindparam("pid"))
                .values(
                    traits=bindparam("traits"),
                    trait_times=bindparam("trait_times"),
                    trait_sources=bindparam("trait_sources"),
                    event_counts=bindparam("event_counts"),
                    event_count=bindparam("event_count"),
                    first_seen=bindparam("first_seen"),
                    last_seen=bindparam("last_seen"),
                    order_stats=bindparam("order_stats"),
                    updated_at=bindparam("updated_at"),
                ),
                [{**self._row(s), "pid": s.profile_id} for s in changed],
            )
        if self.new_links:
            session.execute(identities.insert(), self.new_links)
        if self.new_events:
            session.execute(profile_events.insert(), self.new_events)
        if self.merge_rows:
            session.execute(merges.insert(), self.merge_rows)
        if self.conflict_rows:
            # Re-keying above already moved older conflicts; these name the final profiles.
            for row in self.conflict_rows:
                row["profile_id"] = self.current(row["profile_id"])
            session.execute(identity_conflicts.insert(), self.conflict_rows)

    def _flush_merges(self, session: Session) -> None:
        """Re-point everything of the profiles merged in this batch at the profiles that hold
        them now: one statement per table for the whole batch (executemany), and the per-pair
        work (separations, tags) only for the profiles that have any."""
        moves = [(other, self.current(other)) for other, _ in self.absorbed]
        pairs = [{"old_id": other, "new_id": final} for other, final in moves]
        others = [other for other, _ in moves]
        p = profiles.c
        session.execute(
            update(profiles)
            .where(p.profile_id == bindparam("old_id"))
            .values(merged_into=bindparam("new_id"), updated_at=self.now),
            pairs,
        )
        session.execute(
            update(profiles)
            .where(p.merged_into == bindparam("old_id"))
            .values(merged_into=bindparam("new_id")),
            pairs,
        )
        for table in (identities, profile_events, identity_conflicts):
            session.execute(
                update(table)
                .where(
                    table.c.workspace_id == self.workspace_id,
                    table.c.profile_id == bindparam("old_id"),
                )
                .values(profile_id=bindparam("new_id")),
                pairs,
            )
        # Predictions of both sides are stale until the next fit.
        stale = sorted({*others, *(final for _, final in moves)})
        for chunk in _chunks(stale, 400):
            session.execute(
                delete(clv_predictions).where(
                    clv_predictions.c.workspace_id == self.workspace_id,
                    clv_predictions.c.profile_id.in_(chunk),
                )
            )
        sep, t = separations.c, profile_tags.c
        separated: set[str] = set()
        tagged: set[str] = set()
        for chunk in _chunks(others, 400):
            for r in session.execute(
                select(sep.profile_id, sep.other_profile_id).where(
                    sep.workspace_id == self.workspace_id,
                    or_(sep.profile_id.in_(chunk), sep.other_profile_id.in_(chunk)),
                )
            ):
                separated.update((r.profile_id, r.other_profile_id))
            tagged.update(
                session.execute(
                    select(t.profile_id)
                    .where(t.workspace_id == self.workspace_id, t.profile_id.in_(chunk))
                    .distinct()
                ).scalars()
            )
        # In merge order, so that a chain (a into b, then b into c) ends where it should.
        for other, survivor in self.absorbed:
            if other in separated:
                self._move_separations(session, other, survivor)
                separated.add(survivor)
            if other in tagged:
                move_tags(session, self.workspace_id, other, survivor)
                tagged.add(survivor)

    def _move_separations(self, session: Session, other: str, survivor: str) -> None:
        held = separations.alias("held")
        for column, partner in (
            ("profile_id", "other_profile_id"),
            ("other_profile_id", "profile_id"),
        ):
            # Both sides may be kept apart from the same profile (two splits of one
            # profile, merged later): the survivor keeps one row of each pair.
            session.execute(
                delete(separations).where(
                    separations.c.workspace_id == self.workspace_id,
                    separations.c[column] == other,
                    separations.c[partner].in_(
                        select(held.c[partner]).where(
                            held.c.workspace_id == self.workspace_id,
                            held.c[column] == survivor,
                        )
                    ),
                )
            )
            session.execute(
                update(separations)
                .where(
                    separations.c.workspace_id == self.workspace_id,
                    separations.c[column] == other,
                )
                .values({column: survivor})
            )

    def _orders_of(self, *profile_ids: str) -> OrderStats:
        """Order statistics recomputed from every order event of the given profiles (stored and
        in this batch): merged statistics cannot be summed, an order may be in both. Orders are
        folded in feed order, as they were applied, so that a conflicting redelivery of an
        order id loses to the first one here too."""
        rows: list[tuple[int, str, bytes, str, datetime]] = []
        # Stored events of profiles merged into these earlier in this batch are re-keyed only
        # by flush(): they are still under the absorbed profiles' ids.
        stored_ids = sorted(
            {*profile_ids, *(o for o, _ in self.absorbed if self.current(o) in profile_ids)}
        )
        if not self.isolated:
            e = profile_events.c
            rows.extend(
                (
                    r.seq,
                    r.event_name,
                    r.properties_json,
                    r.message_id,
                    aware(r.event_time) or self.now,
                )
                for r in self.session.execute(
                    select(
                        e.seq, e.event_name, e.properties_json, e.message_id, e.event_time
                    ).where(
                        e.workspace_id == self.workspace_id,
                        e.profile_id.in_(stored_ids),
                        e.event_name == ORDER_EVENT,
                    )
                )
            )
        rows.extend(
            (ev["seq"], ev["event_name"], ev["properties_json"], ev["message_id"], ev["event_time"])
            for ev in self.new_events
            if ev["profile_id"] in profile_ids and ev["event_name"] == ORDER_EVENT
        )
        rows.sort(key=lambda r: r[0])
        orders = [o for o in (order_of(*r[1:]) for r in rows) if o is not None]
        return fold_orders(OrderStats(), orders)

    def seed(self, key: Key, profile_id: str, link: dict[str, Any]) -> None:
        """Replay: start a profile with a fixed id holding `key` (with its original link)."""
        state = self.states.get(profile_id)
        if state is None:
            state = ProfileState(
                profile_id=profile_id,
                created_at=self.now,
                traits={},
                trait_times={},
                event_counts={},
                event_count=0,
                first_seen=None,
                last_seen=None,
                new=True,
            )
            self.states[profile_id] = state
        self.owners[key] = profile_id
        state.id_counts[key[0]] += 1
        self.new_links.append({**link, "profile_id": profile_id})

    def current(self, profile_id: str) -> str:
        """Follow this batch's merges to the profile that holds the data now."""
        moved = self._moved
        while profile_id in moved:
            profile_id = moved[profile_id]
        return profile_id


def move_tags(session: Session, workspace_id: str, source: str, target: str) -> None:
    """A merged profile's tags join the survivor's (a tag both carry is kept once)."""
    t = profile_tags.c
    already = select(t.tag).where(t.workspace_id == workspace_id, t.profile_id == target)
    session.execute(
        profile_tags.insert().from_select(
            ["workspace_id", "profile_id", "tag", "source", "created_at"],
            select(t.workspace_id, literal(target), t.tag, t.source, t.created_at).where(
                t.workspace_id == workspace_id, t.profile_id == source, t.tag.not_in(already)
            ),
        )
    )
    session.execute(
        delete(profile_tags).where(t.workspace_id == workspace_id, t.profile_id == source)
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
