"""Filling recommendation's tables from the feeds it follows.

profile_changes (the profile service): each UPSERTED change carries the events the profile
service attributed to the profile, in feed order. Product events become interactions keyed by
that profile (so the identity graph's decisions, merge limits included, are the ones used), and
an item first seen in an event enters the catalog. Merges move a profile's interactions to the
survivor, an unmerge moves the reassigned events' interactions back, a deletion removes them.
The profile's identifiers (stored form) are kept to find a data subject and to ask the consent
service about it.

membership_changes (segmentation): who is in which segment, for popular-in-segment.

Product events follow the e-commerce spec the tracking plans use:
- "Product Viewed" and "Product Added": properties.product_id (with name, category, price,
  currency describing the item);
- "Order Completed": properties.products[].product_id (same descriptive fields), each a purchase.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from precis.common.v1 import feed_pb2
from precis.profile.v1 import profile_pb2
from precis.segmentation.v1 import segmentation_pb2
from precis_common.db import insert_ignoring_duplicates
from precis_common.identifiers import PiiHasher
from precis_common.subject_identities import write_identities
from precis_recommendation.store import (
    rec_identities,
    rec_interactions,
    rec_items,
    rec_segment_members,
)

log = logging.getLogger(__name__)

PROFILE_FEED = "profile_changes"
MEMBERSHIP_FEED = "membership_changes"
CHUNK = 500
MAX_ITEM_ID = 128
MAX_PRODUCTS = 200  # line items read per order

EVENT_KINDS = {
    "Product Viewed": "view",
    "Product Added": "cart",
    "Order Completed": "purchase",
}


def item_id_of(value: Any) -> str | None:
    """A product id as the catalog keys it: strings and integers (shops send both); None for
    anything else, empty, or longer than 128 characters."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip().replace("\x00", "")
    if not value or len(value) > MAX_ITEM_ID:
        return None
    return value


def _described_item(workspace: str, item_id: str, product: Mapping[str, Any]) -> dict[str, Any]:
    title = product.get("name") or product.get("title") or ""
    category = product.get("category") or ""
    price = product.get("price")
    currency = product.get("currency") or ""
    return {
        "workspace_id": workspace,
        "item_id": item_id,
        "title": str(title).replace("\x00", "")[:1000],
        "category": str(category).replace("\x00", "")[:512],
        "price": float(price)
        if isinstance(price, int | float) and not isinstance(price, bool) and price >= 0
        else 0.0,
        "currency": str(currency)[:3].upper() if isinstance(currency, str) else "",
        "available": True,
        "attributes": {},
        "source": "events",
        "updated_at": datetime.now(UTC),
    }


def interactions_of(
    workspace: str, profile_id: str, event: profile_pb2.ProfileEvent
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(interaction rows, catalog rows) of one event; nothing for other events or unreadable
    properties (an event is never refused here: ingestion accepted it)."""
    kind = EVENT_KINDS.get(event.event)
    if kind is None:
        return [], []
    try:
        properties = orjson.loads(event.properties_json or b"{}")
    except orjson.JSONDecodeError:
        return [], []
    if not isinstance(properties, dict):
        return [], []
    if kind == "purchase":
        products = properties.get("products")
        candidates = (
            [p for p in products[:MAX_PRODUCTS] if isinstance(p, dict)]
            if isinstance(products, list)
            else []
        )
    else:
        candidates = [properties]
    occurred_at = event.timestamp.ToDatetime(tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for product in candidates:
        item_id = item_id_of(product.get("product_id"))
        if item_id is None or item_id in seen:
            continue
        seen.add(item_id)
        rows.append(
            {
                "workspace_id": workspace,
                "profile_id": profile_id,
                "item_id": item_id,
                "kind": kind,
                "occurred_at": occurred_at,
                "message_id": event.message_id[:128],
            }
        )
        items.append(_described_item(workspace, item_id, product))
    return rows, items


def remove_profiles(
    session: Session, workspace_id: str, profile_ids: Sequence[str]
) -> dict[str, int]:
    """Deletes every row of the profiles; rows deleted per table."""
    counts: dict[str, int] = {}
    for table in (rec_interactions, rec_identities, rec_segment_members):
        total = 0
        for start in range(0, len(profile_ids), CHUNK):
            result = session.execute(
                delete(table).where(
                    table.c.workspace_id == workspace_id,
                    table.c.profile_id.in_(list(profile_ids[start : start + CHUNK])),
                )
            )
            total += int(getattr(result, "rowcount", 0) or 0)
        counts[table.name] = total
    return counts


class ProfileChangesApplier:
    """Applies profile_changes entries (see the module docstring)."""

    def __init__(self, hasher: PiiHasher) -> None:
        self.hasher = hasher
        self.skipped = 0

    def apply(self, session: Session, entries: Sequence[feed_pb2.FeedEntry]) -> set[str]:
        """Applies the entries; returns the workspaces whose interactions changed."""
        interactions: list[dict[str, Any]] = []
        items: dict[tuple[str, str], dict[str, Any]] = {}
        identities: dict[tuple[str, str], profile_pb2.ProfileState] = {}
        changed: set[str] = set()

        def flush() -> None:
            insert_ignoring_duplicates(
                session, rec_items, list(items.values()), ("workspace_id", "item_id")
            )
            items.clear()
            insert_ignoring_duplicates(
                session,
                rec_interactions,
                interactions,
                ("workspace_id", "message_id", "item_id", "kind"),
            )
            interactions.clear()
            write_identities(session, rec_identities, self.hasher, identities)
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
                for event in change.events:
                    rows, described = interactions_of(workspace, pid, event)
                    interactions.extend(rows)
                    for item in described:
                        items.setdefault((workspace, item["item_id"]), item)
                    if rows:
                        changed.add(workspace)
                if change.reassigned_message_ids:
                    flush()
                    ids = list(change.reassigned_message_ids)
                    for start in range(0, len(ids), CHUNK):
                        session.execute(
                            update(rec_interactions)
                            .where(
                                rec_interactions.c.workspace_id == workspace,
                                rec_interactions.c.message_id.in_(ids[start : start + CHUNK]),
                            )
                            .values(profile_id=pid)
                        )
                    changed.add(workspace)
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_MERGED:
                flush()
                others = [o for o in change.other_profile_ids if o and o != pid]
                if others:
                    for table in (rec_interactions, rec_identities):
                        session.execute(
                            update(table)
                            .where(
                                table.c.workspace_id == workspace, table.c.profile_id.in_(others)
                            )
                            .values(profile_id=pid)
                        )
                    # Segmentation publishes the survivor's memberships itself.
                    session.execute(
                        delete(rec_segment_members).where(
                            rec_segment_members.c.workspace_id == workspace,
                            rec_segment_members.c.profile_id.in_(others),
                        )
                    )
                    changed.add(workspace)
                if change.HasField("state"):
                    identities[(workspace, pid)] = change.state
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_DELETED:
                flush()
                remove_profiles(session, workspace, [pid])
                changed.add(workspace)
            elif kind == profile_pb2.PROFILE_CHANGE_KIND_SPLIT:
                pass  # the UPSERTED changes that follow carry the moved events' ids
            else:
                self.skipped += 1
        flush()
        return changed


class MembershipChangesApplier:
    """Keeps rec_segment_members from segmentation's membership_changes (the last change of a
    batch for a (segment, profile) decides)."""

    def apply(self, session: Session, entries: Iterable[feed_pb2.FeedEntry]) -> None:
        final: dict[tuple[str, str, str], bool] = {}
        for entry in entries:
            change = segmentation_pb2.MembershipChange.FromString(entry.payload)
            if not change.segment_id or not change.profile_id:
                continue
            key = (entry.workspace_id, change.segment_id, change.profile_id)
            if change.kind == segmentation_pb2.MEMBERSHIP_CHANGE_KIND_ENTERED:
                final[key] = True
            elif change.kind == segmentation_pb2.MEMBERSHIP_CHANGE_KIND_EXITED:
                final[key] = False
        entered = [
            {"workspace_id": w, "segment_id": s, "profile_id": p}
            for (w, s, p), inside in final.items()
            if inside
        ]
        insert_ignoring_duplicates(
            session, rec_segment_members, entered, ("workspace_id", "segment_id", "profile_id")
        )
        exited: dict[tuple[str, str], list[str]] = {}
        for (w, s, p), inside in final.items():
            if not inside:
                exited.setdefault((w, s), []).append(p)
        m = rec_segment_members.c
        for (workspace, segment), pids in exited.items():
            for start in range(0, len(pids), CHUNK):
                session.execute(
                    delete(rec_segment_members).where(
                        m.workspace_id == workspace,
                        m.segment_id == segment,
                        m.profile_id.in_(pids[start : start + CHUNK]),
                    )
                )
