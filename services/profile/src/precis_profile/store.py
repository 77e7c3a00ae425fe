"""Profile's tables: profiles, the identity links, merge records, its change feed and cursors."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from precis_common.feed import cursor_table, feed_table

metadata = MetaData()

profiles = Table(
    "profiles",
    metadata,
    Column("profile_id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # {trait: value}; trait_times holds {trait: event time (ISO)} for last-write-wins.
    Column("traits", JSON, nullable=False),
    Column("trait_times", JSON, nullable=False),
    # {trait: {"source": ..., "message_id": ...}}: where each trait's value came from.
    Column("trait_sources", JSON, nullable=True),
    Column("event_count", BigInteger, nullable=False),
    Column("event_counts", JSON, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=True),
    Column("last_seen", DateTime(timezone=True), nullable=True),
    # Set when this profile was merged into another; lookups follow it.
    Column("merged_into", String(36), nullable=True),
    # precis_profile.rfm.OrderStats as JSON (precis_profile.computed.stats_to_json).
    Column("order_stats", JSON, nullable=True),
    Index("ix_profiles_workspace_created", "workspace_id", "created_at", "profile_id"),
    Index("ix_profiles_merged_into", "merged_into"),
)

# One row per identifier value; email and phone values are keyed hashes, never clear text.
identities = Table(
    "identities",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("profile_id", String(36), nullable=False),
    Column("source_message_id", String(128), nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
    Index("ix_identities_profile", "profile_id"),
)

merges = Table(
    "merges",
    metadata,
    Column("merge_id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("other_profile_id", String(36), nullable=False),
    Column("kind", String(80), nullable=False),
    Column("value", String(512), nullable=False),
    Column("source_message_id", String(128), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_merges_profile", "profile_id"),
    Index("ix_merges_other", "other_profile_id"),
)

# The profile service's own copy of each event it applied, keyed to the profile that holds it
# now (re-keyed on merge): the timeline, and the history from which profiles can be recomputed.
# Identifiers are stored as the feed carried them (email and phone as keyed hashes).
profile_events = Table(
    "profile_events",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("message_id", String(128), primary_key=True),
    Column("profile_id", String(36), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("event_name", String(200), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("properties_json", LargeBinary, nullable=False),
    Column("traits_json", LargeBinary, nullable=False),
    Column("identifiers", JSON, nullable=False),
    Index("ix_profile_events_timeline", "profile_id", "event_time", "message_id"),
    Index("ix_profile_events_workspace_time", "workspace_id", "event_time"),  # retention
)

# A workspace's merge rules (precis_profile.identity.MergeRules as JSON); none means defaults.
merge_rules = Table(
    "merge_rules",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("rules", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Identifiers an event carried but that did not link or merge because a rule forbade it.
identity_conflicts = Table(
    "identity_conflicts",
    metadata,
    Column("conflict_id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(36), nullable=False),
    Column("other_profile_id", String(36), nullable=True),
    Column("kind", String(80), nullable=False),
    Column("value", String(512), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("source_message_id", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_identity_conflicts_profile", "profile_id"),
)

# Profiles an administrator split apart: they never merge again (re-keyed when either side is
# merged into another profile).
separations = Table(
    "separations",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("other_profile_id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_separations_other", "other_profile_id"),
)

# Tags (标签) on profiles; `source` says who put them there ("manual" through the API).
profile_tags = Table(
    "profile_tags",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_profile_tags_tag", "workspace_id", "tag", "profile_id"),
)

# Tag definitions: manual tags are put on through the API; rule-based tags (kind "rule") are
# carried by exactly the profiles whose traits match `rule` (precis_profile.tagrules).
tag_definitions = Table(
    "tag_definitions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("rule", JSON, nullable=True),
    Column("description", String(500), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Per-workspace settings of the profile service by name (for now "life_stage": the
# precis_profile.lifestage.LifeStageConfig as JSON); no row means the default.
profile_settings = Table(
    "profile_settings",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A workspace's RFM quintile boundaries and cell sizes, refreshed on a schedule.
rfm_breaks = Table(
    "rfm_breaks",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("breaks", JSON, nullable=False),
    Column("cells", JSON, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

# Predicted customer lifetime value per profile, from the workspace's BG/NBD and Gamma-Gamma
# models refitted on a schedule (precis_profile.predictions); `models` holds their parameters.
clv_models = Table(
    "clv_models",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("models", JSON, nullable=False),
    Column("fitted_at", DateTime(timezone=True), nullable=False),
)

clv_predictions = Table(
    "clv_predictions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(36), primary_key=True),
    Column("prediction", JSON, nullable=False),
)

profile_changes = feed_table(
    metadata, "profile_changes", Column("profile_id", String(36), nullable=False, index=True)
)

feed_cursors = cursor_table(metadata)
