"""Filling measurement's tables from the profile service's profile_changes feed.

Each UPSERTED change carries the events the profile service attributed to a profile, so every row
here is keyed by the profile the identity graph chose. From those events:

- **Exposures**: campaign messages, named as the e-mail, SMS and push specs of the tracking plans
  name them, "<Channel> Sent | Delivered | Opened | Clicked" (also "Email Link Clicked", "Push
  Notification Received" and "Tapped"), with ``properties.campaign_id``. The channel comes from
  the name's first word (Email, SMS, Push) or ``properties.channel``. Opens and clicks of a message
  channel without a campaign id are kept too: they are engagement for send-time optimization.
- **Conversions**: "Order Completed" and every event a campaign of the workspace names as its
  conversion event, with ``properties.revenue`` and the other numeric top-level properties (a
  campaign may name another revenue property). History of a custom conversion event from before
  the first campaign naming it is not held: such a campaign's CUPED pre-period is then empty, and
  its report says so.
- **Touches** for attribution: events with ``properties.utm_source`` or ``utm_medium`` (landing
  pages record the UTM parameters they were reached with).

Merges move every row to the survivor; in a campaign where both profiles were assigned the
survivor's assignment stays (the other is dropped, as a subject counted twice would be), and where
only an absorbed profile was, its assignment moves. An unmerge moves the rows of the reassigned
events back; assignments stay with the profile that was assigned. A deletion removes everything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.profile.v1 import profile_pb2
from precis_common.db import insert_ignoring_duplicates
from precis_common.identifiers import PiiHasher
from precis_common.subject_identities import write_identities
from precis_measurement.store import (
    ms_assignments,
    ms_conversions,
    ms_exposures,
    ms_identities,
    ms_touches,
)

log = logging.getLogger(__name__)

PROFILE_FEED = "profile_changes"
DEFAULT_CONVERSION_EVENT = "Order Completed"
CHUNK = 500
MAX_AMOUNTS = 32

EXPOSURE_SUFFIXES = (
    (" Link Clicked", "clicked"),
    (" Clicked", "clicked"),
    (" Tapped", "clicked"),
    (" Opened", "opened"),
    (" Delivered", "delivered"),
    (" Received", "delivered"),
    (" Sent", "sent"),
)
CHANNEL_WORDS = {"email": "email", "sms": "sms", "push": "push", "in-app": "push"}
# Tables whose rows follow a profile through merges, unmerges and deletions.
EVENT_TABLES = (ms_exposures, ms_conversions, ms_touches)


def _text(value: Any, limit: int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return value.strip().replace("\x00", "")[:limit]


def exposure_kind(event_name: str) -> str | None:
    for suffix, kind in EXPOSURE_SUFFIXES:
        if event_name.endswith(suffix) and len(event_name) > len(suffix):
            return kind
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def event_rows(
    workspace: str,
    profile_id: str,
    event: profile_pb2.ProfileEvent,
    conversion_events: frozenset[str],
) -> dict[str, dict[str, Any]]:
    """The rows (by table name) one event gives; none for events of no interest or unreadable
    properties (an event is never refused here: ingestion accepted it)."""
    if event.type != "track":
        return {}
    name = event.event
    kind = exposure_kind(name)
    is_conversion = name in conversion_events
    try:
        properties = orjson.loads(event.properties_json or b"{}")
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(properties, dict):
        return {}
    has_utm = "utm_source" in properties or "utm_medium" in properties
    if kind is None and not is_conversion and not has_utm:
        return {}
    occurred_at = event.timestamp.ToDatetime(tzinfo=UTC)
    message_id = event.message_id[:128]
    base = {
        "workspace_id": workspace,
        "profile_id": profile_id,
        "occurred_at": occurred_at,
        "message_id": message_id,
    }
    rows: dict[str, dict[str, Any]] = {}
    if kind is not None:
        campaign_id = _text(properties.get("campaign_id"), 64)
        word = name.split(" ", 1)[0].lower()
        channel = CHANNEL_WORDS.get(word) or _text(properties.get("channel"), 32).lower()
        # Engagement without a campaign counts only on a message channel: "Product Clicked"
        # (the e-commerce spec) is browsing, not a message opened.
        if campaign_id or (kind in ("opened", "clicked") and channel):
            rows[ms_exposures.name] = {
                **base,
                "campaign_id": campaign_id,
                "kind": kind,
                "channel": channel,
            }
    if is_conversion:
        amounts: dict[str, float] = {}
        for key, value in properties.items():
            number = _number(value)
            if number is not None and len(amounts) < MAX_AMOUNTS and len(key) <= 200:
                amounts[key] = number
        revenue = amounts.get("revenue", 0.0)
        rows[ms_conversions.name] = {
            **base,
            "event": name[:200],
            "revenue": revenue if revenue > 0 else 0.0,
            "amounts": amounts,
        }
    if has_utm:
        source = _text(properties.get("utm_source"), 128).lower()
        medium = _text(properties.get("utm_medium"), 128).lower()
        if source or medium:
            rows[ms_touches.name] = {**base, "source": source, "medium": medium}
    return rows


def remove_profiles(
    session: Session, workspace_id: str, profile_ids: Sequence[str]
) -> dict[str, int]:
    """Deletes every row of the profiles; rows deleted per table."""
    counts: dict[str, int] = {}
    for table in (*EVENT_TABLES, ms_assignments, ms_identities):
        total = 0
        for start in range(0, len(profile_ids), CHUNK):
            result = session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace_id,
                    table.c.profile_id.in_(list(profile_ids[start : start + CHUNK])),
                )
            )
            total += int(getattr(result, "rowcount", 0) or 0)
        counts[str(table.name)] = total
    return counts


def merge_assignments(session: Session, workspace: str, survivor: str, others: list[str]) -> None:
    """Per campaign: the survivor's assignment stays; otherwise the earliest of the absorbed
    profiles' moves to the survivor. The absorbed profiles' other assignments are dropped."""
    a = ms_assignments.c
    rows = session.execute(
        select(a.campaign_id, a.profile_id, a.assigned_at).where(
            a.workspace_id == workspace, a.profile_id.in_([survivor, *others])
        )
    ).all()
    by_campaign: dict[str, list[Any]] = {}
    for row in rows:
        by_campaign.setdefault(row.campaign_id, []).append(row)
    for campaign_id, assigned in by_campaign.items():
        if any(r.profile_id == survivor for r in assigned):
            keep = None
        else:
            keep = min(assigned, key=lambda r: (r.assigned_at, r.profile_id)).profile_id
        if keep is not None:
            session.execute(
                update(ms_assignments)
                .where(
                    a.workspace_id == workspace,
                    a.campaign_id == campaign_id,
                    a.profile_id == keep,
                )
                .values(profile_id=survivor)
            )
        session.execute(
            delete(ms_assignments).where(
                a.workspace_id == workspace,
                a.campaign_id == campaign_id,
                a.profile_id.in_(others),
            )
        )


class ProfileChangesApplier:
    """Applies profile_changes entries (see the module docstring). ``conversion_events(workspace)``
    names the events that count as conversions in a workspace."""

    def __init__(
        self, hasher: PiiHasher, conversion_events: Callable[[str], frozenset[str]]
    ) -> None:
        self.hasher = hasher
        self.conversion_events = conversion_events
        self.skipped = 0

    def apply(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> None:
        pending: dict[str, list[dict[str, Any]]] = {t.name: [] for t in EVENT_TABLES}
        identities: dict[tuple[str, str], profile_pb2.ProfileState] = {}
        tables = {t.name: t for t in EVENT_TABLES}

        def flush() -> None:
            for name, rows in pending.items():
                insert_ignoring_duplicates(
                    session, tables[name], rows, ("workspace_id", "message_id")
                )
                rows.clear()
            write_identities(session, ms_identities, self.hasher, identities)
            identities.clear()

        for entry in entries:
            change = profile_pb2.ProfileChange.FromString(entry.payload)
            workspace, pid = entry.workspace_id, change.profile_id
            if not pid:
                self.skipped += 1
                continue
            kind = change.kind
            if kind == profile_pb2.PROFILE_CHANGE_KIND_UPSERTED:
                if change.HasField("state"):
                    identities[(workspace, pid)] = change.state
                conversions = self.conversion_events(workspace)
                for event in change.events:
                    for name, row in event_rows(workspace, pid, event, conversions).items():
                        pending[name].append(row)
                if change.reassigned_message_ids:
                    flush()
                    ids = list(change.reassigned_message_ids)
                    for table in EVENT_TABLES:
                        for start in range(0, len(ids), CHUNK):
                            session.execute(
                                update(table)
                                .where(
                                    table.c.workspace_id == workspace,
                                    table.c.message_id.in_(ids[start : start + CHUNK]),
                                )
                                .values(profile_id=pid)
                            )
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_MERGED:
                flush()
                others = [o for o in change.other_profile_ids if o and o != pid]
                if others:
                    merge_assignments(session, workspace, pid, others)
                    for table in (*EVENT_TABLES, ms_identities):
                        session.execute(
                            update(table)
                            .where(
                                table.c.workspace_id == workspace, table.c.profile_id.in_(others)
                            )
                            .values(profile_id=pid)
                        )
                if change.HasField("state"):
                    identities[(workspace, pid)] = change.state
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_DELETED:
                flush()
                remove_profiles(session, workspace, [pid])
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_SPLIT:
                pass  # the UPSERTED changes that follow carry the moved events' ids
            else:
                self.skipped += 1
        flush()


def conversion_amount(row: Any, revenue_property: str) -> float:
    """Revenue of a conversion row under a campaign's revenue property (negative values are 0)."""
    if revenue_property == "revenue":
        return float(row.revenue)
    amounts: Mapping[str, Any] = row.amounts or {}
    value = _number(amounts.get(revenue_property))
    return value if value is not None and value > 0 else 0.0
