"""Segments: definitions, sizing, materialized membership and its feed, release per channel.

Membership is kept current three ways, all through `Memberships`:
  - incrementally, in the feed consumer's transaction: the profiles a batch of profile or consent
    changes touched are re-evaluated against every materialized segment of their workspace
    (segments that refer to other segments after those, in dependency order);
  - in full, on request (RefreshSegment), after a rule change, and on a schedule for rules whose
    result moves with the clock alone (relative windows and dates): `Scheduler`;
  - removals: a profile merged away or erased leaves every segment.
Each entry and exit is appended to the membership_changes feed in the same transaction as the
membership row, so the feed and the table never disagree.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
from sqlalchemy import and_, delete, func, select, text, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_common.db import Database
from precis_common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PrecisError,
    Unavailable,
    Violation,
)
from precis_common.feed import FeedWriter, NewEntry, to_timestamp
from precis_segmentation.compile import compile_rule
from precis_segmentation.rules import (
    Condition,
    EventCondition,
    FieldCondition,
    RuleInvalid,
    parse_rule,
    segment_references,
    walk,
)
from precis_segmentation.store import (
    seg_consent,
    seg_consent_pending,
    seg_memberships,
    seg_models,
    seg_profiles,
    seg_segments,
)

log = logging.getLogger(__name__)

CHUNK = 500
MAX_RULE_BYTES = 64 * 1024
MAX_SEGMENTS_PER_WORKSPACE = 1_000
MIN_REFRESH_INTERVAL = 60

FAMILIES: dict[int, str] = {
    pb.SEGMENT_FAMILY_RULE: "rule",
    pb.SEGMENT_FAMILY_RFM: "rfm",
    pb.SEGMENT_FAMILY_CLUSTER: "cluster",
    pb.SEGMENT_FAMILY_PREDICTIVE: "predictive",
    pb.SEGMENT_FAMILY_LOOKALIKE: "lookalike",
}
FAMILY_IDS = {v: k for k, v in FAMILIES.items()}

# The consent purpose each channel requires before a member is released on it. Unspecified
# releases for analysis only (analytics), never for contact.
CHANNEL_PURPOSES: dict[int, str] = {
    pb.CHANNEL_UNSPECIFIED: "analytics",
    pb.CHANNEL_EMAIL: "marketing_email",
    pb.CHANNEL_SMS: "marketing_sms",
    pb.CHANNEL_PUSH: "marketing_push",
    pb.CHANNEL_ADS: "ads_targeting",
    pb.CHANNEL_ONSITE: "personalization",
}

ENTERED = "membership.entered"
EXITED = "membership.exited"


@dataclass(frozen=True)
class Segment:
    row: Any
    rule: Condition

    @property
    def segment_id(self) -> str:
        return str(self.row.segment_id)


def is_time_relative(rule: Condition) -> bool:
    """Whether the rule's result can change with the clock alone: relative dates and windows
    counted back from now. (Fixed windows and "ever" do not; an event dated up to a day ahead,
    which ingestion accepts, counts from its time on and is caught by the next refresh of a
    segment that has an interval.)"""
    for node in walk(rule):
        if isinstance(node, FieldCondition) and node.op in (
            "within_last_days",
            "more_than_days_ago",
        ):
            return True
        if (
            isinstance(node, EventCondition)
            and node.window is not None
            and node.window.within_days is not None
        ):
            return True
    return False


def decode_rule(raw: bytes, field: str) -> Any:
    if not raw:
        raise InvalidArgument.field(field, "is required")
    if len(raw) > MAX_RULE_BYTES:
        raise InvalidArgument.field(field, f"must be at most {MAX_RULE_BYTES} bytes")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument.field(field, f"is not valid JSON ({exc})") from None


def rule_error(exc: RuleInvalid, field: str) -> InvalidArgument:
    """A refused rule as one field error per problem, each named by `rule_json` and the JSON
    path inside it (`$.all[1].value` becomes `rule_json.all[1].value`)."""
    violations = [
        Violation(field + (p.path[1:] if p.path.startswith("$") else f".{p.path}"), p.reason)
        for p in exc.problems
    ]
    return InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations)


class Memberships:
    """Evaluates segments and keeps seg_memberships and the membership_changes feed in step."""

    def __init__(self, writer: FeedWriter) -> None:
        self.writer = writer
        self._parsed: dict[tuple[str, str, int], Condition] = {}

    # ---- loading segments ---------------------------------------------------------------

    def parse(self, row: Any) -> Condition:
        key = (row.workspace_id, row.segment_id, int(row.version))
        rule = self._parsed.get(key)
        if rule is None:
            # Stored rules were validated when saved; references are checked again on save.
            rule = parse_rule(row.rule, segment_id=row.segment_id)
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            self._parsed[key] = rule
        return rule

    def materialized(self, session: Session, workspace_id: str) -> list[Segment]:
        """The workspace's materialized segments, each after the segments it refers to."""
        rows = session.execute(
            select(seg_segments).where(
                seg_segments.c.workspace_id == workspace_id,
                seg_segments.c.materialized.is_(true()),
            )
        ).all()
        segments = {r.segment_id: Segment(r, self.parse(r)) for r in rows}
        ordered: list[Segment] = []
        seen: set[str] = set()

        def visit(segment_id: str) -> None:
            if segment_id in seen or segment_id not in segments:
                return
            seen.add(segment_id)
            for ref in sorted(segment_references(segments[segment_id].rule)):
                visit(ref)
            ordered.append(segments[segment_id])

        for segment_id in sorted(segments):
            visit(segment_id)
        return ordered

    # ---- evaluating -----------------------------------------------------------------------

    def reevaluate(
        self,
        session: Session,
        workspace_id: str,
        changed: Iterable[str],
        removed: Iterable[str] = (),
        now: datetime | None = None,
    ) -> tuple[int, int]:
        """Re-evaluate `changed` profiles in every materialized segment and drop `removed` ones
        from all; returns (entered, exited).

        The membership_changes append lock is taken first, so that on PostgreSQL replicas (and
        a full refresh running beside the consumer) compute and write memberships one at a time:
        the set difference read here is still true when it is written."""
        now = now or datetime.now(UTC)
        entered = exited = 0
        if changed or removed:
            self.writer.lock(session)
        gone = sorted(set(removed))
        if gone:
            exited += self._remove(session, workspace_id, gone, now)
        ids = sorted(set(changed) - set(gone))
        if not ids:
            return entered, exited
        for segment in self.materialized(session, workspace_id):
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                matched = set(
                    session.execute(
                        compile_rule(segment.rule, workspace_id=workspace_id, now=now).where(
                            seg_profiles.c.profile_id.in_(chunk)
                        )
                    ).scalars()
                )
                current = set(
                    session.execute(
                        select(seg_memberships.c.profile_id).where(
                            seg_memberships.c.workspace_id == workspace_id,
                            seg_memberships.c.segment_id == segment.segment_id,
                            seg_memberships.c.profile_id.in_(chunk),
                        )
                    ).scalars()
                )
                a, b = self._apply(session, segment, matched - current, current - matched, now)
                entered += a
                exited += b
        return entered, exited

    def refresh_full(self, session: Session, segment: Segment, now: datetime) -> tuple[int, int]:
        """Recompute a segment's whole membership; returns (entered, exited)."""
        workspace_id = segment.row.workspace_id
        matched = set(
            session.execute(
                compile_rule(segment.rule, workspace_id=workspace_id, now=now)
            ).scalars()
        )
        current = set(
            session.execute(
                select(seg_memberships.c.profile_id).where(
                    seg_memberships.c.workspace_id == workspace_id,
                    seg_memberships.c.segment_id == segment.segment_id,
                )
            ).scalars()
        )
        entered, exited = self._apply(session, segment, matched - current, current - matched, now)
        session.execute(
            update(seg_segments)
            .where(
                seg_segments.c.workspace_id == workspace_id,
                seg_segments.c.segment_id == segment.segment_id,
            )
            .values(materialized=True, member_count=len(matched), refreshed_at=now)
        )
        return entered, exited

    def refresh_dependents(
        self, session: Session, workspace_id: str, segment_id: str, now: datetime
    ) -> int:
        """Recompute the materialized segments whose rules refer to `segment_id`, directly or
        through others, in dependency order (a segment's members changed wholesale, which the
        consumer, re-evaluating only the profiles a batch touched, would not see)."""
        changed = {segment_id}
        done = 0
        for segment in self.materialized(session, workspace_id):
            if segment.segment_id in changed:
                continue
            if segment_references(segment.rule) & changed:
                self.refresh_full(session, segment, now)
                changed.add(segment.segment_id)
                done += 1
        return done

    def drop_all(self, session: Session, segment_row: Any, now: datetime) -> int:
        """Every member exits (the segment is deleted)."""
        workspace_id = segment_row.workspace_id
        members = sorted(
            session.execute(
                select(seg_memberships.c.profile_id).where(
                    seg_memberships.c.workspace_id == workspace_id,
                    seg_memberships.c.segment_id == segment_row.segment_id,
                )
            ).scalars()
        )
        self._publish(
            session,
            workspace_id,
            segment_row.segment_id,
            int(segment_row.version),
            [],
            members,
            now,
        )
        session.execute(
            delete(seg_memberships).where(
                seg_memberships.c.workspace_id == workspace_id,
                seg_memberships.c.segment_id == segment_row.segment_id,
            )
        )
        return len(members)

    def _remove(
        self, session: Session, workspace_id: str, profile_ids: list[str], now: datetime
    ) -> int:
        exited = 0
        versions = {
            r.segment_id: int(r.version)
            for r in session.execute(
                select(seg_segments.c.segment_id, seg_segments.c.version).where(
                    seg_segments.c.workspace_id == workspace_id
                )
            )
        }
        for start in range(0, len(profile_ids), CHUNK):
            chunk = profile_ids[start : start + CHUNK]
            rows = session.execute(
                select(seg_memberships.c.segment_id, seg_memberships.c.profile_id).where(
                    seg_memberships.c.workspace_id == workspace_id,
                    seg_memberships.c.profile_id.in_(chunk),
                )
            ).all()
            by_segment: dict[str, list[str]] = {}
            for row in rows:
                by_segment.setdefault(row.segment_id, []).append(row.profile_id)
            for segment_id, members in sorted(by_segment.items()):
                self._publish(
                    session,
                    workspace_id,
                    segment_id,
                    int(versions.get(segment_id, 0)),
                    [],
                    sorted(members),
                    now,
                )
                self._count(session, workspace_id, segment_id, -len(members))
                exited += len(members)
            session.execute(
                delete(seg_memberships).where(
                    seg_memberships.c.workspace_id == workspace_id,
                    seg_memberships.c.profile_id.in_(chunk),
                )
            )
        return exited

    def _apply(
        self,
        session: Session,
        segment: Segment,
        entering: set[str],
        exiting: set[str],
        now: datetime,
    ) -> tuple[int, int]:
        if not entering and not exiting:
            return 0, 0
        workspace_id = segment.row.workspace_id
        entered, exited = sorted(entering), sorted(exiting)
        for start in range(0, len(exited), CHUNK):
            session.execute(
                delete(seg_memberships).where(
                    seg_memberships.c.workspace_id == workspace_id,
                    seg_memberships.c.segment_id == segment.segment_id,
                    seg_memberships.c.profile_id.in_(exited[start : start + CHUNK]),
                )
            )
        for start in range(0, len(entered), 5000):
            session.execute(
                seg_memberships.insert(),
                [
                    {
                        "workspace_id": workspace_id,
                        "segment_id": segment.segment_id,
                        "profile_id": pid,
                        "entered_at": now,
                    }
                    for pid in entered[start : start + 5000]
                ],
            )
        self._publish(
            session,
            workspace_id,
            segment.segment_id,
            int(segment.row.version),
            entered,
            exited,
            now,
        )
        self._count(session, workspace_id, segment.segment_id, len(entered) - len(exited))
        return len(entered), len(exited)

    def _count(self, session: Session, workspace_id: str, segment_id: str, delta: int) -> None:
        if delta:
            session.execute(
                update(seg_segments)
                .where(
                    seg_segments.c.workspace_id == workspace_id,
                    seg_segments.c.segment_id == segment_id,
                )
                .values(member_count=seg_segments.c.member_count + delta)
            )

    def _publish(
        self,
        session: Session,
        workspace_id: str,
        segment_id: str,
        version: int,
        entered: Sequence[str],
        exited: Sequence[str],
        now: datetime,
    ) -> None:
        at = to_timestamp(now)
        entries = [
            NewEntry(
                workspace_id,
                kind_name,
                pb.MembershipChange(
                    kind=kind,
                    segment_id=segment_id,
                    profile_id=pid,
                    segment_version=version,
                    occurred_at=at,
                ).SerializeToString(),
                {"segment_id": segment_id, "profile_id": pid},
            )
            for kind, kind_name, ids in (
                (pb.MEMBERSHIP_CHANGE_KIND_EXITED, EXITED, exited),
                (pb.MEMBERSHIP_CHANGE_KIND_ENTERED, ENTERED, entered),
            )
            for pid in ids
        ]
        for start in range(0, len(entries), 5000):
            self.writer.append(session, entries[start : start + 5000])


@dataclass(frozen=True)
class NewSegment:
    name: str
    description: str
    rule_doc: Any
    refresh_interval_seconds: int
    materialize: bool
    family: str = "rule"
    origin: str = ""


class SegmentStore:
    def __init__(
        self,
        database: Database,
        memberships: Memberships,
        *,
        consent_health: Any = None,
        consent_stale_after_s: float = 30.0,
        query_timeout_s: float = 60.0,
    ) -> None:
        self.db = database
        self._query_timeout_s = query_timeout_s
        # Called with (workspace, segment row, now) before a refresh; set by the families.
        self.before_refresh: Callable[[str, Any, datetime], None] | None = None
        self.memberships = memberships
        # Callable returning the seconds since the consent follower last caught up (None: never).
        self._consent_health = consent_health
        self._consent_stale_after = consent_stale_after_s

    # ---- definitions ------------------------------------------------------------------------

    def _resolver(self, session: Session, workspace_id: str) -> Any:
        rows = {
            r.segment_id: r
            for r in session.execute(
                select(seg_segments).where(seg_segments.c.workspace_id == workspace_id)
            )
        }

        def resolve(segment_id: str) -> Condition | None:
            row = rows.get(segment_id)
            return None if row is None else self.memberships.parse(row)

        return resolve

    def validate(
        self, session: Session, workspace_id: str, doc: Any, segment_id: str | None, field: str
    ) -> Condition:
        def usable(model_id: str) -> bool:
            # A model that has not failed: one still running scores profiles before it is
            # marked succeeded (its generated segments are made in between).
            return session.execute(
                select(seg_models.c.state).where(
                    seg_models.c.workspace_id == workspace_id,
                    seg_models.c.model_id == model_id,
                )
            ).scalar_one_or_none() not in (None, "failed")

        try:
            return parse_rule(
                doc,
                segment_id=segment_id,
                resolve=self._resolver(session, workspace_id),
                models=usable,
            )
        except RuleInvalid as exc:
            raise rule_error(exc, field) from None

    def create(self, workspace_id: str, new: NewSegment) -> tuple[Any, int]:
        _check_name(new.name, "name")
        _check_interval(new.refresh_interval_seconds, "refresh_interval_seconds")
        segment_id = f"seg_{uuid.uuid4().hex[:20]}"
        now = datetime.now(UTC)
        with self.db.write() as session:
            rule = self.validate(session, workspace_id, new.rule_doc, segment_id, "rule_json")
            count = session.execute(
                select(func.count())
                .select_from(seg_segments)
                .where(seg_segments.c.workspace_id == workspace_id)
            ).scalar_one()
            if count >= MAX_SEGMENTS_PER_WORKSPACE:
                raise FailedPrecondition(
                    f"the workspace has {count} segments, the most allowed; delete unused ones"
                )
            self._unique_name(session, workspace_id, new.name, None)
            session.execute(
                seg_segments.insert().values(
                    workspace_id=workspace_id,
                    segment_id=segment_id,
                    name=new.name,
                    description=new.description,
                    rule=new.rule_doc,
                    refs=sorted(segment_references(rule)),
                    time_relative=is_time_relative(rule),
                    family=new.family,
                    origin=new.origin,
                    version=1,
                    refresh_interval_seconds=new.refresh_interval_seconds,
                    materialized=False,
                    member_count=0,
                    refreshed_at=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            entered = 0
            if new.materialize:
                self.writer_lock(session)
                row = self._row(session, workspace_id, segment_id)
                entered, _ = self.memberships.refresh_full(session, Segment(row, rule), now)
            row = self._row(session, workspace_id, segment_id)
        self.memberships.writer.committed()
        return row, entered

    def update(
        self,
        workspace_id: str,
        segment_id: str,
        *,
        name: str | None,
        description: str | None,
        rule_doc: Any | None,
        refresh_interval_seconds: int | None,
        expected_version: int,
    ) -> Any:
        now = datetime.now(UTC)
        with self.db.write() as session:
            row = self._row(session, workspace_id, segment_id)
            if expected_version and int(row.version) != expected_version:
                raise _Aborted(
                    f"the segment is at version {row.version}, not {expected_version}; "
                    "read it again and retry"
                )
            values: dict[str, Any] = {"updated_at": now}
            if name is not None:
                _check_name(name, "name")
                self._unique_name(session, workspace_id, name, segment_id)
                values["name"] = name
            if description is not None:
                values["description"] = description
            if refresh_interval_seconds is not None:
                _check_interval(refresh_interval_seconds, "refresh_interval_seconds")
                values["refresh_interval_seconds"] = refresh_interval_seconds
            rule: Condition | None = None
            if rule_doc is not None and rule_doc != row.rule:
                rule = self.validate(session, workspace_id, rule_doc, segment_id, "rule_json")
                values.update(
                    rule=rule_doc,
                    refs=sorted(segment_references(rule)),
                    time_relative=is_time_relative(rule),
                    version=int(row.version) + 1,
                )
            session.execute(
                update(seg_segments)
                .where(
                    seg_segments.c.workspace_id == workspace_id,
                    seg_segments.c.segment_id == segment_id,
                )
                .values(**values)
            )
            row = self._row(session, workspace_id, segment_id)
            if rule is not None and row.materialized:
                self.writer_lock(session)
                self.memberships.refresh_full(session, Segment(row, rule), now)
                self.memberships.refresh_dependents(session, workspace_id, segment_id, now)
                row = self._row(session, workspace_id, segment_id)
        self.memberships.writer.committed()
        return row

    def delete(self, workspace_id: str, segment_id: str) -> int:
        with self.db.write() as session:
            row = session.execute(
                select(seg_segments).where(
                    seg_segments.c.workspace_id == workspace_id,
                    seg_segments.c.segment_id == segment_id,
                )
            ).one_or_none()
            if row is None:
                return 0
            users = sorted(
                r.name
                for r in session.execute(
                    select(seg_segments.c.name, seg_segments.c.refs).where(
                        seg_segments.c.workspace_id == workspace_id,
                        seg_segments.c.segment_id != segment_id,
                    )
                )
                if segment_id in (r.refs or [])
            )
            if users:
                raise FailedPrecondition(
                    f"segment {segment_id} is used by the rules of {', '.join(users)}; "
                    "change those first"
                )
            self.writer_lock(session)
            exited = self.memberships.drop_all(session, row, datetime.now(UTC))
            session.execute(
                delete(seg_segments).where(
                    seg_segments.c.workspace_id == workspace_id,
                    seg_segments.c.segment_id == segment_id,
                )
            )
        self.memberships.writer.committed()
        return exited

    def get(self, workspace_id: str, segment_id: str) -> Any:
        with self.db.read() as session:
            return self._row(session, workspace_id, segment_id)

    def list_segments(
        self, workspace_id: str, family: str | None, page_size: int, token: str
    ) -> tuple[list[Any], str]:
        s = seg_segments.c
        query = select(seg_segments).where(s.workspace_id == workspace_id)
        if family:
            query = query.where(s.family == family)
        if token:
            name, _, segment_id = token.partition("\x1f")
            query = query.where((s.name > name) | and_(s.name == name, s.segment_id > segment_id))
        with self.db.read() as session:
            rows = session.execute(query.order_by(s.name, s.segment_id).limit(page_size + 1)).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        next_token = f"{rows[-1].name}\x1f{rows[-1].segment_id}" if more and rows else ""
        return list(rows), next_token

    def _row(self, session: Session, workspace_id: str, segment_id: str) -> Any:
        row = session.execute(
            select(seg_segments).where(
                seg_segments.c.workspace_id == workspace_id,
                seg_segments.c.segment_id == segment_id,
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no segment {segment_id!r} in this workspace")
        return row

    def _unique_name(
        self, session: Session, workspace_id: str, name: str, segment_id: str | None
    ) -> None:
        existing = session.execute(
            select(seg_segments.c.segment_id).where(
                seg_segments.c.workspace_id == workspace_id, seg_segments.c.name == name
            )
        ).scalar_one_or_none()
        if existing is not None and existing != segment_id:
            raise AlreadyExists(f"name: a segment named {name!r} already exists ({existing})")

    def writer_lock(self, session: Session) -> None:
        self.memberships.writer.lock(session)

    # ---- evaluating without materializing ---------------------------------------------------

    def target_rule(
        self, session: Session, workspace_id: str, rule_doc: Any | None, segment_id: str | None
    ) -> Condition:
        if segment_id:
            return self.memberships.parse(self._row(session, workspace_id, segment_id))
        return self.validate(session, workspace_id, rule_doc, None, "rule_json")

    def estimate(
        self,
        workspace_id: str,
        rule_doc: Any | None,
        segment_id: str | None,
        channel: int | None,
    ) -> dict[str, int]:
        now = datetime.now(UTC)
        with self.db.read() as session, self._time_limit(session):
            rule = self.target_rule(session, workspace_id, rule_doc, segment_id)
            matched = compile_rule(rule, workspace_id=workspace_id, now=now).order_by(None)
            ids = matched.subquery()
            count = session.execute(select(func.count()).select_from(ids)).scalar_one()
            total = session.execute(
                select(func.count())
                .select_from(seg_profiles)
                .where(seg_profiles.c.workspace_id == workspace_id)
            ).scalar_one()
            releasable = 0
            if channel is not None:
                self.require_fresh_consent(workspace_id)
                releasable = session.execute(
                    select(func.count())
                    .select_from(ids)
                    .where(ids.c.profile_id.in_(self._allowed(workspace_id, channel)))
                ).scalar_one()
        return {"matched": int(count), "total": int(total), "releasable": int(releasable)}

    def preview(
        self,
        workspace_id: str,
        rule_doc: Any | None,
        segment_id: str | None,
        sample_size: int,
        seed: int,
    ) -> tuple[list[Any], int, Condition]:
        now = datetime.now(UTC)
        with self.db.read() as session, self._time_limit(session):
            rule = self.target_rule(session, workspace_id, rule_doc, segment_id)
            ids = list(
                session.execute(compile_rule(rule, workspace_id=workspace_id, now=now)).scalars()
            )
            sample = sorted(random.Random(seed).sample(ids, min(sample_size, len(ids))))
            rows = session.execute(
                select(seg_profiles).where(
                    seg_profiles.c.workspace_id == workspace_id,
                    seg_profiles.c.profile_id.in_(sample),
                )
            ).all()
        by_id = {r.profile_id: r for r in rows}
        return [by_id[p] for p in sample if p in by_id], len(ids), rule

    @contextmanager
    def _time_limit(self, session: Session) -> Iterator[None]:
        """Ad-hoc evaluations (estimate, preview) run under a statement timeout on PostgreSQL,
        so a rule too expensive for the workspace is refused with the reason instead of running
        on after the caller gave up. Materialization has none: the feed consumer must finish."""
        limit_ms = int(self._query_timeout_s * 1000)
        if session.get_bind().dialect.name == "postgresql" and limit_ms > 0:
            session.execute(text(f"SET LOCAL statement_timeout = {limit_ms}"))
        try:
            yield
        except OperationalError as exc:
            if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                raise
            raise FailedPrecondition(
                f"the rule is too expensive to evaluate on this workspace (stopped after "
                f"{self._query_timeout_s:g} s); narrow it, or materialize it as a segment"
            ) from None

    # ---- materializing ----------------------------------------------------------------------

    def refresh(
        self, workspace_id: str, segment_id: str, full: bool, now: datetime | None = None
    ) -> tuple[Any, int, int, bool]:
        """Materialize (the first time) or refresh a segment, then the materialized segments
        whose rules refer to it. Always a full recomputation: the consumer already keeps a
        materialized segment current as data changes, so what a refresh adds is what no change
        announces (the clock moving a relative window), and finding those profiles costs one
        evaluation of the rule anyway. A generated segment's model scores are brought up to date
        first (`before_refresh`: a predictive audience is rescored with its model)."""
        now = now or datetime.now(UTC)
        if self.before_refresh is not None:
            self.before_refresh(workspace_id, self.get(workspace_id, segment_id), now)
        with self.db.write() as session:
            row = self._row(session, workspace_id, segment_id)
            self.writer_lock(session)
            entered, exited = self.memberships.refresh_full(
                session, Segment(row, self.memberships.parse(row)), now
            )
            self.memberships.refresh_dependents(session, workspace_id, segment_id, now)
            row = self._row(session, workspace_id, segment_id)
        self.memberships.writer.committed()
        return row, entered, exited, True

    def due(self, now: datetime, default_interval_s: float) -> list[tuple[str, str]]:
        """Materialized segments whose scheduled refresh is due: their own interval, or for a
        rule that moves with the clock, `default_interval_s` when they set none."""
        with self.db.read() as session:
            rows = session.execute(
                select(
                    seg_segments.c.workspace_id,
                    seg_segments.c.segment_id,
                    seg_segments.c.refresh_interval_seconds,
                    seg_segments.c.time_relative,
                    seg_segments.c.refreshed_at,
                ).where(seg_segments.c.materialized.is_(true()))
            ).all()
        due: list[tuple[str, str]] = []
        for r in rows:
            interval = r.refresh_interval_seconds or (default_interval_s if r.time_relative else 0)
            if not interval:
                continue
            last = r.refreshed_at
            if last is not None and last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            if last is None or now - last >= timedelta(seconds=interval):
                due.append((r.workspace_id, r.segment_id))
        return due

    # ---- releasing members --------------------------------------------------------------------

    def require_fresh_consent(self, workspace_id: str) -> None:
        """Members are released on consent as the read model knows it; refuse when the consent
        follower has fallen behind (the feed not read lately, or changes it read still waiting
        for their answer from the consent service) rather than release on stale answers."""
        if self._consent_health is None:
            return
        lag = self._consent_health()
        if lag is None or lag > self._consent_stale_after:
            raise Unavailable(
                "consent state is not current (the consent service's feed has not been read "
                f"within {self._consent_stale_after:.0f} s); members are not released on stale "
                "consent, retry shortly"
            )
        with self.db.read() as session:
            oldest = session.execute(
                select(func.min(seg_consent_pending.c.since)).where(
                    seg_consent_pending.c.workspace_id == workspace_id
                )
            ).scalar_one_or_none()
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            waiting = (datetime.now(UTC) - oldest).total_seconds()
            if waiting > self._consent_stale_after:
                raise Unavailable(
                    f"consent changes read {waiting:.0f} s ago are still being applied; members "
                    "are not released on stale consent, retry shortly"
                )

    def _allowed(self, workspace_id: str, channel: int) -> Any:
        purpose = CHANNEL_PURPOSES[channel]
        return select(seg_consent.c.profile_id).where(
            seg_consent.c.workspace_id == workspace_id,
            seg_consent.c.purpose == purpose,
            seg_consent.c.allowed.is_(true()),
        )

    def members(
        self,
        workspace_id: str,
        segment_id: str,
        channel: int,
        page_size: int,
        token: str,
        *,
        counts: bool = True,
    ) -> tuple[Any, list[Any], str, int, int]:
        """One page of the members releasable on `channel` (keyset on profile id), with the
        segment's total and the number withheld for lack of the channel's consent."""
        self.require_fresh_consent(workspace_id)
        m = seg_memberships.c
        total = suppressed = 0
        with self.db.read() as session:
            row = self._row(session, workspace_id, segment_id)
            base = [m.workspace_id == workspace_id, m.segment_id == segment_id]
            allowed = m.profile_id.in_(self._allowed(workspace_id, channel))
            if counts:
                total = session.execute(
                    select(func.count()).select_from(seg_memberships).where(*base)
                ).scalar_one()
                releasable = session.execute(
                    select(func.count()).select_from(seg_memberships).where(*base, allowed)
                ).scalar_one()
                suppressed = int(total) - int(releasable)
            query = select(m.profile_id, m.entered_at).where(*base, allowed)
            if token:
                query = query.where(m.profile_id > token)
            rows = session.execute(query.order_by(m.profile_id).limit(page_size + 1)).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        return row, list(rows), rows[-1].profile_id if more and rows else "", int(total), suppressed

    def releasable_pages(
        self, workspace_id: str, segment_id: str, channel: int, page: int = 2000
    ) -> Iterator[tuple[list[Any], int, int]]:
        """Every releasable member, page by page, each with the total and the withheld count
        (counted once, with the first page)."""
        _, rows, token, total, suppressed = self.members(
            workspace_id, segment_id, channel, page, ""
        )
        yield rows, total, suppressed
        while token:
            _, rows, token, _, _ = self.members(
                workspace_id, segment_id, channel, page, token, counts=False
            )
            yield rows, total, suppressed

    def profile_segments(self, workspace_id: str, profile_id: str) -> list[Any]:
        with self.db.read() as session:
            return list(
                session.execute(
                    select(
                        seg_memberships.c.segment_id,
                        seg_segments.c.name,
                        seg_memberships.c.entered_at,
                    )
                    .join(
                        seg_segments,
                        and_(
                            seg_segments.c.workspace_id == seg_memberships.c.workspace_id,
                            seg_segments.c.segment_id == seg_memberships.c.segment_id,
                        ),
                    )
                    .where(
                        seg_memberships.c.workspace_id == workspace_id,
                        seg_memberships.c.profile_id == profile_id,
                    )
                    .order_by(seg_segments.c.name)
                ).all()
            )


class _Aborted(PrecisError):
    code = grpc.StatusCode.ABORTED


def _check_name(name: str, field: str) -> None:
    if not name.strip() or len(name) > 200:
        raise InvalidArgument.field(field, "must be 1..200 characters, not only spaces")


def _check_interval(seconds: int, field: str) -> None:
    if seconds != 0 and not MIN_REFRESH_INTERVAL <= seconds <= 7 * 86_400:
        raise InvalidArgument.field(
            field, f"must be 0 (on request only) or between {MIN_REFRESH_INTERVAL} and 604800"
        )


class Scheduler:
    """Refreshes due segments in the background (rules that move with the clock)."""

    def __init__(self, store: SegmentStore, interval_s: float, default_refresh_s: float) -> None:
        self.store = store
        self.interval = interval_s
        self.default_refresh = default_refresh_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: datetime | None = None) -> int:
        done = 0
        now = now or datetime.now(UTC)
        for workspace_id, segment_id in self.store.due(now, self.default_refresh):
            try:
                self.store.refresh(workspace_id, segment_id, full=True, now=now)
                done += 1
            except NotFound:
                continue
            except Exception:
                log.exception("scheduled refresh of %s failed", segment_id)
        return done

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="segment-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:
                log.exception("segment scheduler pass failed")
