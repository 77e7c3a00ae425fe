"""Ingestion's tables: the raw event log, which is also the "events" change feed, and the
consent stated inside events, which is the "consent_captures" feed."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table

from precis_common.feed import cursor_table, feed_table

metadata = MetaData()

# One row per accepted event. No clear-text email or phone is ever written here: the payload
# (a precis.ingestion.v1.StoredEvent) and the columns hold only keyed hashes of them.
events = feed_table(
    metadata,
    "events",
    Column("message_id", String(128), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("event_name", String(200), nullable=False, default=""),
    Column("user_id", String(256), nullable=True),
    Column("anonymous_id", String(256), nullable=True),
    Column("email_hash", String(64), nullable=True),
    Column("phone_hash", String(64), nullable=True),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Index("ux_events_workspace_message", "workspace_id", "message_id", unique=True),
    Index("ix_events_workspace_time", "workspace_id", "event_time"),
    Index("ix_events_workspace_user", "workspace_id", "user_id"),
    Index("ix_events_workspace_anonymous", "workspace_id", "anonymous_id"),
    Index("ix_events_workspace_email", "workspace_id", "email_hash"),
    Index("ix_events_workspace_phone", "workspace_id", "phone_hash"),
)

# One row per event that stated consent (context.consent): the payload is a
# precis.consent.v1.RecordConsentRequest for the consent service, which follows this feed. Kept
# apart from "events" because it is written even when the event itself is dropped or minimized.
# The identifier columns let an erasure find the subject's captures.
consent_captures = feed_table(
    metadata,
    "consent_captures",
    Column("message_id", String(128), nullable=False),
    Column("user_id", String(256), nullable=True),
    Column("anonymous_id", String(256), nullable=True),
    Column("email_hash", String(64), nullable=True),
    Column("phone_hash", String(64), nullable=True),
    Index("ux_consent_captures_workspace_message", "workspace_id", "message_id", unique=True),
    Index("ix_consent_captures_workspace_user", "workspace_id", "user_id"),
    Index("ix_consent_captures_workspace_anonymous", "workspace_id", "anonymous_id"),
    Index("ix_consent_captures_workspace_email", "workspace_id", "email_hash"),
    Index("ix_consent_captures_workspace_phone", "workspace_id", "phone_hash"),
)

# The suppression list, kept from the consent service's consent_changes feed: keyed tokens
# (PiiHasher.suppression_token) of erased subjects' identifiers. Events carrying one are refused.
suppressed_tokens = Table(
    "suppressed_tokens",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

feed_cursors = cursor_table(metadata)
