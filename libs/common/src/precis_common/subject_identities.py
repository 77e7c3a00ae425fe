"""The identifiers of profiles, in stored (hashed) form, kept by a service that follows the
profile service's profile_changes feed: they find a data subject's rows for export and erasure
and let the service ask the consent service about the subject (recommendation, measurement).

One table per service, shaped by :func:`identities_table`; :func:`write_identities` replaces the
identifiers of the profiles whose newest state a batch carried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Index, MetaData, String, Table, delete, select
from sqlalchemy.orm import Session

from precis.profile.v1 import profile_pb2
from precis_common.errors import InvalidArgument
from precis_common.identifiers import PiiHasher
from precis_common.privacy import stored_key

CHUNK = 500


def identities_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("workspace_id", String(64), primary_key=True),
        Column("kind", String(64), primary_key=True),
        Column("value", String(256), primary_key=True),
        Column("profile_id", String(64), nullable=False),
        Index(f"ix_{name}_profile", "workspace_id", "profile_id"),
    )


def write_identities(
    session: Session,
    table: Table,
    hasher: PiiHasher,
    states: Mapping[tuple[str, str], profile_pb2.ProfileState],
) -> None:
    """Replaces the identifiers of each (workspace, profile) by those of its state. An identifier
    this version cannot read is not kept; one that moved between profiles (a split) belongs to
    the newest state."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    by_workspace: dict[str, list[str]] = {}
    for (workspace, pid), state in states.items():
        by_workspace.setdefault(workspace, []).append(pid)
        for identifier in state.identifiers:
            try:
                kind, value = stored_key(hasher, workspace, identifier, field="identifiers")
            except (InvalidArgument, ValueError):
                continue
            rows[(workspace, kind, value)] = {
                "workspace_id": workspace,
                "kind": kind,
                "value": value,
                "profile_id": pid,
            }
    for workspace, pids in by_workspace.items():
        for start in range(0, len(pids), CHUNK):
            session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace,
                    table.c.profile_id.in_(pids[start : start + CHUNK]),
                )
            )
    by_key: dict[tuple[str, str], list[str]] = {}
    for workspace, kind, value in rows:
        by_key.setdefault((workspace, kind), []).append(value)
    for (workspace, kind), values in by_key.items():
        for start in range(0, len(values), CHUNK):
            session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace,
                    table.c.kind == kind,
                    table.c.value.in_(values[start : start + CHUNK]),
                )
            )
    if rows:
        session.execute(table.insert(), list(rows.values()))


def profiles_of(
    session: Session,
    table: Table,
    workspace_id: str,
    keys: Sequence[tuple[str, str]],
    profile_id: str = "",
) -> list[str]:
    """The profiles a subject's stored identifier keys (and profile id) point at."""
    found = {profile_id} if profile_id else set()
    for kind, value in keys:
        found.update(
            session.execute(
                select(table.c.profile_id).where(
                    table.c.workspace_id == workspace_id,
                    table.c.kind == kind,
                    table.c.value == value,
                )
            ).scalars()
        )
    return sorted(found)
