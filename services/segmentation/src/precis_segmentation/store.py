"""Segmentation's read model: the tables rules are compiled against (see README.md, "Read model").

Every table is keyed by workspace first. Times are stored in UTC; date-valued traits inside the
JSON documents are canonical UTC strings (`canonical_time`), so that ordering them as strings is
ordering them in time, the same way on SQLite, PostgreSQL and in Python."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from precis_common.feed import cursor_table, feed_table

metadata = MetaData()

# The JSON documents rules read (traits, computed traits, event properties): JSONB on PostgreSQL,
# parsed once when written instead of at every access (the plain json type is text that
# json_typeof and ->> parse again for each key a rule reads: a trait rule over 1M profiles ran
# at 2.1x a hand-written query on it, tests/bench/segmentation.json); JSON text on SQLite.
DOCUMENT = JSON().with_variant(JSONB(), "postgresql")

FACT_ID = BigInteger().with_variant(Integer(), "sqlite")

# Event properties copied into numeric columns, so that the most common sums (revenue per
# window) read a column of the covering index instead of parsing JSON for every event.
PROMOTED_NUMERIC_PROPERTIES = ("revenue", "quantity")

# One row per profile: its traits (last write wins, from profile_changes) and computed traits
# (order_count, revenue, rfm_cell, life_stage, first_seen, last_seen, clv, ...) as JSON objects.
seg_profiles = Table(
    "seg_profiles",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("traits", DOCUMENT, nullable=False),
    Column("computed", DOCUMENT, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

seg_profile_tags = Table(
    "seg_profile_tags",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("tag", String(128), primary_key=True),
    # "Who has tag X" is the question rules ask; the primary key answers "tags of profile P".
    Index("ix_seg_profile_tags_tag", "workspace_id", "tag", "profile_id"),
)

# One row per event. A windowed count or sum is
#   WHERE workspace_id = ? AND event = ? AND occurred_at BETWEEN ? AND ? GROUP BY profile_id
# which the window index answers in order, without touching the table on PostgreSQL for counts
# and for sums of the promoted columns (INCLUDE). Property filters read the JSON document.
seg_event_facts = Table(
    "seg_event_facts",
    metadata,
    Column("fact_id", FACT_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("event", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("properties", DOCUMENT, nullable=False),
    Column("revenue", Float, nullable=True),
    Column("quantity", Float, nullable=True),
    # Ingestion's message id: replays of the feed do not count an event twice.
    Column("message_id", String(128), nullable=True),
    Index(
        "ix_seg_event_facts_window",
        "workspace_id",
        "event",
        "occurred_at",
        "profile_id",
        postgresql_include=["revenue", "quantity"],
    ),
    # Merges, erasures and incremental refresh work per profile.
    Index("ix_seg_event_facts_profile", "workspace_id", "profile_id", "occurred_at"),
    Index("ux_seg_event_facts_message", "workspace_id", "message_id", unique=True),
)

# Current consent per profile and purpose (from consent_changes). No row means not allowed:
# marketing purposes are opt-in.
seg_consent = Table(
    "seg_consent",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("allowed", Boolean, nullable=False),
    Index("ix_seg_consent_purpose", "workspace_id", "purpose", "allowed", "profile_id"),
)

# Materialized membership of every segment; rules that reference a segment read it here.
seg_memberships = Table(
    "seg_memberships",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Index("ix_seg_memberships_profile", "workspace_id", "profile_id"),
)


# ---- the service's own state ---------------------------------------------------------------

# One row per segment. `rule` is the validated rule document; `refs` the segment ids it refers to
# (a referenced segment cannot be deleted); `time_relative` whether its result moves with the
# clock alone (relative windows and dates), which decides the scheduled re-evaluation.
seg_segments = Table(
    "seg_segments",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("rule", JSON, nullable=False),
    Column("refs", JSON, nullable=False),
    Column("time_relative", Boolean, nullable=False),
    Column("family", String(16), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("refresh_interval_seconds", Integer, nullable=False),
    Column("materialized", Boolean, nullable=False),
    Column("member_count", BigInteger, nullable=False),
    Column("refreshed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ux_seg_segments_name", "workspace_id", "name", unique=True),
)

# Identifiers of each profile in their stored form (email and phone as keyed hashes), from the
# profile's state on profile_changes: consent is recorded against identifiers, and a subject's
# privacy request or a ListProfileSegments call names one.
seg_identities = Table(
    "seg_identities",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("profile_id", String(64), nullable=False),
    Index("ix_seg_identities_profile", "workspace_id", "profile_id"),
)

# Profiles whose consent must be asked again (their identifiers or their ledger changed); the
# consent follower drains it.
seg_consent_pending = Table(
    "seg_consent_pending",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False),
)

# The membership_changes feed (payload: precis.segmentation.v1.MembershipChange); the profile id
# is a column so that an erasure can delete a subject's entries.
membership_changes = feed_table(
    metadata,
    "membership_changes",
    Column("segment_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Index("ix_membership_changes_profile", "workspace_id", "profile_id"),
)

feed_cursors = cursor_table(metadata)

# Built-in families' models and jobs: predictive models (their pickled estimator in `model`),
# clustering jobs and lookalike expansions. `result` holds what the API shows (metrics, lift
# table, clusters, silhouettes, quality); `parameters` the request with defaults filled in.
seg_models = Table(
    "seg_models",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("progress", Float, nullable=False),
    Column("error", Text, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("model", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_seg_models_kind", "workspace_id", "kind", "created_at"),
)

# A model's output per profile (propensity, similarity, cluster index): what `score`
# conditions compare, so that generated audiences are ordinary rules.
seg_scores = Table(
    "seg_scores",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Index("ix_seg_scores_value", "workspace_id", "model_id", "score"),
    Index("ix_seg_scores_profile", "workspace_id", "profile_id"),
)


def canonical_time(moment: datetime) -> str:
    """The form date-valued traits and properties are stored in: UTC, second precision,
    fixed width (`2026-11-28T10:15:00Z`), so string order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive input is taken as UTC); what the DateTime columns hold."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def event_fact_row(
    *,
    workspace_id: str,
    profile_id: str,
    event: str,
    occurred_at: datetime,
    properties: Mapping[str, Any],
    message_id: str | None = None,
) -> dict[str, Any]:
    """The seg_event_facts row of one event, with its promoted numeric columns filled in the one
    way the compiler relies on (the column equals the property when it is a JSON number)."""
    row: dict[str, Any] = {
        "workspace_id": workspace_id,
        "profile_id": profile_id,
        "event": event,
        "occurred_at": utc(occurred_at),
        "properties": dict(properties),
        "message_id": message_id,
    }
    for name in PROMOTED_NUMERIC_PROPERTIES:
        row[name] = _numeric(properties.get(name))
    return row
