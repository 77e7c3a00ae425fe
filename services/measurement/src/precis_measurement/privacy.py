"""What the measurement service holds about a person, for data-subject requests and retention.

A subject is found by its identifiers (ms_identities) and by the profile id the consent service
passes on. Its assignments, exposures, conversions and touches are exported and erased. Reports
are computed from these rows at each request, so an erased person leaves no trace in a later
report (the arm loses a subject: an erasure can in principle show as a tiny sample-ratio
deviation, far below what the check flags). A stored uplift evaluation holds aggregates only.

Retention: `raw_events` expires exposures, conversions and touches by event time;
`campaign_assignments` expires assignments by assignment time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

from sqlalchemy import Table, delete, select

from precis_common.db import Database
from precis_common.retention import RetentionScope
from precis_common.subject_identities import profiles_of
from precis_measurement.readmodel import CHUNK, remove_profiles
from precis_measurement.store import (
    ms_assignments,
    ms_conversions,
    ms_exposures,
    ms_identities,
    ms_touches,
)

EXPORTED = {
    ms_assignments: ("campaign_id", "arm_id", "bucket", "assigned_at"),
    ms_exposures: ("campaign_id", "kind", "channel", "occurred_at", "message_id"),
    ms_conversions: ("event", "occurred_at", "revenue", "amounts", "message_id"),
    ms_touches: ("source", "medium", "occurred_at", "message_id"),
}


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        if getattr(value, "tzinfo", None) is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value


class MeasurementPrivacy:
    def __init__(self, database: Database) -> None:
        self.db = database

    def export(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, Any]:
        profiles = []
        with self.db.read() as session:
            for pid in profiles_of(session, ms_identities, workspace_id, keys, profile_id):
                bundle: dict[str, Any] = {"profile_id": pid}
                for table, columns in EXPORTED.items():
                    rows = session.execute(
                        select(*(table.c[name] for name in columns)).where(
                            table.c.workspace_id == workspace_id, table.c.profile_id == pid
                        )
                    ).all()
                    bundle[str(table.name)] = [
                        {name: _plain(value) for name, value in zip(columns, row, strict=True)}
                        for row in rows
                    ]
                if any(bundle[t.name] for t in EXPORTED):
                    profiles.append(bundle)
        return {"profiles": profiles}

    def erase(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, int]:
        with self.db.write() as session:
            ids = profiles_of(session, ms_identities, workspace_id, keys, profile_id)
            if not ids:
                return {}
            counts = remove_profiles(session, workspace_id, ids)
        return {k: v for k, v in counts.items() if v}

    def expire(self, scope: RetentionScope) -> tuple[dict[str, int], bool] | None:
        if scope.data_kind == "raw_events":
            tables: list[tuple[Table, str, str]] = [
                (ms_exposures, "exposure_id", "occurred_at"),
                (ms_conversions, "conversion_id", "occurred_at"),
                (ms_touches, "touch_id", "occurred_at"),
            ]
        elif scope.data_kind == "campaign_assignments":
            tables = [(ms_assignments, "", "assigned_at")]
        else:
            return None
        removed: dict[str, int] = {}
        more = False
        budget = scope.max_rows
        with self.db.write() as session:
            for table, key, time in tables:
                condition = scope.expired(table.c.workspace_id, table.c[time])
                if condition is None:
                    return {}, False
                if budget <= 0:
                    more = True
                    break
                if key:
                    ids = list(
                        session.execute(
                            select(table.c[key]).where(condition).limit(budget + 1)
                        ).scalars()
                    )
                    more = more or len(ids) > budget
                    ids = ids[:budget]
                    for start in range(0, len(ids), CHUNK):
                        session.execute(
                            delete(table).where(table.c[key].in_(ids[start : start + CHUNK]))
                        )
                    count = len(ids)
                else:
                    keys = session.execute(
                        select(table.c.workspace_id, table.c.campaign_id, table.c.profile_id)
                        .where(condition)
                        .limit(budget + 1)
                    ).all()
                    more = more or len(keys) > budget
                    keys = keys[:budget]
                    for w, c, p in keys:
                        session.execute(
                            delete(table).where(
                                table.c.workspace_id == w,
                                table.c.campaign_id == c,
                                table.c.profile_id == p,
                            )
                        )
                    count = len(keys)
                budget -= count
                if count:
                    removed[str(table.name)] = count
        return removed, more
