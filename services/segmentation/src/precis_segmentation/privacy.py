"""What the segmentation service holds about a person, for data-subject requests and retention.

A subject is found by its identifiers (seg_identities) and by the profile id the consent service
passes on. Its copies (profile, tags, event facts, consent answers, identifiers), its current
memberships and its membership_changes entries are exported and erased. An erasure publishes no
"exited" entries: a follower of the feed receives the same erasure request from the consent
service, and publishing would write the erased id again.

Retention: `raw_events` expires event facts by event time; `segment_memberships` and
`feed_entries` expire membership_changes entries by the time they were written (the history of
entries and exits; current memberships are derived data that exists while the profile does).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_common.db import Database
from precis_common.retention import RetentionScope
from precis_segmentation.readmodel import CHUNK, remove_profiles
from precis_segmentation.store import (
    membership_changes,
    seg_consent,
    seg_event_facts,
    seg_identities,
    seg_memberships,
    seg_profile_tags,
    seg_profiles,
    seg_scores,
    seg_segments,
)


def _iso(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        if getattr(value, "tzinfo", None) is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value


class SegmentationPrivacy:
    def __init__(self, database: Database) -> None:
        self.db = database

    def profiles_of(
        self, session: Session, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> list[str]:
        found = {profile_id} if profile_id else set()
        for kind, value in keys:
            found.update(
                session.execute(
                    select(seg_identities.c.profile_id).where(
                        seg_identities.c.workspace_id == workspace_id,
                        seg_identities.c.kind == kind,
                        seg_identities.c.value == value,
                    )
                ).scalars()
            )
        return sorted(found)

    def export(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, Any]:
        with self.db.read() as session:
            ids = self.profiles_of(session, workspace_id, keys, profile_id)
            bundle: dict[str, Any] = {"profiles": []}
            for pid in ids:
                profile = session.execute(
                    select(seg_profiles).where(
                        seg_profiles.c.workspace_id == workspace_id,
                        seg_profiles.c.profile_id == pid,
                    )
                ).one_or_none()

                def rows(table: Any, pid: str = pid) -> list[dict[str, Any]]:
                    return [
                        # Column names are quoted_name (a str subclass orjson refuses as a key).
                        {str(k): _iso(v) for k, v in r._mapping.items() if k != "workspace_id"}
                        for r in session.execute(
                            select(table).where(
                                table.c.workspace_id == workspace_id, table.c.profile_id == pid
                            )
                        )
                    ]

                changes = [
                    {
                        "seq": r.seq,
                        "kind": r.kind,
                        "segment_id": r.segment_id,
                        "created_at": _iso(r.created_at),
                        "segment_version": pb.MembershipChange.FromString(
                            r.payload
                        ).segment_version,
                    }
                    for r in session.execute(
                        select(membership_changes).where(
                            membership_changes.c.workspace_id == workspace_id,
                            membership_changes.c.profile_id == pid,
                        )
                    )
                ]
                bundle["profiles"].append(
                    {
                        "profile_id": pid,
                        "traits": profile.traits if profile else None,
                        "computed_traits": profile.computed if profile else None,
                        "tags": [r["tag"] for r in rows(seg_profile_tags)],
                        "identifiers": [
                            {"kind": r["kind"], "value": r["value"]} for r in rows(seg_identities)
                        ],
                        "consent": rows(seg_consent),
                        "event_facts": rows(seg_event_facts),
                        "memberships": rows(seg_memberships),
                        "model_scores": rows(seg_scores),
                        "membership_changes": changes,
                    }
                )
        return bundle

    def erase(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.db.write() as session:
            ids = self.profiles_of(session, workspace_id, keys, profile_id)
            for table in (
                seg_event_facts,
                seg_profile_tags,
                seg_identities,
                seg_consent,
                seg_memberships,
                seg_scores,
                seg_profiles,
            ):
                counts[table.name] = _count(session, table, workspace_id, ids)
            _leave_counts(session, workspace_id, ids)
            remove_profiles(session, workspace_id, ids)
            erased = 0
            for start in range(0, len(ids), CHUNK):
                result = session.execute(
                    delete(membership_changes).where(
                        membership_changes.c.workspace_id == workspace_id,
                        membership_changes.c.profile_id.in_(ids[start : start + CHUNK]),
                    )
                )
                erased += int(getattr(result, "rowcount", 0) or 0)
            counts[membership_changes.name] = erased
        return {k: v for k, v in counts.items() if v}

    def expire(self, scope: RetentionScope) -> tuple[dict[str, int], bool] | None:
        if scope.data_kind == "raw_events":
            table, time_column, key = seg_event_facts, seg_event_facts.c.occurred_at, "fact_id"
        elif scope.data_kind in ("segment_memberships", "feed_entries"):
            table, time_column, key = (
                membership_changes,
                membership_changes.c.created_at,
                "seq",
            )
        else:
            return None
        condition = scope.expired(table.c.workspace_id, time_column)
        if condition is None:
            return {}, False
        with self.db.write() as session:
            ids = list(
                session.execute(
                    select(table.c[key]).where(condition).limit(scope.max_rows + 1)
                ).scalars()
            )
            more = len(ids) > scope.max_rows
            ids = ids[: scope.max_rows]
            for start in range(0, len(ids), CHUNK):
                session.execute(delete(table).where(table.c[key].in_(ids[start : start + CHUNK])))
        return ({table.name: len(ids)} if ids else {}), more


def _count(session: Session, table: Any, workspace_id: str, ids: list[str]) -> int:
    total = 0
    for start in range(0, len(ids), CHUNK):
        total += session.execute(
            select(func.count())
            .select_from(table)
            .where(
                table.c.workspace_id == workspace_id,
                table.c.profile_id.in_(ids[start : start + CHUNK]),
            )
        ).scalar_one()
    return int(total)


def _leave_counts(session: Session, workspace_id: str, ids: list[str]) -> None:
    """Segments' member counts lose the erased members (their rows go without an exit entry)."""
    m = seg_memberships.c
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(m.segment_id, func.count())
            .where(m.workspace_id == workspace_id, m.profile_id.in_(ids[start : start + CHUNK]))
            .group_by(m.segment_id)
        ).all()
        for segment_id, n in rows:
            session.execute(
                update(seg_segments)
                .where(
                    seg_segments.c.workspace_id == workspace_id,
                    seg_segments.c.segment_id == segment_id,
                )
                .values(member_count=seg_segments.c.member_count - n)
            )
