"""Consent's tables: the append-only ledger, the current state per identifier and purpose (a read
model of the ledger), workspace defaults, minors, data-subject requests, the audit log of accesses
to personal data, and the consent_changes feed.

Identifiers are stored as the other services store them: `kind` is user_id, anonymous_id, email,
phone, device_id, external:<namespace> or profile_id; email and phone values are keyed hashes."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from precis_common.feed import cursor_table, feed_table

metadata = MetaData()

# The ledger: never updated; erased only by a data-subject erasure.
consent_entries = Table(
    "consent_entries",
    metadata,
    Column("entry_id", String(36), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("legal_basis", String(32), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("source", String(128), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("proof_reference", String(512), nullable=False),
    Column("jurisdiction", String(16), nullable=False),
    # [[kind, value], ...] of the subject and of the guardian (empty when the subject decided).
    Column("subject", JSON, nullable=False),
    Column("guardian", JSON, nullable=False),
    Index("ix_consent_entries_request", "workspace_id", "request_id"),
)

# Which identifiers each entry was recorded under: how history is found by any identifier.
consent_entry_keys = Table(
    "consent_entry_keys",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("entry_id", String(36), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_consent_entry_keys_entry", "entry_id"),
)

# The latest entry (by occurred_at) per identifier and purpose.
consent_state = Table(
    "consent_state",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("entry_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("jurisdiction", String(16), nullable=False),
    Column("by_guardian", Boolean, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_consent_state_entry", "entry_id"),
)

# A workspace's defaults per jurisdiction (precis_consent.ledger.JurisdictionDefaults as JSON),
# and under jurisdiction "" its settings (the default jurisdiction).
consent_defaults = Table(
    "consent_defaults",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("jurisdiction", String(16), primary_key=True),
    Column("doc", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Subjects marked as minors, with their guardian ([[kind, value], ...]).
minors = Table(
    "minors",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("is_minor", Boolean, nullable=False),
    Column("guardian", JSON, nullable=False),
    Column("comes_of_age_at", DateTime(timezone=True), nullable=True),
    Column("verification_reference", String(512), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Data-subject requests (export, erasure). `subject` holds the subject's identifiers as stored
# ([[kind, value], ...], expanded through the profile service) while the request runs; an
# erasure replaces it by suppression tokens once every service has confirmed.
dsr_requests = Table(
    "dsr_requests",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(24), nullable=False),
    Column("subject", JSON, nullable=False),
    Column("expanded", Boolean, nullable=False),
    Column("note", String(1000), nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("suppressed", Boolean, nullable=False),
    Column("last_error", String(1000), nullable=False),
    Column("bundle", LargeBinary, nullable=True),
    Index("ix_dsr_requests_created", "workspace_id", "created_at"),
)

# One task per service and request, retried until the service confirms.
dsr_tasks = Table(
    "dsr_tasks",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("state", String(24), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(1000), nullable=False),
    Column("last_attempt_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("erased", JSON, nullable=False),
    Column("export_bytes", Integer, nullable=False),
    Column("part", LargeBinary, nullable=True),
    Index("ix_dsr_tasks_due", "state", "next_attempt_at"),
)

# Suppression list: keyed hashes (PiiHasher.suppression_token) of an erased subject's
# identifiers, distinct from every stored value.
suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("request_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The audit log of accesses to personal data: reads, exports, erasures and updates, who made
# them (principal, API key id), when and for which declared purpose. A row names no one: whose
# data was accessed lives in audit_log_subjects, so that erasing a subject removes the personal
# link and keeps the fact of the access (precis_consent.audit).
audit_log = Table(
    "audit_log",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("audit_event_id", String(128), primary_key=True),  # the writer's idempotency key
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("principal", String(128), nullable=False),
    Column("api_key_id", String(64), nullable=False),
    Column("service", String(64), nullable=False),
    Column("operation", String(256), nullable=False),
    Column("action", String(16), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("resource", String(256), nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("trace_id", String(32), nullable=False),
    Index("ix_audit_log_time", "workspace_id", "occurred_at"),
    Index("ix_audit_log_principal", "workspace_id", "principal", "occurred_at"),
    Index("ix_audit_log_api_key", "workspace_id", "api_key_id", "occurred_at"),
)

# Whose data an audit event was about: one row per stored key (kind, value) of the subject,
# email and phone as keyed hashes. The (workspace, kind, value, occurred_at, event) index makes
# "accesses to this subject's data in a time window" a covering range scan per identifier; the
# primary key serves the way back, from an event to its subject.
audit_log_subjects = Table(
    "audit_log_subjects",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("audit_event_id", String(128), primary_key=True),
    Column("kind", String(80), primary_key=True),
    Column("value", String(512), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index(
        "ix_audit_log_subjects_key",
        "workspace_id",
        "kind",
        "value",
        "occurred_at",
        "audit_event_id",
    ),
)

# A workspace's retention period per data kind (precis_consent.retention); none: built-in.
retention_policies = Table(
    "retention_policies",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("data_kind", String(40), primary_key=True),
    Column("retention_days", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# The last run of the retention job per workspace ("*": the built-in periods) and data kind:
# when, which services hold the kind and applied it, what each deleted or why it could not.
retention_runs = Table(
    "retention_runs",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("data_kind", String(40), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("enforced_by", JSON, nullable=False),
    Column("outcomes", JSON, nullable=False),
)

consent_changes = feed_table(metadata, "consent_changes")

# Where the consent service is in the feeds it follows (ingestion's consent_captures).
feed_cursors = cursor_table(metadata)
