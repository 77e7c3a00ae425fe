"""Recommendation's tables. Every table is keyed by workspace first; times are UTC.

- rec_items: the catalog (UpsertItems, and items first seen in product events).
- rec_interactions: one row per (event, product): who viewed, carted or bought what, when;
  keyed by the profile the profile service attributed the event to.
- rec_identities: the profiles' identifiers in stored (hashed) form, from the profile states on
  profile_changes; they find a data subject's rows for export and erasure.
- rec_segment_members: segment membership from segmentation's membership_changes feed.
- rec_jobs, rec_models, rec_promotions: training jobs, the model registry (parameters, data
  description, metrics, and the fitted factors as an artifact) and the promotion history that
  decides which version serves and what a rollback returns to.
"""

from __future__ import annotations

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

from precis_common.feed import cursor_table
from precis_common.subject_identities import identities_table

metadata = MetaData()

ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

rec_items = Table(
    "rec_items",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("item_id", String(128), primary_key=True),
    Column("title", Text, nullable=False),
    Column("category", String(512), nullable=False),
    Column("price", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("available", Boolean, nullable=False),
    Column("attributes", JSON, nullable=False),
    # "catalog" (UpsertItems) or "events" (first seen in a product event; a later upsert wins,
    # and events never overwrite what the catalog said).
    Column("source", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_rec_items_category", "workspace_id", "category", "item_id"),
)

rec_interactions = Table(
    "rec_interactions",
    metadata,
    Column("interaction_id", ROW_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("item_id", String(128), nullable=False),
    # "view", "cart" or "purchase"
    Column("kind", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # Ingestion's message id: a replayed feed entry does not count twice; an unmerge moves the
    # interactions of the events it reassigns.
    Column("message_id", String(128), nullable=False),
    Index("ix_rec_interactions_profile", "workspace_id", "profile_id", "occurred_at"),
    Index("ix_rec_interactions_time", "workspace_id", "occurred_at"),
    Index(
        "ux_rec_interactions_message", "workspace_id", "message_id", "item_id", "kind", unique=True
    ),
)

rec_identities = identities_table(metadata, "rec_identities")

rec_segment_members = Table(
    "rec_segment_members",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Index("ix_rec_segment_members_profile", "workspace_id", "profile_id"),
)

rec_jobs = Table(
    "rec_jobs",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("job_id", String(64), primary_key=True),
    # queued, running, succeeded, failed
    Column("state", String(16), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("progress", Float, nullable=False),
    Column("error", Text, nullable=False),
    # The TrainModelRequest as JSON, defaults filled in.
    Column("request", JSON, nullable=False),
    Column("model_version", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_rec_jobs_state", "state", "created_at"),
)

rec_models = Table(
    "rec_models",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("algorithm", String(8), nullable=False),
    Column("hyperparameters", JSON, nullable=False),
    Column("seed", BigInteger, nullable=False),
    # history/test bounds, counts, feed position, weights, split
    Column("training_data", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("baseline_metrics", JSON, nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # numpy .npz (see artifact.py): item ids and factors; BPR also user ids and factors.
    Column("artifact", LargeBinary, nullable=False),
    # Bumped when the artifact is rewritten (an erasure removes a profile's factors), so that
    # replicas reload it.
    Column("revision", Integer, nullable=False, default=1),
)

rec_promotions = Table(
    "rec_promotions",
    metadata,
    Column("promotion_id", ROW_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("promoted_at", DateTime(timezone=True), nullable=False),
    # Set when a rollback undid this promotion; the newest promotion not rolled back serves.
    Column("rolled_back_at", DateTime(timezone=True), nullable=True),
    Index("ix_rec_promotions_workspace", "workspace_id", "promotion_id"),
)

feed_cursors = cursor_table(metadata)
