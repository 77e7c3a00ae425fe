"""Measurement's tables. Every table is keyed by workspace first; times are UTC.

- ms_campaigns: campaigns (arms, holdout, window, costs) and the latest enrollment's counts.
- ms_assignments: the arm of each enrolled profile, logged when first evaluated; never changed
  afterwards (a merge keeps the survivor's, see readmodel).
- ms_exposures: campaign messages sent, delivered, opened and clicked (events carrying a
  campaign_id), and engagement for send-time optimization.
- ms_conversions: conversion events ("Order Completed" and every campaign's conversion event) with
  their revenue and the other numeric properties.
- ms_touches: marketing touches for attribution (events with a utm_source or utm_medium property).
- ms_identities: profiles' identifiers in stored (hashed) form, to find a data subject.
- ms_uplift: the latest EvaluateUplift of a campaign, shown in its report.
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

ms_campaigns = Table(
    "ms_campaigns",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("segment_id", String(64), nullable=False),
    Column("channel", Integer, nullable=False),
    # [{"arm_id", "description", "weight"}]
    Column("arms", JSON, nullable=False),
    Column("holdout_share", Float, nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("primary_metric", Integer, nullable=False),
    Column("secondary_metrics", JSON, nullable=False),
    Column("conversion_event", String(200), nullable=False),
    Column("revenue_property", String(200), nullable=False),
    Column("attribution_window_seconds", BigInteger, nullable=False),
    Column("cost_per_send", Float, nullable=False),
    Column("fixed_cost", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("pre_period_seconds", BigInteger, nullable=False),
    Column("min_cell_size", Integer, nullable=False),
    Column("targeting_model_id", String(64), nullable=False),
    Column("send_time_optimization", Boolean, nullable=False),
    Column("time_zone", String(64), nullable=False),
    # The sender records assignments (RecordAssignments); the segment is not enrolled.
    Column("external_assignment", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The latest enrollment: when, the segment's members, and those withheld for consent.
    Column("enrolled_at", DateTime(timezone=True), nullable=True),
    Column("segment_members", BigInteger, nullable=False, default=0),
    Column("excluded_without_consent", BigInteger, nullable=False, default=0),
    Index("ix_ms_campaigns_created", "workspace_id", "created_at"),
)

ms_assignments = Table(
    "ms_assignments",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    # "holdout" for the holdout
    Column("arm_id", String(64), nullable=False),
    Column("bucket", Integer, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Index("ix_ms_assignments_profile", "workspace_id", "profile_id"),
)

ms_exposures = Table(
    "ms_exposures",
    metadata,
    Column("exposure_id", ROW_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    # "" for engagement with no campaign named
    Column("campaign_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    # sent, delivered, opened, clicked
    Column("kind", String(16), nullable=False),
    # email, sms, push, ... ("" when the event does not say)
    Column("channel", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("message_id", String(128), nullable=False),
    Index("ix_ms_exposures_campaign", "workspace_id", "campaign_id", "kind"),
    Index("ix_ms_exposures_profile", "workspace_id", "profile_id", "occurred_at"),
    Index("ux_ms_exposures_message", "workspace_id", "message_id", unique=True),
)

ms_conversions = Table(
    "ms_conversions",
    metadata,
    Column("conversion_id", ROW_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("event", String(200), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # properties.revenue (0 when absent or not a number >= 0)
    Column("revenue", Float, nullable=False),
    # every top-level numeric property, for campaigns naming another revenue property
    Column("amounts", JSON, nullable=False),
    Column("message_id", String(128), nullable=False),
    Index("ix_ms_conversions_event", "workspace_id", "event", "occurred_at"),
    Index("ix_ms_conversions_profile", "workspace_id", "profile_id", "occurred_at"),
    Index("ux_ms_conversions_message", "workspace_id", "message_id", unique=True),
)

ms_touches = Table(
    "ms_touches",
    metadata,
    Column("touch_id", ROW_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("medium", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("message_id", String(128), nullable=False),
    Index("ix_ms_touches_profile", "workspace_id", "profile_id", "occurred_at"),
    Index("ux_ms_touches_message", "workspace_id", "message_id", unique=True),
)

ms_identities = identities_table(metadata, "ms_identities")

ms_uplift = Table(
    "ms_uplift",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("campaign_id", String(64), primary_key=True),
    # a serialized EvaluateUpliftResponse
    Column("evaluation", LargeBinary, nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)

feed_cursors = cursor_table(metadata)
