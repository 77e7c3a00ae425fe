"""The profile store: applies events from the events feed to profiles, answers lookups, and
exports or erases a data subject. Every change to profiles is announced on profile_changes in
the same transaction."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from opentelemetry import trace
from sqlalchemy import and_, delete, func, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis.profile.v1 import profile_pb2
from precis_common.db import Database, affected
from precis_common.errors import FailedPrecondition, InvalidArgument, NotFound
from precis_common.feed import FeedWriter, NewEntry, entry_span, to_timestamp
from precis_common.identifiers import IdentifierKind
from precis_common.privacy import identifier_of
from precis_common.retention import RetentionScope
from precis_common.telemetry import ATTR_PROFILE_ID
from precis_profile import tagging
from precis_profile.computed import (
    ORDER_EVENT,
    breaks_from_json,
    breaks_to_json,
    computed_traits,
    order_of,
    stats_from_json,
)
from precis_profile.graph import IdentityBatch, event_keys, load_rules
from precis_profile.identity import Key, MergeRules
from precis_profile.lifestage import DEFAULT_CONFIG, LifeStageConfig
from precis_profile.predictions import fit_and_score
from precis_profile.rfm import QuintileBreaks, compute_breaks, rfm_values
from precis_profile.store import (
    clv_models,
    clv_predictions,
    identities,
    identity_conflicts,
    merge_rules,
    merges,
    profile_changes,
    profile_events,
    profile_settings,
    profile_tags,
    profiles,
    rfm_breaks,
    separations,
)
from precis_profile.timeutil import aware, iso

log = logging.getLogger(__name__)

UPSERTED = profile_pb2.PROFILE_CHANGE_KIND_UPSERTED
MERGED = profile_pb2.PROFILE_CHANGE_KIND_MERGED
DELETED = profile_pb2.PROFILE_CHANGE_KIND_DELETED
SPLIT = profile_pb2.PROFILE_CHANGE_KIND_SPLIT
UNMERGED = "unmerged"
LIFE_STAGE_SETTING = "life_stage"
BREAKS_CACHE_SECONDS = 30.0
# A dry run holds the workspace's history in memory; beyond this it is refused with a reason.
DRY_RUN_MAX_EVENTS = 2_000_000  # the rule recorded for a split in the merges table
CHANGE_KINDS: dict[int, str] = {
    SPLIT: "profile.split",
    UPSERTED: "profile.upserted",
    MERGED: "profile.merged",
    DELETED: "profile.deleted",
}
# The most bytes of events (or of reassigned message ids) one change carries: a profile with more
# in one transaction gets several changes (each with at least one), so that entries stay well
# under the size of a feed response (precis_common.feed.RESPONSE_BYTES).
CHANGE_BUDGET_BYTES = 512 * 1024
_TAG = ""  # marks tag rows among identity rows (an identifier kind is never empty)
_T = TypeVar("_T")


@dataclass
class ProfileView:
    row: Any
    links: list[Any]
    merged_ids: list[str]
    tags: list[str]
    computed: dict[str, Any]


class ProfileStore:
    def __init__(self, database: Database, writer: FeedWriter, tracer: trace.Tracer) -> None:
        self.db = database
        self.writer = writer
        self.tracer = tracer
        self._breaks: dict[str, tuple[float, QuintileBreaks | None]] = {}
        self._life: dict[str, tuple[float, LifeStageConfig]] = {}

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
            batch = IdentityBatch(session, workspace_id, [event_keys(e) for _, e in items])
            # Profiles that got events, in the order they first did (absorbed ones dropped).
            upserted: dict[str, None] = {}
            merged: list[tuple[str, str, str]] = []  # (survivor, absorbed, message id)
            for entry, event in items:
                span = entry_span(self.tracer, "events", entry, f"profile.apply {entry.kind}")
                with trace.use_span(span, end_on_exit=True):
                    profile_id, absorbed = batch.apply(event, entry.seq)
                    span.set_attribute(ATTR_PROFILE_ID, profile_id)
                for other in absorbed:
                    upserted.pop(other, None)
                    merged.append((profile_id, other, event.message_id))
                upserted.setdefault(profile_id, None)
            batch.flush()
            tag_rules = tagging.rule_tags(session, workspace_id)
            if tag_rules:
                tagging.retag(session, workspace_id, list(upserted), tag_rules, self.docs)
            states = self.states(session, workspace_id, {*upserted, *(s for s, _, _ in merged)})
            notices.extend(
                self._change(
                    workspace_id, MERGED, survivor, [other], mid, state=states.get(survivor)
                )
                for survivor, other, mid in merged
            )
            # The batch re-keys its events when it merges profiles: each event is under the
            # profile that holds it at the end of the batch, in feed order.
            attributed: dict[str, list[profile_pb2.ProfileEvent]] = defaultdict(list)
            for row in batch.new_events:
                attributed[row["profile_id"]].append(_feed_event(row))
            for pid in upserted:
                for events in _within_budget(attributed[pid], _event_size):
                    notices.append(
                        self._change(
                            workspace_id,
                            UPSERTED,
                            pid,
                            [],
                            events[-1].message_id if events else "",
                            state=states.get(pid),
                            events=events,
                        )
                    )
        self.writer.append(session, notices)

    def _change(
        self,
        workspace_id: str,
        kind: int,
        profile_id: str,
        others: list[str],
        message_id: str,
        *,
        state: profile_pb2.ProfileState | None = None,
        events: Sequence[profile_pb2.ProfileEvent] = (),
        reassigned: Sequence[str] = (),
    ) -> NewEntry:
        payload = profile_pb2.ProfileChange(
            kind=kind,  # type: ignore[arg-type]  # proto enums are ints at run time
            profile_id=profile_id,
            other_profile_ids=others,
            source_message_id=message_id,
            occurred_at=to_timestamp(datetime.now(UTC)),
            state=state,
            events=events,
            reassigned_message_ids=reassigned,
        )
        return NewEntry(
            workspace_id,
            CHANGE_KINDS[kind],
            payload.SerializeToString(),
            {"profile_id": profile_id},
        )

    def states(
        self, session: Session, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, profile_pb2.ProfileState]:
        """The state the profile_changes feed carries for each of the given profiles that is
        live, read in bulk in the caller's transaction: the rows (with computed traits, as
        docs() and view() compute them), then identifiers and tags together, per 400 profiles.
        Identifiers are in their stored form (email and phone as keyed hashes), by kind and
        value; tags by name."""
        found = {
            pid: profile_pb2.ProfileState(
                traits_json=orjson.dumps(doc["traits"]),
                computed_traits_json=orjson.dumps(doc["computed"]),
            )
            for pid, doc in self.docs(session, workspace_id, sorted(set(profile_ids)))
        }
        i, t = identities.c, profile_tags.c
        links: dict[str, list[tuple[str, str]]] = defaultdict(list)
        tags: dict[str, list[str]] = defaultdict(list)
        ids = sorted(found)
        for chunk in (ids[start : start + 400] for start in range(0, len(ids), 400)):
            query = union_all(
                # By profile id alone, so that the planner takes ix_identities_profile.
                select(i.profile_id, i.kind, i.value).where(i.profile_id.in_(chunk)),
                select(t.profile_id, literal(_TAG), t.tag).where(
                    t.workspace_id == workspace_id, t.profile_id.in_(chunk)
                ),
            )
            for r in session.execute(query):
                if r.kind == _TAG:
                    tags[r.profile_id].append(r.value)
                else:
                    links[r.profile_id].append((r.kind, r.value))
        for pid, state in found.items():
            state.tags.extend(sorted(tags[pid]))
            state.identifiers.extend(identifier_of(key) for key in sorted(links[pid]))
        return found

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
        tags = list(
            session.execute(
                select(profile_tags.c.tag)
                .where(profile_tags.c.profile_id == profile_id)
                .order_by(profile_tags.c.tag)
            ).scalars()
        )
        clv = session.execute(
            select(clv_predictions.c.prediction).where(
                clv_predictions.c.workspace_id == row.workspace_id,
                clv_predictions.c.profile_id == profile_id,
            )
        ).scalar_one_or_none()
        computed = _computed(
            row,
            clv,
            self._rfm_breaks(session, row.workspace_id),
            self._life_config(session, row.workspace_id),
            datetime.now(UTC),
        )
        return ProfileView(row, list(links), merged_ids, tags, computed)

    def docs(
        self, session: Session, workspace_id: str, profile_ids: list[str] | None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(profile id, {"computed": ..., "traits": ...}) of the given live profiles, or of
        every live profile of the workspace, read in bulk: what tag rules are evaluated on."""
        p, c = profiles.c, clv_predictions.c
        breaks = self._rfm_breaks(session, workspace_id)
        life = self._life_config(session, workspace_id)
        as_of = datetime.now(UTC)
        live = (p.workspace_id == workspace_id, p.merged_into.is_(None))
        if profile_ids is None:
            chunks: list[list[str] | None] = [None]
        else:
            chunks = [profile_ids[i : i + 400] for i in range(0, len(profile_ids), 400)]
        for chunk in chunks:
            query = select(
                p.profile_id,
                p.traits,
                p.order_stats,
                p.event_count,
                p.first_seen,
                p.last_seen,
                c.prediction,
            ).outerjoin(
                clv_predictions,
                and_(c.workspace_id == p.workspace_id, c.profile_id == p.profile_id),
            )
            query = query.where(*live)
            if chunk is not None:
                query = query.where(p.profile_id.in_(chunk))
            for r in session.execute(query):
                computed = _computed(r, r.prediction, breaks, life, as_of)
                yield r.profile_id, {"traits": r.traits, "computed": computed}

    # ---- per-workspace settings: the life-stage rule ---------------------------------------

    def _life_config(self, session: Session, workspace_id: str) -> LifeStageConfig:
        """The workspace's life-stage configuration (cached briefly; dropped on change here,
        other replicas see a change within BREAKS_CACHE_SECONDS)."""
        cached = self._life.get(workspace_id)
        if cached is not None and time.monotonic() - cached[0] < BREAKS_CACHE_SECONDS:
            return cached[1]
        s = profile_settings.c
        doc = session.execute(
            select(s.doc).where(s.workspace_id == workspace_id, s.name == LIFE_STAGE_SETTING)
        ).scalar_one_or_none()
        config = DEFAULT_CONFIG if doc is None else LifeStageConfig.from_json(doc)
        self._life[workspace_id] = (time.monotonic(), config)
        return config

    def life_stage_config(self, workspace_id: str) -> tuple[LifeStageConfig, bool]:
        """The configuration in force and whether it is the default."""
        s = profile_settings.c
        with self.db.read() as session:
            doc = session.execute(
                select(s.doc).where(s.workspace_id == workspace_id, s.name == LIFE_STAGE_SETTING)
            ).scalar_one_or_none()
        return (DEFAULT_CONFIG, True) if doc is None else (LifeStageConfig.from_json(doc), False)

    def set_life_stage_config(
        self, workspace_id: str, config: LifeStageConfig | None
    ) -> tuple[LifeStageConfig, bool]:
        """Store the configuration (None restores the default). Stages are computed when a
        profile is read, so the change shows at once; rule tags that use life_stage follow."""
        s = profile_settings.c
        where = (s.workspace_id == workspace_id, s.name == LIFE_STAGE_SETTING)
        with self.db.write() as session:
            session.execute(delete(profile_settings).where(*where))
            if config is not None:
                session.execute(
                    profile_settings.insert().values(
                        workspace_id=workspace_id,
                        name=LIFE_STAGE_SETTING,
                        doc=config.to_json(),
                        updated_at=datetime.now(UTC),
                    )
                )
            self._life.pop(workspace_id, None)
            self._retag_all(session, workspace_id)
        self._life.pop(workspace_id, None)
        self.writer.committed()
        return (config, False) if config is not None else (DEFAULT_CONFIG, True)

    # ---- tag definitions -------------------------------------------------------------------

    def put_tag_definition(
        self, workspace_id: str, new: tagging.TagDefinition
    ) -> tagging.TagDefinition:
        with self.db.write() as session:
            self.writer.lock(session)
            stored, changed = tagging.put(session, workspace_id, new, self.docs)
            self._announce(session, workspace_id, changed)
        self.writer.committed()
        return stored

    def tag_definitions(self, workspace_id: str) -> list[tagging.TagDefinition]:
        with self.db.read() as session:
            return tagging.definitions(session, workspace_id)

    def delete_tag_definition(self, workspace_id: str, tag: str) -> int:
        with self.db.write() as session:
            self.writer.lock(session)
            holders = tagging.delete_definition(session, workspace_id, tag)
            self._announce(session, workspace_id, set(holders))
        self.writer.committed()
        return len(holders)

    def refresh_tags(self, workspace_id: str) -> int:
        """Re-evaluate every rule tag on every profile (scheduled: recency moves with time)."""
        with self.db.write() as session:
            changed = self._retag_all(session, workspace_id)
        self.writer.committed()
        return changed

    def _retag_all(self, session: Session, workspace_id: str) -> int:
        rules = tagging.rule_tags(session, workspace_id)
        if not rules:
            return 0
        self.writer.lock(session)
        changed = tagging.retag(session, workspace_id, None, rules, self.docs)
        self._announce(session, workspace_id, changed)
        return len(changed)

    def _announce(self, session: Session, workspace_id: str, profile_ids: set[str]) -> None:
        """One UPSERTED change with its state per profile (tag changes, life-stage rule)."""
        if profile_ids:
            states = self.states(session, workspace_id, profile_ids)
            self.writer.append(
                session,
                [
                    self._change(workspace_id, UPSERTED, pid, [], "", state=states.get(pid))
                    for pid in sorted(profile_ids)
                ],
            )

    def _rfm_breaks(self, session: Session, workspace_id: str) -> QuintileBreaks | None:
        """The workspace's last RFM boundaries (cached briefly: they change on refresh only)."""
        cached = self._breaks.get(workspace_id)
        if cached is not None and time.monotonic() - cached[0] < BREAKS_CACHE_SECONDS:
            return cached[1]
        doc = session.execute(
            select(rfm_breaks.c.breaks).where(rfm_breaks.c.workspace_id == workspace_id)
        ).scalar_one_or_none()
        breaks = breaks_from_json(doc)
        self._breaks[workspace_id] = (time.monotonic(), breaks)
        return breaks

    def refresh_rfm(self, workspace_id: str, as_of: datetime | None = None) -> dict[str, Any]:
        """Recompute the workspace's RFM quintile boundaries from every live profile with orders,
        store them with the size of each cell, and return both."""
        moment = as_of or datetime.now(UTC)
        p = profiles.c
        with self.db.write() as session:
            previous = self._rfm_breaks(session, workspace_id)
            rows = [
                (pid, stats_from_json(doc))
                for pid, doc in session.execute(
                    select(p.profile_id, p.order_stats).where(
                        p.workspace_id == workspace_id,
                        p.merged_into.is_(None),
                        p.order_stats.is_not(None),
                    )
                ).tuples()
            ]
            scored = [(pid, s, v) for pid, s in rows if (v := rfm_values(s, moment)) is not None]
            values = [v for _, _, v in scored]
            breaks = compute_breaks(values, as_of=moment)
            cells = Counter(breaks.score(v).cell.value for v in values)
            # Consumers of profile_changes (segmentation) learn a profile's RFM scores from the
            # state its changes carry; scores move with new boundaries and with time, which no
            # event announces. Announce every profile whose scores differ from those of the last
            # refresh (its boundaries, as of its time).
            moved = sorted(
                pid for pid, s, v in scored if _rfm_code(previous, s) != breaks.score(v).code
            )
            doc = {
                "breaks": breaks_to_json(breaks),
                "cells": dict(sorted(cells.items())),
                "computed_at": moment,
            }
            updated = affected(
                session.execute(
                    update(rfm_breaks)
                    .where(rfm_breaks.c.workspace_id == workspace_id)
                    .values(**doc)
                )
            )
            if not updated:
                session.execute(rfm_breaks.insert().values(workspace_id=workspace_id, **doc))
            # The states read for the announcement score against the new boundaries.
            self._breaks.pop(workspace_id, None)
            self._announce(session, workspace_id, set(moved))
        self._breaks.pop(workspace_id, None)
        self.writer.committed()
        return {
            "breaks": breaks,
            "cells": dict(cells),
            "population": len(values),
            "announced": len(moved),
        }

    def refresh_predictions(
        self, workspace_id: str, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """Refit the workspace's lifetime-value models on every live profile's orders and
        replace all predictions; returns the models, or {"skipped": reason}."""
        moment = as_of or datetime.now(UTC)
        e, p = profile_events.c, profiles.c
        with self.db.write() as session:
            rows = session.execute(
                select(e.profile_id, e.message_id, e.event_name, e.properties_json, e.event_time)
                .join(profiles, p.profile_id == e.profile_id)
                .where(
                    e.workspace_id == workspace_id,
                    e.event_name == ORDER_EVENT,
                    p.merged_into.is_(None),
                )
                .order_by(e.seq)
            ).all()
            seen: set[tuple[str, str]] = set()
            orders = []
            for r in rows:
                order = order_of(
                    r.event_name, r.properties_json, r.message_id, aware(r.event_time) or moment
                )
                if order is not None and (r.profile_id, order.order_id) not in seen:
                    seen.add((r.profile_id, order.order_id))
                    orders.append((r.profile_id, order))
            fitted = fit_and_score(orders, moment)
            if isinstance(fitted, str):
                return {"skipped": fitted}
            session.execute(
                delete(clv_predictions).where(clv_predictions.c.workspace_id == workspace_id)
            )
            if fitted.predictions:
                session.execute(
                    clv_predictions.insert(),
                    [
                        {"workspace_id": workspace_id, "profile_id": pid, "prediction": pred}
                        for pid, pred in fitted.predictions.items()
                    ],
                )
            session.execute(delete(clv_models).where(clv_models.c.workspace_id == workspace_id))
            session.execute(
                clv_models.insert().values(
                    workspace_id=workspace_id, models=fitted.models, fitted_at=moment
                )
            )
        return fitted.models

    def workspaces(self) -> list[str]:
        with self.db.read() as session:
            return list(session.execute(select(profiles.c.workspace_id).distinct()).scalars())

    def get(self, workspace_id: str, kind: str, value: str) -> ProfileView:
        with self.db.read() as session:
            profile_id = self.find(session, workspace_id, kind, value)
            if profile_id is None:
                raise NotFound(f"no profile has {kind.split(':')[0]} {_shown(kind, value)}")
            return self.view(session, profile_id)

    def set_tag(
        self, workspace_id: str, kind: str, value: str, tag: str, present: bool
    ) -> ProfileView:
        """Tag or untag a profile; repeating either is harmless. Announced as an upsert."""
        t = profile_tags.c
        with self.db.write() as session:
            profile_id = self.find(session, workspace_id, kind, value)
            if profile_id is None:
                raise NotFound(f"no profile has {kind.split(':')[0]} {_shown(kind, value)}")
            tagging.refuse_rule_tag(session, workspace_id, tag)
            where = (t.workspace_id == workspace_id, t.profile_id == profile_id, t.tag == tag)
            has = session.execute(select(t.tag).where(*where)).scalar_one_or_none() is not None
            if present and not has:
                session.execute(
                    profile_tags.insert().values(
                        workspace_id=workspace_id,
                        profile_id=profile_id,
                        tag=tag,
                        source="manual",
                        created_at=datetime.now(UTC),
                    )
                )
            elif not present and has:
                session.execute(delete(profile_tags).where(*where))
            if present != has:
                self._announce(session, workspace_id, {profile_id})
            view = self.view(session, profile_id)
        self.writer.committed()
        return view

    def by_tag(
        self, workspace_id: str, tag: str, page_size: int, token: str
    ) -> tuple[list[ProfileView], str]:
        """Profiles carrying `tag`, by profile id; the token is the last id shown."""
        t = profile_tags.c
        query = select(t.profile_id).where(t.workspace_id == workspace_id, t.tag == tag)
        if token:
            query = query.where(t.profile_id > _decode_id_token(token))
        with self.db.read() as session:
            ids = list(session.execute(query.order_by(t.profile_id).limit(page_size + 1)).scalars())
            views = [self.view(session, pid) for pid in ids[:page_size]]
        next_token = _id_token(ids[page_size - 1]) if len(ids) > page_size else ""
        return views, next_token

    def view_by_id(self, workspace_id: str, profile_id: str) -> ProfileView:
        with self.db.read() as session:
            exists = session.execute(
                select(profiles.c.profile_id).where(
                    profiles.c.profile_id == profile_id, profiles.c.workspace_id == workspace_id
                )
            ).scalar_one_or_none()
            if exists is None:
                raise NotFound(f"no profile {profile_id!r} in this workspace")
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

    # ---- unmerge --------------------------------------------------------------------------

    def unmerge(
        self, workspace_id: str, profile_id: str, key: Key | None, merge_id: str
    ) -> list[str]:
        """Split a profile: detach `key` (or the identifier whose link caused merge `merge_id`)
        into a profile of its own. The profile's events are replayed under the current rules
        with the two sides kept apart, so identifiers, traits and counts of both resulting
        profiles are recomputed from their own events; the two never merge again. Returns the
        resulting profile ids, the original first."""
        with self.db.write() as session:
            self.writer.lock(session)  # one writer of profile changes at a time
            row = session.execute(
                select(profiles).where(
                    profiles.c.profile_id == profile_id, profiles.c.workspace_id == workspace_id
                )
            ).one_or_none()
            if row is None or row.merged_into is not None:
                raise NotFound(f"no live profile {profile_id!r} in this workspace")
            if key is None:
                key = self._merge_key(session, workspace_id, merge_id)
            i = identities.c
            links = {
                (r.kind, r.value): r
                for r in session.execute(
                    select(identities).where(
                        i.workspace_id == workspace_id, i.profile_id == profile_id
                    )
                )
            }
            if key not in links:
                raise FailedPrecondition(
                    f"the profile holds no {key[0]} identifier with that value; nothing to detach"
                )
            rules = load_rules(session, workspace_id)
            others = sorted(
                (k for k in links if k != key),
                key=lambda k: (rules.rank(k[0]), aware(links[k].linked_at) or datetime.now(UTC)),
            )
            if not others:
                raise FailedPrecondition(
                    "the identifier is the profile's only one; nothing to split"
                )
            anchor = others[0]
            events = session.execute(
                select(profile_events)
                .where(
                    profile_events.c.workspace_id == workspace_id,
                    profile_events.c.profile_id == profile_id,
                )
                .order_by(profile_events.c.seq)
            ).all()
            for table in (identities, profile_events, identity_conflicts, clv_predictions):
                session.execute(
                    delete(table).where(
                        table.c.workspace_id == workspace_id, table.c.profile_id == profile_id
                    )
                )
            session.execute(delete(profiles).where(profiles.c.profile_id == profile_id))
            detached_id = str(uuid.uuid4())
            stored = [_stored_event(e) for e in events]
            recorded: list[list[Key]] = [[(k, v) for k, v in e.identifiers] for e in events]
            batch = IdentityBatch(session, workspace_id, recorded, replay=True)
            batch.separations.add(frozenset((profile_id, detached_id)))
            for seeded_key, pid in ((anchor, profile_id), (key, detached_id)):
                link = links[seeded_key]
                batch.seed(
                    seeded_key,
                    pid,
                    {
                        "workspace_id": workspace_id,
                        "kind": link.kind,
                        "value": link.value,
                        "source_message_id": link.source_message_id,
                        "linked_at": link.linked_at,
                    },
                )
            attributed = [
                batch.apply(event, e.seq, keys)[0]
                for event, e, keys in zip(stored, events, recorded, strict=True)
            ]
            batch.flush()
            # The replay may merge either side into a profile it started (one that holds a
            # stronger identifier): the split is between the profiles holding the two sides now.
            kept, detached = batch.current(profile_id), batch.current(detached_id)
            resulting = [
                kept,
                detached,
                *sorted(pid for pid in batch.states if pid not in (kept, detached)),
            ]
            tag_rules = tagging.rule_tags(session, workspace_id)
            if tag_rules:
                tagging.retag(session, workspace_id, resulting, tag_rules, self.docs)
            now = datetime.now(UTC)
            session.execute(
                separations.insert().values(
                    workspace_id=workspace_id,
                    profile_id=kept,
                    other_profile_id=detached,
                    created_at=now,
                )
            )
            session.execute(
                merges.insert().values(
                    merge_id=str(uuid.uuid4()),
                    workspace_id=workspace_id,
                    profile_id=kept,
                    other_profile_id=detached,
                    kind=key[0],
                    value=key[1],
                    source_message_id="",
                    rule=UNMERGED,
                    occurred_at=now,
                )
            )
            # Every event was profile_id's before the split; those now held by another profile
            # (the replay may have moved even the kept side's) are reassigned.
            reassigned: dict[str, list[str]] = defaultdict(list)
            for e, pid in zip(events, attributed, strict=True):
                holder = batch.current(pid)
                if holder != profile_id:
                    reassigned[holder].append(e.message_id)
            states = self.states(session, workspace_id, resulting)
            self.writer.append(
                session,
                [self._change(workspace_id, SPLIT, kept, resulting[1:], "")]
                + [
                    self._change(
                        workspace_id, UPSERTED, pid, [], "", state=states.get(pid), reassigned=ids
                    )
                    for pid in resulting
                    for ids in _within_budget(reassigned[pid], _message_id_size)
                ],
            )
        self.writer.committed()
        return resulting

    def dry_run(self, workspace_id: str, rules: MergeRules) -> dict[str, int]:
        """How the stored history would partition into profiles under `rules`, compared with
        the profiles that exist now. The whole workspace's events are replayed in memory in
        feed order, so the cost grows with the event count; past the limit it is refused.
        Manual unmerges are not replayed: a pair split by hand may show as merged."""
        e = profile_events.c
        with self.db.read() as session:
            total = session.execute(
                select(func.count())
                .select_from(profile_events)
                .where(e.workspace_id == workspace_id)
            ).scalar_one()
            if total > DRY_RUN_MAX_EVENTS:
                raise FailedPrecondition(
                    f"the workspace has {total} events; a dry run replays at most "
                    f"{DRY_RUN_MAX_EVENTS} in memory"
                )
            rows = session.execute(
                select(profile_events).where(e.workspace_id == workspace_id).order_by(e.seq)
            ).all()
            batch = IdentityBatch(session, workspace_id, [], rules=rules, isolated=True)
            for row in rows:
                batch.apply(_stored_event(row), row.seq, [(k, v) for k, v in row.identifiers])
        now = {r.message_id: r.profile_id for r in rows}
        after = {ev["message_id"]: ev["profile_id"] for ev in batch.new_events}
        groups_after: dict[str, set[str]] = {}
        groups_now: dict[str, set[str]] = {}
        for message_id, current in now.items():
            groups_after.setdefault(after[message_id], set()).add(current)
            groups_now.setdefault(current, set()).add(after[message_id])
        merged = sum(len(members) - 1 for members in groups_after.values())
        split = sum(1 for parts in groups_now.values() if len(parts) > 1)
        unchanged = sum(
            1
            for current, parts in groups_now.items()
            if len(parts) == 1 and groups_after[next(iter(parts))] == {current}
        )
        return {
            "profiles_merged": merged,
            "profiles_split": split,
            "profiles_unchanged": unchanged,
            "profiles_before": len(groups_now),
            "profiles_after": len(groups_after),
            "events_evaluated": len(rows),
        }

    def _merge_key(self, session: Session, workspace_id: str, merge_id: str) -> Key:
        record = session.execute(
            select(merges.c.kind, merges.c.value).where(
                merges.c.workspace_id == workspace_id,
                merges.c.merge_id == merge_id,
                merges.c.rule != UNMERGED,
            )
        ).one_or_none()
        if record is None:
            raise NotFound(f"no merge {merge_id!r} in this workspace")
        return (record.kind, record.value)

    # ---- merge rules and history ---------------------------------------------------------

    def rules(self, workspace_id: str) -> MergeRules:
        with self.db.read() as session:
            return load_rules(session, workspace_id)

    def set_rules(self, workspace_id: str, rules: MergeRules) -> MergeRules:
        """Replace the rules; they apply to events applied from now on (existing profiles are
        not re-evaluated: dry-run and re-evaluation come with unmerge)."""
        doc = rules.to_json()
        with self.db.write() as session:
            updated = affected(
                session.execute(
                    update(merge_rules)
                    .where(merge_rules.c.workspace_id == workspace_id)
                    .values(rules=doc, updated_at=datetime.now(UTC))
                )
            )
            if not updated:
                session.execute(
                    merge_rules.insert().values(
                        workspace_id=workspace_id, rules=doc, updated_at=datetime.now(UTC)
                    )
                )
        return rules

    def history(self, workspace_id: str, kind: str, value: str) -> list[dict[str, Any]]:
        """Merges into the profile and identifiers its events carried that rules kept apart,
        oldest first."""
        m, c = merges.c, identity_conflicts.c
        with self.db.read() as session:
            profile_id = self.find(session, workspace_id, kind, value)
            if profile_id is None:
                raise NotFound(f"no profile has {kind.split(':')[0]} {_shown(kind, value)}")
            merged = session.execute(
                select(merges).where(
                    m.workspace_id == workspace_id,
                    or_(m.profile_id == profile_id, m.other_profile_id == profile_id),
                )
            ).all()
            kept_apart = session.execute(
                select(identity_conflicts).where(
                    c.workspace_id == workspace_id, c.profile_id == profile_id
                )
            ).all()
        records = [
            {
                "id": r.merge_id,
                "action": "split" if r.rule == UNMERGED else "merged",
                "profile_id": r.profile_id,
                "other_profile_id": r.other_profile_id,
                "kind": r.kind,
                "value": r.value,
                "source_message_id": r.source_message_id,
                "rule": r.rule,
                "occurred_at": aware(r.occurred_at),
            }
            for r in merged
        ] + [
            {
                "id": r.conflict_id,
                "action": "conflict",
                "profile_id": r.profile_id,
                "other_profile_id": r.other_profile_id or "",
                "kind": r.kind,
                "value": r.value,
                "source_message_id": r.source_message_id,
                "rule": r.reason,
                "occurred_at": aware(r.occurred_at),
            }
            for r in kept_apart
        ]
        return sorted(records, key=lambda r: (r["occurred_at"], r["id"]))

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
        return _with_merged(session, found)

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
                        "tags": v.tags,
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
        with self.db.write() as session:
            ids = self.subject_profiles(session, workspace_id, values, profile_id)
            # The subject's identifiers also go when no profile holds them any more.
            keys = [(k.value, v) for k, vals in values.items() for v in vals]
            counts = self._erase(session, workspace_id, ids, keys)
        self.writer.committed()
        return counts

    def expire_inactive(self, scope: RetentionScope) -> tuple[dict[str, int], bool]:
        """Retention of inactive profiles: erase up to scope.max_rows live profiles whose last
        event (or creation, if they have none) is past their workspace's cutoff, exactly as a
        data-subject erasure would (with the profiles merged into them); returns rows deleted
        per table and whether more such profiles remain."""
        p = profiles.c
        condition = scope.expired(p.workspace_id, func.coalesce(p.last_seen, p.created_at))
        if condition is None:
            return {"profiles": 0}, False
        totals: Counter[str] = Counter()
        with self.db.write() as session:
            rows = session.execute(
                select(p.workspace_id, p.profile_id)
                .where(condition, p.merged_into.is_(None))
                .order_by(p.workspace_id, p.profile_id)
                .limit(scope.max_rows + 1)
            ).all()
            more = len(rows) > scope.max_rows
            chosen: dict[str, list[str]] = defaultdict(list)
            for row in rows[: scope.max_rows]:
                chosen[row.workspace_id].append(row.profile_id)
            for workspace_id, ids in sorted(chosen.items()):
                for start in range(0, len(ids), 200):
                    subject = _with_merged(session, set(ids[start : start + 200]))
                    totals.update(self._erase(session, workspace_id, subject, []))
        self.writer.committed()
        return dict(totals), more

    def expire_events(self, scope: RetentionScope) -> tuple[dict[str, int], bool]:
        """Retention of raw events: the profile's copies of events past the cutoff (by event
        time). Computed traits already counted them and keep them; an unmerge recomputes from
        the events that remain."""
        e = profile_events.c
        condition = scope.expired(e.workspace_id, e.event_time)
        if condition is None:
            return {"profile_events": 0}, False
        with self.db.write() as session:
            keys = session.execute(
                select(e.workspace_id, e.message_id).where(condition).limit(scope.max_rows + 1)
            ).all()
            more = len(keys) > scope.max_rows
            deleted = 0
            by_workspace: dict[str, list[str]] = defaultdict(list)
            for key in keys[: scope.max_rows]:
                by_workspace[key.workspace_id].append(key.message_id)
            for workspace_id, ids in by_workspace.items():
                for start in range(0, len(ids), 500):
                    deleted += affected(
                        session.execute(
                            delete(profile_events).where(
                                e.workspace_id == workspace_id,
                                e.message_id.in_(ids[start : start + 500]),
                            )
                        )
                    )
        return {"profile_events": deleted}, more

    def _erase(
        self, session: Session, workspace_id: str, ids: set[str], keys: list[tuple[str, str]]
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
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
            counts["clv_predictions"] = affected(
                session.execute(
                    delete(clv_predictions).where(
                        clv_predictions.c.workspace_id == workspace_id,
                        clv_predictions.c.profile_id.in_(ids),
                    )
                )
            )
            counts["profile_tags"] = affected(
                session.execute(
                    delete(profile_tags).where(
                        profile_tags.c.workspace_id == workspace_id,
                        profile_tags.c.profile_id.in_(ids),
                    )
                )
            )
            counts["identity_conflicts"] = affected(
                session.execute(
                    delete(identity_conflicts).where(
                        identity_conflicts.c.workspace_id == workspace_id,
                        or_(
                            identity_conflicts.c.profile_id.in_(ids),
                            identity_conflicts.c.other_profile_id.in_(ids),
                            *(
                                and_(
                                    identity_conflicts.c.kind == k,
                                    identity_conflicts.c.value == v,
                                )
                                for k, v in keys
                            ),
                        ),
                    )
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
            # No profile.deleted notice: it would keep the profile id after the erasure.
            # Every service holding copies is erased through its own PrivacyService by the
            # consent service's orchestration, with a receipt, which a notice cannot prove.
        else:
            counts.update(
                merges=0,
                profile_changes=0,
                profile_tags=0,
                clv_predictions=0,
                identity_conflicts=0,
                profile_events=0,
                profiles=0,
            )
        return counts


def _with_merged(session: Session, found: set[str]) -> set[str]:
    """The profiles and every profile merged into them (transitively)."""
    found = set(found)
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


def _computed(
    row: Any,
    clv: dict[str, Any] | None,
    breaks: QuintileBreaks | None,
    life: LifeStageConfig,
    as_of: datetime,
) -> dict[str, Any]:
    """The computed traits of a profile row (read one by one for views, in bulk for tags)."""
    return computed_traits(
        stats=stats_from_json(row.order_stats),
        traits=row.traits,
        event_count=row.event_count,
        first_seen=aware(row.first_seen),
        last_seen=aware(row.last_seen),
        breaks=breaks,
        as_of=as_of,
        clv=clv,
        life=life,
    )


def _feed_event(row: dict[str, Any]) -> profile_pb2.ProfileEvent:
    """An event applied in this batch (an IdentityBatch.new_events row) as the feed carries it."""
    track = row["event_type"] == "track"
    return profile_pb2.ProfileEvent(
        message_id=row["message_id"],
        type=row["event_type"],
        event=row["event_name"] if track else "identify",
        timestamp=to_timestamp(row["event_time"]),
        properties_json=row["properties_json"],
    )


def _event_size(event: profile_pb2.ProfileEvent) -> int:
    return event.ByteSize() + 4  # with its tag and length


def _message_id_size(message_id: str) -> int:
    return len(message_id.encode()) + 2


def _within_budget(items: Sequence[_T], size: Callable[[_T], int]) -> Iterator[Sequence[_T]]:
    """`items` in order, in runs of at most CHANGE_BUDGET_BYTES (at least one item each); one
    empty run when there are none, so that the change is announced all the same."""
    run: list[_T] = []
    used = 0
    for item in items:
        n = size(item)
        if run and used + n > CHANGE_BUDGET_BYTES:
            yield run
            run, used = [], 0
        run.append(item)
        used += n
    yield run


def _stored_event(row: Any) -> ingestion_pb2.StoredEvent:
    """An applied event as the events feed carried it, rebuilt from the profile's own copy."""
    event = ingestion_pb2.StoredEvent(
        message_id=row.message_id,
        type=ingestion_pb2.EVENT_TYPE_TRACK
        if row.event_type == "track"
        else ingestion_pb2.EVENT_TYPE_IDENTIFY,
        event=row.event_name,
        properties_json=row.properties_json,
        traits_json=row.traits_json,
    )
    event.timestamp.FromDatetime(aware(row.event_time) or datetime.now(UTC))
    fields = {
        "user_id": "user_id",
        "anonymous_id": "anonymous_id",
        "email": "email_hash",
        "phone": "phone_hash",
    }
    for kind, value in row.identifiers:
        if kind in fields:
            setattr(event, fields[kind], value)
    return event


def _id_token(profile_id: str) -> str:
    return base64.urlsafe_b64encode(f"id|{profile_id}".encode()).decode()


def _decode_id_token(token: str) -> str:
    try:
        prefix, profile_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
    except (ValueError, UnicodeDecodeError):
        prefix, profile_id = "", ""
    if prefix != "id" or not profile_id:
        raise InvalidArgument.field("page_token", "is not a token this service issued")
    return profile_id


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


def _rfm_code(breaks: QuintileBreaks | None, stats: Any) -> str | None:
    """A profile's RFM code under `breaks` as of their own time (None: not scored then)."""
    if breaks is None:
        return None
    values = rfm_values(stats, breaks.as_of)
    return None if values is None else breaks.score(values).code
