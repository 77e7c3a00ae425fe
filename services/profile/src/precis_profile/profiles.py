"""The profile store: applies events from the events feed to profiles, answers lookups, and
exports or erases a data subject. Every change to profiles is announced on profile_changes in
the same transaction."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace
from sqlalchemy import and_, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2
from precis_common.db import Database, affected
from precis_common.errors import InvalidArgument, NotFound
from precis_common.feed import FeedWriter, NewEntry, entry_span, to_timestamp
from precis_common.identifiers import IdentifierKind
from precis_common.telemetry import ATTR_PROFILE_ID
from precis_profile.identity import Key, merge_traits, resolve
from precis_profile.store import identities, merges, profile_changes, profile_events, profiles

log = logging.getLogger(__name__)

UPSERTED = profile_pb2.PROFILE_CHANGE_KIND_UPSERTED
MERGED = profile_pb2.PROFILE_CHANGE_KIND_MERGED
DELETED = profile_pb2.PROFILE_CHANGE_KIND_DELETED
CHANGE_KINDS: dict[int, str] = {
    UPSERTED: "profile.upserted",
    MERGED: "profile.merged",
    DELETED: "profile.deleted",
}


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def event_keys(event: ingestion_pb2.StoredEvent) -> list[Key]:
    keys: list[Key] = []
    if event.user_id:
        keys.append((IdentifierKind.USER_ID.value, event.user_id))
    if event.email_hash:
        keys.append((IdentifierKind.EMAIL.value, event.email_hash))
    if event.phone_hash:
        keys.append((IdentifierKind.PHONE.value, event.phone_hash))
    if event.anonymous_id:
        keys.append((IdentifierKind.ANONYMOUS_ID.value, event.anonymous_id))
    return keys


@dataclass
class ProfileView:
    row: Any
    links: list[Any]
    merged_ids: list[str]


class ProfileStore:
    def __init__(self, database: Database, writer: FeedWriter, tracer: trace.Tracer) -> None:
        self.db = database
        self.writer = writer
        self.tracer = tracer

    # ---- applying the events feed -------------------------------------------------------

    def apply_batch(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        """Apply a batch of events (called by the feed consumer inside its transaction).

        The batch is resolved in memory after two lookups (identities, then the candidate
        profiles) and written back with one statement per kind of change, which keeps the
        cost per event low enough for bulk imports; the result is the same as applying the
        events one by one in feed order.
        """
        decoded: list[tuple[feed_pb2.FeedEntry, ingestion_pb2.StoredEvent]] = []
        for entry in entries:
            if entry.kind not in ("track", "identify"):
                log.warning(
                    "skipping events-feed entry %s of unknown kind %r", entry.seq, entry.kind
                )
                continue
            decoded.append((entry, ingestion_pb2.StoredEvent.FromString(entry.payload)))
        by_workspace: dict[str, list[tuple[feed_pb2.FeedEntry, ingestion_pb2.StoredEvent]]] = {}
        for item in decoded:
            by_workspace.setdefault(item[0].workspace_id, []).append(item)
        notices: list[NewEntry] = []
        for workspace_id, items in by_workspace.items():
            batch = _Batch(session, workspace_id, [event_keys(e) for _, e in items])
            upserted: dict[str, str] = {}
            for entry, event in items:
                span = entry_span(self.tracer, "events", entry, f"profile.apply {entry.kind}")
                with trace.use_span(span, end_on_exit=True):
                    profile_id, merged = batch.apply(event, entry.seq)
                    span.set_attribute(ATTR_PROFILE_ID, profile_id)
                for other in merged:
                    upserted.pop(other, None)
                    notices.append(
                        self._change(workspace_id, MERGED, profile_id, [other], event.message_id)
                    )
                # One upsert notice per profile and batch is enough: consumers re-read the profile.
                upserted[profile_id] = event.message_id
            batch.flush()
            notices.extend(
                self._change(workspace_id, UPSERTED, pid, [], mid) for pid, mid in upserted.items()
            )
        self.writer.append(session, notices)

    def _change(
        self, workspace_id: str, kind: int, profile_id: str, others: list[str], message_id: str
    ) -> NewEntry:
        payload = profile_pb2.ProfileChange(
            kind=kind,  # type: ignore[arg-type]  # proto enums are ints at run time
            profile_id=profile_id,
            other_profile_ids=others,
            source_message_id=message_id,
            occurred_at=to_timestamp(datetime.now(UTC)),
        )
        return NewEntry(
            workspace_id,
            CHANGE_KINDS[kind],
            payload.SerializeToString(),
            {"profile_id": profile_id},
        )

    # ---- reading ---------------------------------------------------------------------------

    def find(self, session: Session, workspace_id: str, kind: str, value: str) -> str | None:
        i = identities.c
        return session.execute(
            select(i.profile_id).where(
                i.workspace_id == workspace_id, i.kind == kind, i.value == value
            )
        ).scalar_one_or_none()

    def view(self, session: Session, profile_id: str) -> ProfileView:
        row = session.execute(select(profiles).where(profiles.c.profile_id == profile_id)).one()
        links = session.execute(
            select(identities)
            .where(identities.c.profile_id == profile_id)
            .order_by(identities.c.linked_at)
        ).all()
        merged_ids = list(
            session.execute(
                select(profiles.c.profile_id).where(profiles.c.merged_into == profile_id)
            ).scalars()
        )
        return ProfileView(row, list(links), merged_ids)

    def get(self, workspace_id: str, kind: str, value: str) -> ProfileView:
        with self.db.read() as session:
            profile_id = self.find(session, workspace_id, kind, value)
            if profile_id is None:
                raise NotFound(f"no profile has {kind.split(':')[0]} {_shown(kind, value)}")
            return self.view(session, profile_id)

    def page(
        self, workspace_id: str, page_size: int, token: str
    ) -> tuple[list[ProfileView], str, int]:
        p = profiles.c
        live = and_(p.workspace_id == workspace_id, p.merged_into.is_(None))
        query = select(p.profile_id, p.created_at).where(live)
        if token:
            created, pid = _decode_token(token)
            query = query.where(
                or_(p.created_at < created, and_(p.created_at == created, p.profile_id < pid))
            )
        with self.db.read() as session:
            total = session.execute(
                select(func.count()).select_from(profiles).where(live)
            ).scalar_one()
            rows = session.execute(
                query.order_by(p.created_at.desc(), p.profile_id.desc()).limit(page_size + 1)
            ).all()
            views = [self.view(session, r.profile_id) for r in rows[:page_size]]
        next_token = _encode_token(rows[page_size - 1]) if len(rows) > page_size else ""
        return views, next_token, int(total)

    def timeline(
        self, workspace_id: str, kind: str, value: str, page_size: int, token: str
    ) -> tuple[list[Any], str]:
        """A profile's events, newest first; the token is the (time, message id) last shown."""
        e = profile_events.c
        with self.db.read() as session:
            profile_id = self.find(session, workspace_id, kind, value)
            if profile_id is None:
                raise NotFound(f"no profile has {kind.split(':')[0]} {_shown(kind, value)}")
            query = select(profile_events).where(
                e.workspace_id == workspace_id, e.profile_id == profile_id
            )
            if token:
                at, message_id = _decode_token(token)
                query = query.where(
                    or_(e.event_time < at, and_(e.event_time == at, e.message_id < message_id))
                )
            rows = session.execute(
                query.order_by(e.event_time.desc(), e.message_id.desc()).limit(page_size + 1)
            ).all()
        last = rows[page_size - 1] if len(rows) > page_size else None
        next_token = _token(last.event_time, last.message_id) if last is not None else ""
        return list(rows[:page_size]), next_token

    # ---- privacy -------------------------------------------------------------------------

    def subject_profiles(
        self,
        session: Session,
        workspace_id: str,
        values: dict[IdentifierKind, set[str]],
        profile_id: str,
    ) -> set[str]:
        found: set[str] = set()
        if profile_id:
            owner = session.execute(
                select(profiles.c.profile_id).where(
                    profiles.c.profile_id == profile_id, profiles.c.workspace_id == workspace_id
                )
            ).scalar_one_or_none()
            if owner:
                found.add(owner)
        for kind, vals in values.items():
            for value in vals:
                pid = self.find(session, workspace_id, kind.value, value)
                if pid:
                    found.add(pid)
        # Profiles merged into the subject's are the subject's too.
        frontier = set(found)
        while frontier:
            more = (
                set(
                    session.execute(
                        select(profiles.c.profile_id).where(profiles.c.merged_into.in_(frontier))
                    ).scalars()
                )
                - found
            )
            found |= more
            frontier = more
        return found

    def export(
        self, workspace_id: str, values: dict[IdentifierKind, set[str]], profile_id: str
    ) -> dict[str, Any]:
        with self.db.read() as session:
            ids = self.subject_profiles(session, workspace_id, values, profile_id)
            out = []
            for pid in sorted(ids):
                v = self.view(session, pid)
                out.append(
                    {
                        "profile_id": pid,
                        "merged_into": v.row.merged_into,
                        "traits": v.row.traits,
                        "event_count": v.row.event_count,
                        "event_counts": v.row.event_counts,
                        "first_seen": _iso_or_none(v.row.first_seen),
                        "last_seen": _iso_or_none(v.row.last_seen),
                        "identifiers": [
                            {
                                "type": link.kind,
                                "value": link.value,
                                "hashed": link.kind in ("email", "phone"),
                                "source_message_id": link.source_message_id,
                                "linked_at": _iso_or_none(link.linked_at),
                            }
                            for link in v.links
                        ],
                    }
                )
            events = (
                session.execute(
                    select(profile_events)
                    .where(
                        profile_events.c.workspace_id == workspace_id,
                        profile_events.c.profile_id.in_(ids),
                    )
                    .order_by(profile_events.c.event_time, profile_events.c.message_id)
                ).all()
                if ids
                else []
            )
            history = (
                session.execute(
                    select(merges).where(
                        or_(merges.c.profile_id.in_(ids), merges.c.other_profile_id.in_(ids))
                    )
                ).all()
                if ids
                else []
            )
        return {
            "profiles": out,
            "events": [
                {
                    "message_id": e.message_id,
                    "profile_id": e.profile_id,
                    "type": e.event_type,
                    "event": e.event_name,
                    "timestamp": _iso_or_none(e.event_time),
                    "properties": orjson.loads(e.properties_json) if e.properties_json else {},
                    "traits": orjson.loads(e.traits_json) if e.traits_json else {},
                }
                for e in events
            ],
            "merges": [
                {
                    "merge_id": m.merge_id,
                    "profile_id": m.profile_id,
                    "other_profile_id": m.other_profile_id,
                    "identifier_type": m.kind,
                    "source_message_id": m.source_message_id,
                    "rule": m.rule,
                    "occurred_at": _iso_or_none(m.occurred_at),
                }
                for m in history
            ],
        }

    def erase(
        self, workspace_id: str, values: dict[IdentifierKind, set[str]], profile_id: str
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.db.write() as session:
            ids = self.subject_profiles(session, workspace_id, values, profile_id)
            # The subject's identifiers also go when no profile holds them any more.
            keys = [(k.value, v) for k, vals in values.items() for v in vals]
            id_filter = identities.c.profile_id.in_(ids) if ids else None
            key_filter = (
                or_(*[and_(identities.c.kind == k, identities.c.value == v) for k, v in keys])
                if keys
                else None
            )
            clauses = [c for c in (id_filter, key_filter) if c is not None]
            counts["identities"] = (
                affected(
                    session.execute(
                        delete(identities).where(
                            identities.c.workspace_id == workspace_id, or_(*clauses)
                        )
                    )
                )
                if clauses
                else 0
            )
            if ids:
                counts["merges"] = affected(
                    session.execute(
                        delete(merges).where(
                            or_(merges.c.profile_id.in_(ids), merges.c.other_profile_id.in_(ids))
                        )
                    )
                )
                counts["profile_changes"] = affected(
                    session.execute(
                        delete(profile_changes).where(profile_changes.c.profile_id.in_(ids))
                    )
                )
                counts["profile_events"] = affected(
                    session.execute(
                        delete(profile_events).where(
                            profile_events.c.workspace_id == workspace_id,
                            profile_events.c.profile_id.in_(ids),
                        )
                    )
                )
                counts["profiles"] = affected(
                    session.execute(delete(profiles).where(profiles.c.profile_id.in_(ids)))
                )
                # Consumers must drop their copies: the notice names only the random profile id.
                self.writer.append(
                    session,
                    [self._change(workspace_id, DELETED, pid, [], "") for pid in sorted(ids)],
                )
            else:
                counts.update(merges=0, profile_changes=0, profile_events=0, profiles=0)
        self.writer.committed()
        return counts


def _shown(kind: str, value: str) -> str:
    return "(hashed)" if kind in ("email", "phone") else repr(value)


def _iso_or_none(value: datetime | None) -> str | None:
    v = aware(value)
    return iso(v) if v else None


def _encode_token(row: Any) -> str:
    return _token(row.created_at, row.profile_id)


def _token(at: datetime, key: str) -> str:
    raw = f"{iso(aware(at) or datetime.now(UTC))}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        created, pid = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), pid
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument.field("page_token", "is not a token this service issued") from None


@dataclass
class _State:
    """A profile as the batch sees it."""

    profile_id: str
    created_at: datetime
    traits: dict[str, Any]
    trait_times: dict[str, str]
    event_counts: dict[str, int]
    event_count: int
    first_seen: datetime | None
    last_seen: datetime | None
    user_id: str | None
    new: bool = False
    dirty: bool = False


class _Batch:
    """Resolves a batch of one workspace's events in memory, then writes the outcome."""

    def __init__(self, session: Session, workspace_id: str, keys: list[list[Key]]) -> None:
        self.session = session
        self.workspace_id = workspace_id
        self.now = datetime.now(UTC)
        i = identities.c
        wanted = sorted({k for ks in keys for k in ks})
        self.owners: dict[Key, str] = {}
        for chunk in range(0, len(wanted), 400):
            part = wanted[chunk : chunk + 400]
            for r in session.execute(
                select(i.kind, i.value, i.profile_id).where(
                    i.workspace_id == workspace_id, tuple_(i.kind, i.value).in_(part)
                )
            ):
                self.owners[(r.kind, r.value)] = r.profile_id
        self.states: dict[str, _State] = {}
        self._load(set(self.owners.values()))
        self.new_links: list[dict[str, Any]] = []
        self.new_events: list[dict[str, Any]] = []
        self.merge_rows: list[dict[str, Any]] = []
        self.absorbed: list[tuple[str, str]] = []  # (other, survivor) in order

    def _load(self, ids: set[str]) -> None:
        ids -= self.states.keys()
        if not ids:
            return
        p, i = profiles.c, identities.c
        uids: dict[str, str] = {}
        rows: list[Any] = []
        for chunk in _chunks(sorted(ids), 400):
            uids.update(
                {
                    r.profile_id: r.value
                    for r in self.session.execute(
                        select(i.profile_id, i.value).where(
                            i.workspace_id == self.workspace_id,
                            i.kind == IdentifierKind.USER_ID.value,
                            i.profile_id.in_(chunk),
                        )
                    )
                }
            )
            rows.extend(self.session.execute(select(profiles).where(p.profile_id.in_(chunk))).all())
        for r in rows:
            self.states[r.profile_id] = _State(
                profile_id=r.profile_id,
                created_at=aware(r.created_at) or self.now,
                traits=dict(r.traits),
                trait_times=dict(r.trait_times),
                event_counts=dict(r.event_counts),
                event_count=r.event_count,
                first_seen=aware(r.first_seen),
                last_seen=aware(r.last_seen),
                user_id=uids.get(r.profile_id),
            )

    def apply(self, event: ingestion_pb2.StoredEvent, seq: int) -> tuple[str, list[str]]:
        keys = event_keys(event)
        at = event.timestamp.ToDatetime(tzinfo=UTC)
        owners = {k: self.owners[k] for k in keys if k in self.owners}
        candidates = set(owners.values())
        plan = resolve(
            keys,
            owners,
            {pid: self.states[pid].user_id for pid in candidates},
            {pid: self.states[pid].created_at for pid in candidates},
        )
        if plan.profile_id is None:
            state = _State(
                profile_id=str(uuid.uuid4()),
                created_at=self.now,
                traits={},
                trait_times={},
                event_counts={},
                event_count=0,
                first_seen=None,
                last_seen=None,
                user_id=None,
                new=True,
            )
            self.states[state.profile_id] = state
        else:
            state = self.states[plan.profile_id]
        for other in plan.merge:
            self._merge(state, self.states.pop(other), keys, owners, event.message_id)
        for kind, value in plan.link:
            self.owners[(kind, value)] = state.profile_id
            if kind == IdentifierKind.USER_ID.value:
                state.user_id = value
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
        if plan.conflicts:
            log.info(
                "event %s: identifiers %s stay on other profiles (user_id conflict)",
                event.message_id,
                [k for k, _ in plan.conflicts],
            )
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
                "identifiers": [list(k) for k in keys],
            }
        )
        state.event_counts[name] = state.event_counts.get(name, 0) + 1
        state.event_count += 1
        if event.type == ingestion_pb2.EVENT_TYPE_IDENTIFY and event.traits_json:
            merge_traits(state.traits, state.trait_times, orjson.loads(event.traits_json), iso(at))
        state.first_seen = min(state.first_seen, at) if state.first_seen else at
        state.last_seen = max(state.last_seen, at) if state.last_seen else at
        state.dirty = True
        return state.profile_id, plan.merge

    def _merge(
        self, keep: _State, gone: _State, keys: list[Key], owners: dict[Key, str], message_id: str
    ) -> None:
        for name, when in sorted(gone.trait_times.items(), key=lambda kv: kv[1]):
            merge_traits(keep.traits, keep.trait_times, {name: gone.traits.get(name)}, when)
        for name, n in gone.event_counts.items():
            keep.event_counts[name] = keep.event_counts.get(name, 0) + n
        keep.event_count += gone.event_count
        firsts = [t for t in (keep.first_seen, gone.first_seen) if t]
        lasts = [t for t in (keep.last_seen, gone.last_seen) if t]
        keep.first_seen = min(firsts) if firsts else None
        keep.last_seen = max(lasts) if lasts else None
        keep.user_id = keep.user_id or gone.user_id
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
        via = next(k for k in keys if owners.get(k) == gone.profile_id)
        self.merge_rows.append(
            {
                "merge_id": str(uuid.uuid4()),
                "workspace_id": self.workspace_id,
                "profile_id": keep.profile_id,
                "other_profile_id": gone.profile_id,
                "kind": via[0],
                "value": via[1],
                "source_message_id": message_id,
                "rule": "shared_identifier",
                "occurred_at": self.now,
            }
        )

    def _insert_profile(self, state: _State, merged_into: str | None = None) -> None:
        self.session.execute(
            profiles.insert().values(
                **self._row(state),
                profile_id=state.profile_id,
                workspace_id=self.workspace_id,
                created_at=state.created_at,
                merged_into=merged_into,
            )
        )

    def _row(self, state: _State) -> dict[str, Any]:
        return {
            "traits": state.traits,
            "trait_times": state.trait_times,
            "event_counts": state.event_counts,
            "event_count": state.event_count,
            "first_seen": state.first_seen,
            "last_seen": state.last_seen,
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
        for other, survivor in self.absorbed:
            p = profiles.c
            session.execute(
                update(profiles)
                .where(p.profile_id == other)
                .values(merged_into=survivor, updated_at=self.now)
            )
            session.execute(
                update(profiles).where(p.merged_into == other).values(merged_into=survivor)
            )
            for table in (identities, profile_events):
                session.execute(
                    update(table).where(table.c.profile_id == other).values(profile_id=survivor)
                )
        changed = [s for s in self.states.values() if s.dirty and not s.new]
        if changed:
            session.execute(
                update(profiles)
                .where(profiles.c.profile_id == bindparam("pid"))
                .values(
                    traits=bindparam("traits"),
                    trait_times=bindparam("trait_times"),
                    event_counts=bindparam("event_counts"),
                    event_count=bindparam("event_count"),
                    first_seen=bindparam("first_seen"),
                    last_seen=bindparam("last_seen"),
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


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
