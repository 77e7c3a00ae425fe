"""The public REST contract: request and response bodies with descriptions, examples and limits.

Request fields are snake_case; Segment's camelCase spellings (messageId, userId, anonymousId,
sentAt) are accepted too so that Segment-style clients work unchanged. Unknown fields (Segment's
`integrations`, `channel`, `version`...) are ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from precis_common.identifiers import MAX_IDENTIFIER_LENGTH

MAX_BATCH_EVENTS = 500
MAX_MESSAGE_ID = 128
MAX_EVENT_NAME = 200
RFC3339_REASON = "must be an RFC 3339 time with a timezone offset, e.g. 2026-05-01T12:00:00Z"


def _rfc3339(value: Any) -> datetime:
    """Only strings with an explicit offset: a naive time is ambiguous by up to a day, and a
    bare number could be seconds or milliseconds."""
    if not isinstance(value, str):
        raise PydanticCustomError("rfc3339", RFC3339_REASON)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("rfc3339", RFC3339_REASON) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("rfc3339", RFC3339_REASON)
    return parsed


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339)]


# Segment's spellings, accepted as input and reported under the documented names.
CAMEL_CASE_ALIASES = {
    "messageId": "message_id",
    "userId": "user_id",
    "anonymousId": "anonymous_id",
    "sentAt": "sent_at",
}


def _alias(name: str, camel: str) -> AliasChoices:
    return AliasChoices(name, camel)


# Aggregate counts of profiles go through disclosure.py: a key without privacy:admin gets null
# for a small count (and for the counts that would give it away), named in suppressed_counts.
WITHHELD = (
    " Null when withheld from this API key: a key without privacy:admin is not shown counts "
    "from 1 to k-1 (k is the gateway's small-cell threshold, 10 by default), nor counts from "
    "which such a count could be worked out; `suppressed_counts` names them."
)


def suppressed_counts() -> Any:
    return Field(
        default_factory=list,
        description=(
            "Paths of the counts withheld from this API key (null in this response) by the "
            "small-cell rule; empty for keys with privacy:admin, which see exact counts."
        ),
        examples=[["cells.hibernating", "cells.new_customers"]],
    )


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MESSAGE_ID,
        validation_alias=_alias("message_id", "messageId"),
        description=(
            "Unique id of this event, the dedupe key within the workspace (also accepted as "
            "`messageId`). Resending an event with the same id stores nothing new. Generated "
            "(UUID 4) when absent."
        ),
        examples=["9b2f6c1e-3c7d-4d2a-8a65-0c7f1f0e9a11"],
    )
    user_id: str | None = Field(
        default=None,
        max_length=MAX_IDENTIFIER_LENGTH,
        validation_alias=_alias("user_id", "userId"),
        description="The brand's customer id (also `userId`). user_id or anonymous_id is required.",
        examples=["c-10442"],
    )
    anonymous_id: str | None = Field(
        default=None,
        max_length=MAX_IDENTIFIER_LENGTH,
        validation_alias=_alias("anonymous_id", "anonymousId"),
        description="The visitor's anonymous id, for example a cookie id (also `anonymousId`).",
        examples=["anon-7f3a"],
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Context: channel, device, campaign (UTM), locale, ip.",
        examples=[{"channel": "mini_program", "campaign": {"source": "wechat", "name": "spring"}}],
    )
    timestamp: Rfc3339 | None = Field(
        default=None,
        description="When the event happened, RFC 3339 with offset. Defaults to the receive time.",
        examples=["2026-05-01T12:00:00+08:00"],
    )
    sent_at: Rfc3339 | None = Field(
        default=None,
        validation_alias=_alias("sent_at", "sentAt"),
        description=(
            "When the client sent the event (also `sentAt`); with it, the client's clock skew is "
            "corrected."
        ),
        examples=["2026-05-01T12:00:05+08:00"],
    )


class TrackEvent(_EventBase):
    """Something a customer did."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "event": "Order Completed",
                    "user_id": "c-10442",
                    "properties": {"order_id": "o-981", "revenue": 259.0, "currency": "CNY"},
                    "timestamp": "2026-05-01T12:00:00+08:00",
                }
            ]
        },
    )

    event: str = Field(
        min_length=1,
        max_length=MAX_EVENT_NAME,
        description="Event name.",
        examples=["Order Completed"],
    )
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form properties of the event (a JSON object).",
        examples=[{"order_id": "o-981", "revenue": 259.0, "currency": "CNY"}],
    )


class IdentifyEvent(_EventBase):
    """Who a customer is: identifiers and traits."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "c-10442",
                    "anonymous_id": "anon-7f3a",
                    "traits": {"email": "li.na@example.com", "life_stage": "expecting"},
                }
            ]
        },
    )

    traits: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Traits of the customer (a JSON object). `email` and `phone` are identifiers: they are "
            "stored only as keyed hashes."
        ),
        examples=[{"email": "li.na@example.com", "life_stage": "expecting"}],
    )


class TrackBatchItem(TrackEvent):
    type: Literal["track"] = Field(description="Kind of event.")


class IdentifyBatchItem(IdentifyEvent):
    type: Literal["identify"] = Field(description="Kind of event.")


BatchItem = Annotated[TrackBatchItem | IdentifyBatchItem, Field(discriminator="type")]


class BatchRequest(BaseModel):
    """Up to 500 events (512 KiB); each is validated on its own."""

    model_config = ConfigDict(extra="ignore")

    batch: list[BatchItem] = Field(
        min_length=1, max_length=MAX_BATCH_EVENTS, description="The events, 1 to 500."
    )
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="Context shared by every event; an event's own context keys win.",
    )
    sent_at: Rfc3339 | None = Field(
        default=None,
        validation_alias=_alias("sent_at", "sentAt"),
        description="When the client sent the batch; used for events without their own sent_at.",
    )


EventStatus = Literal["accepted", "duplicate", "rejected"]


class EventResult(BaseModel):
    """The outcome of one event."""

    message_id: str = Field(
        description="The event's message id (generated by the gateway if none was sent).",
        examples=["9b2f6c1e-3c7d-4d2a-8a65-0c7f1f0e9a11"],
    )
    status: EventStatus = Field(
        description="accepted: stored now; duplicate: an event with this id was already stored.",
        examples=["accepted"],
    )


class ResultDetail(BaseModel):
    field: str = Field(description="Path of the offending field.", examples=["batch[3].timestamp"])
    reason: str = Field(description="Why it was refused.")


class BatchItemResult(BaseModel):
    """The outcome of one event of a batch."""

    index: int = Field(description="Position of the event in the request's `batch`.", ge=0)
    message_id: str = Field(description="The message id; empty if a rejected event had none.")
    status: EventStatus = Field(description="What happened to the event.")
    errors: list[ResultDetail] = Field(
        default_factory=list, description="Why the event was rejected (empty otherwise)."
    )


class BatchResult(BaseModel):
    results: list[BatchItemResult] = Field(description="One result per event, in request order.")
    accepted: int = Field(description="Events stored now.", ge=0)
    duplicates: int = Field(description="Events already stored earlier.", ge=0)
    rejected: int = Field(description="Events refused; nothing of them was stored.", ge=0)


class Identifier(BaseModel):
    """An identifier linked to a profile, with where the link came from."""

    type: str = Field(
        description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
        examples=["email"],
    )
    value: str = Field(
        description="The value; email and phone are shown masked (a prefix of their keyed hash).",
        examples=["hmac:3f9a0c2b71de…"],
    )
    source_message_id: str | None = Field(
        description="The event that created the link.", examples=["9b2f6c1e-3c7d-4d2a-8a65"]
    )
    linked_at: datetime | None = Field(description="When the link was created (event time).")


class TraitDetail(BaseModel):
    """One identify trait with its type and where its value came from."""

    name: str = Field(description="Trait name.", examples=["plan"])
    value: Any = Field(description="The value.", examples=["premium"])
    type: Literal["string", "number", "boolean", "date", "datetime", "object", "array"] = Field(
        description="JSON type, with ISO 8601 dates and date-times told apart from strings."
    )
    updated_at: datetime | None = Field(
        description="Event time of the identify event that set the value (last write wins)."
    )
    source: str | None = Field(
        description="The event's context.source, else context.library.name, else `api`.",
        examples=["crm"],
    )
    source_message_id: str | None = Field(description="The identify event that set the value.")


class Profile(BaseModel):
    """The unified customer profile (用户画像)."""

    profile_id: str = Field(description="Stable id of the profile.", examples=["p_01HZX4"])
    identifiers: list[Identifier] = Field(description="Identifiers that resolve to this profile.")
    traits: dict[str, Any] = Field(
        description="Identify traits (last write wins per trait).",
        examples=[{"life_stage": "expecting"}],
    )
    computed_traits: dict[str, Any] = Field(
        description="Computed traits (event counts, first/last seen, RFM, CLV...).",
        examples=[{"orders": 3, "revenue": 777.0}],
    )
    event_count: int = Field(description="Events seen in total.", ge=0, examples=[12])
    event_counts: dict[str, int] = Field(
        description="Events seen per event name (`identify` for identify events).",
        examples=[{"Order Completed": 3, "identify": 1}],
    )
    first_seen: datetime | None = Field(description="Event time of the earliest event.")
    last_seen: datetime | None = Field(description="Event time of the latest event.")
    tags: list[str] = Field(description="Tags (标签) on the profile.", examples=[["vip"]])
    merged_profile_ids: list[str] = Field(description="Profiles that were merged into this one.")
    trait_details: list[TraitDetail] = Field(
        default_factory=list, description="Each trait with its type and provenance, by name."
    )


class ProfilePage(BaseModel):
    profiles: list[Profile] = Field(description="One page of profiles, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total_count: int | None = Field(
        description="Number of live profiles in the workspace." + WITHHELD, ge=0
    )
    suppressed_counts: list[str] = suppressed_counts()


class Health(BaseModel):
    status: Literal["ok"] = Field(description="The process is up.")


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"] = Field(
        description="ready when every dependency answers SERVING."
    )
    dependencies: dict[str, str] = Field(
        description=(
            "gRPC health of each service (SERVING, NOT_SERVING, ...) or the error reaching it "
            "(UNAVAILABLE, DEADLINE_EXCEEDED)."
        ),
        examples=[{"ingestion": "SERVING", "profile": "SERVING"}],
    )


class TimelineEvent(BaseModel):
    """One event on a profile's timeline, as the profile service applied it."""

    message_id: str = Field(description="The event's dedupe key.", examples=["cdnow-order-1"])
    type: str = Field(description="track or identify.", examples=["track"])
    event: str = Field(description="Event name (empty for identify).", examples=["Order Completed"])
    timestamp: datetime = Field(description="Event time (after clock-skew correction).")
    properties: dict[str, Any] = Field(description="The event's properties.")


class TimelinePage(BaseModel):
    events: list[TimelineEvent] = Field(description="One page of events, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


IdentifierTypeName = Literal["user_id", "anonymous_id", "email", "phone", "device_id", "external"]


class MergeRule(BaseModel):
    """How identifiers of one type may unite profiles."""

    model_config = ConfigDict(extra="forbid")

    type: IdentifierTypeName = Field(description="The identifier type.", examples=["device_id"])
    may_merge: bool = Field(
        default=True, description="Whether a shared value of this type may unite two profiles."
    )
    max_per_profile: int = Field(
        default=0,
        ge=0,
        le=10_000,
        description="Most identifiers of this type in one profile (0: no limit).",
    )
    blocked_values: list[str] = Field(
        default_factory=list,
        max_length=10_000,
        description=(
            "Values that never link (shared test addresses, 'unknown' devices). Email and phone "
            "values are hashed before they are stored and shown masked."
        ),
        examples=[["unknown", "00000000-0000-0000-0000-000000000000"]],
    )
    priority: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Lower wins when identifiers point at different profiles.",
    )


class MergeRules(BaseModel):
    """A workspace's merge rules. Types left out keep their defaults."""

    model_config = ConfigDict(extra="forbid")

    rules: list[MergeRule] = Field(max_length=6, description="At most one rule per type.")


class MergeRecord(BaseModel):
    """A merge into a profile, or an identifier that rules kept off it."""

    id: str = Field(description="Id of the record.")
    action: Literal["merged", "conflict"] = Field(description="What happened.")
    profile_id: str = Field(description="The profile the event went to (the survivor of a merge).")
    other_profile_id: str | None = Field(
        description="The profile merged in, or the profile that holds the identifier."
    )
    identifier_type: str = Field(description="Type of the identifier involved.", examples=["email"])
    identifier_value: str = Field(
        description="Its value (email and phone masked).", examples=["hmac:3f9a0c2b71de…"]
    )
    source_message_id: str = Field(description="The event that carried it.")
    rule: str = Field(
        description="The rule that allowed the merge, or the reason for the conflict."
    )
    occurred_at: datetime = Field(description="When it happened.")


class MergeHistory(BaseModel):
    records: list[MergeRecord] = Field(description="Oldest first.")


class UnmergeRequest(BaseModel):
    """Split a profile: detach one identifier, or undo one merge from its history."""

    model_config = ConfigDict(extra="forbid")

    identifier_type: str | None = Field(
        default=None,
        description="Type of the identifier to detach (user_id, anonymous_id, email, ...).",
        examples=["anonymous_id"],
    )
    value: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_IDENTIFIER_LENGTH,
        description="Its value (email and phone in clear; hashed before use).",
        examples=["tablet-7f3a"],
    )
    merge_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Or: the id of a `merged` record of the merge history, to undo that merge.",
    )


class UnmergeResult(BaseModel):
    profiles: list[Profile] = Field(
        description="The profiles that exist afterwards: the original first, then the detached."
    )


class DryRunResult(BaseModel):
    """What candidate merge rules would do to the stored history; nothing is changed."""

    profiles_before: int | None = Field(description="Live profiles now." + WITHHELD)
    profiles_after: int | None = Field(
        description=(
            "Profiles the history would give under the rules." + WITHHELD + " The four outcome "
            "counts are withheld together when any of them is small: they are tied to each "
            "other and to profiles_before."
        )
    )
    profiles_merged: int | None = Field(
        description="Profiles that would be merged into others." + WITHHELD
    )
    profiles_split: int | None = Field(description="Profiles that would be split." + WITHHELD)
    profiles_unchanged: int | None = Field(
        description="Profiles left exactly as they are." + WITHHELD
    )
    events_evaluated: int = Field(description="Events replayed (a count of events, not people).")
    suppressed_counts: list[str] = suppressed_counts()


class TaggedProfiles(BaseModel):
    profiles: list[Profile] = Field(description="One page of profiles carrying the tag.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class RfmRefresh(BaseModel):
    """The workspace's RFM boundaries as just recomputed, and the size of each cell."""

    as_of: datetime = Field(description="The moment recency was measured at.")
    population: int | None = Field(
        description="Profiles with orders that were scored; the cells partition them." + WITHHELD
    )
    cells: dict[str, int | None] = Field(
        description=(
            "Profiles per RFM cell, largest first, then withheld cells by name." + WITHHELD + " "
            "Next to a shown population, a small cell is withheld with at least one more (the "
            "smallest shown ones), so that subtraction cannot recover it."
        ),
        examples=[{"champions": 3912, "loyal": 2750, "hibernating": None, "new_customers": None}],
    )
    clv_models: dict[str, Any] = Field(
        description=(
            "The refitted lifetime-value models (BG/NBD and Gamma-Gamma parameters), or "
            '{"skipped": reason} when the orders cannot support a fit yet.'
        )
    )
    boundaries: dict[str, list[Any]] = Field(
        description=(
            "Lower bounds of scores 2-5 for frequency and monetary, upper bounds in days for "
            "recency; null where ties left a score empty."
        )
    )
    suppressed_counts: list[str] = suppressed_counts()


class TagDefinitionBody(BaseModel):
    """A tag definition to create or replace."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["manual", "rule"] = Field(
        description=(
            "manual: put on and taken off through PUT/DELETE /v1/profiles/.../tags/{tag}. rule: "
            "carried by exactly the profiles that match `rule`, kept current as profiles change."
        )
    )
    rule: dict[str, Any] | None = Field(
        default=None,
        description=(
            'For rule tags: a condition {"trait": "computed.rfm.cell", "op": "in", "value": '
            '["champions"]} (paths start with computed. or traits.; ops eq, ne, gt, gte, lt, lte, '
            'in, not_in, exists, not_exists) or {"all": [...]}, {"any": [...]}, {"not": {...}}. '
            "A missing trait makes every comparison false; use not_exists to ask for it."
        ),
        examples=[
            {
                "all": [
                    {"trait": "computed.rfm.cell", "op": "in", "value": ["champions", "loyal"]},
                    {"trait": "computed.days_since_last_order", "op": "lte", "value": 90},
                ]
            }
        ],
    )
    description: str = Field(default="", max_length=500, description="What the tag means.")


class TagDefinition(TagDefinitionBody):
    """A tag definition as stored."""

    tag: str = Field(description="Tag name.", examples=["高价值"])
    profile_count: int | None = Field(description="Profiles carrying the tag now." + WITHHELD, ge=0)
    updated_at: datetime | None = Field(description="When the definition last changed.")
    suppressed_counts: list[str] = suppressed_counts()


class TagDefinitions(BaseModel):
    definitions: list[TagDefinition] = Field(description="Every tag definition, by name.")


class TagDeleted(BaseModel):
    profiles_untagged: int | None = Field(
        description="Profiles the tag was removed from." + WITHHELD, ge=0
    )
    suppressed_counts: list[str] = suppressed_counts()


class LifeStageRule(BaseModel):
    """A workspace's life-stage rule: stages by the youngest child's age in days (negative
    before the due date), and which traits carry the dates."""

    model_config = ConfigDict(extra="forbid")

    stages: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=50,
        description=(
            "Contiguous stages youngest first, each {name, min_age_days, max_age_days} with "
            "min_age_days <= age < max_age_days. Omitted: the default stages."
        ),
        examples=[
            [
                {"name": "expecting", "min_age_days": -315, "max_age_days": 0},
                {"name": "newborn", "min_age_days": 0, "max_age_days": 183},
            ]
        ],
    )
    infer_birth_from_due_date: bool = Field(
        default=True,
        description="Whether a past due date without a birth date counts as the birth date.",
    )
    due_date_trait: str = Field(default="due_date", min_length=1, max_length=128)
    birth_date_traits: list[str] = Field(
        default_factory=lambda: ["child_birth_date", "children_birth_dates"], max_length=10
    )


class LifeStageRuleState(LifeStageRule):
    is_default: bool = Field(description="True when the workspace uses the default rule.")


# --- consent ---------------------------------------------------------------------------------
# Names are the consent contract's enum names without their prefix, lower-cased
# (PURPOSE_MARKETING_EMAIL -> marketing_email); a gateway test keeps these lists and the
# contract's enums equal.

ConsentPurpose = Literal[
    "analytics",
    "personalization",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "ads_targeting",
    "third_party_sharing",
    "cross_border_transfer",
    "sensitive_data",
]
ConsentStatusName = Literal["granted", "denied", "withdrawn"]
LegalBasisName = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_interest",
    "legitimate_interests",
]
CaptureChannelName = Literal[
    "web", "app", "mini_program", "pos", "call_center", "email", "sms", "import", "api"
]
DecisionReasonName = Literal[
    "explicit_grant",
    "explicit_denial",
    "withdrawn",
    "default_granted",
    "default_denied",
    "minor_without_guardian",
    "suppressed",
    "policy_outdated",
]
MAX_JURISDICTION = 8  # "US-CA", "CN", "*": ISO 3166-1 or -2 codes


class ExternalId(BaseModel):
    """An id issued by another platform."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = Field(
        min_length=1, max_length=64, description="The issuing platform.", examples=["wechat_openid"]
    )
    id: str = Field(
        min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The id.", examples=["oX9a2"]
    )


class ConsentSubject(BaseModel):
    """Who decides: any identifiers known for the person (at least one), or the profile id.
    Email and phone are given in clear and hashed by the consent service before storage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user_id": "c-10442", "email": "li.na@example.com"}]},
    )

    user_id: str | None = Field(default=None, min_length=1, max_length=MAX_IDENTIFIER_LENGTH)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=MAX_IDENTIFIER_LENGTH)
    email: str | None = Field(
        default=None, min_length=1, max_length=MAX_IDENTIFIER_LENGTH, examples=["li.na@example.com"]
    )
    phone: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="E.164, or national in the default region (CN).",
        examples=["+8613800138000"],
    )
    device_id: str | None = Field(default=None, min_length=1, max_length=MAX_IDENTIFIER_LENGTH)
    external_ids: list[ExternalId] = Field(
        default_factory=list, max_length=20, description="Ids issued by other platforms."
    )
    profile_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The unified profile id."
    )


class SubjectIdentifier(BaseModel):
    type: str = Field(
        description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
        examples=["email"],
    )
    value: str = Field(
        description="The value; email and phone are shown masked (a prefix of their keyed hash).",
        examples=["hmac:3f9a0c2b71de…"],
    )


class ShownSubject(BaseModel):
    """A subject as the consent service shows it."""

    identifiers: list[SubjectIdentifier] = Field(description="Its identifiers.")
    profile_id: str | None = Field(description="The unified profile id, when given.")


class ConsentChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose = Field(description="The purpose.", examples=["marketing_email"])
    status: ConsentStatusName = Field(description="What the person chose.", examples=["granted"])


class RecordConsentBody(BaseModel):
    """Choices a person made at one moment, one per purpose. Third-party sharing, cross-border
    transfer and sensitive data need a request of their own (separate consent, PIPL)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "signup-7f3a-1",
                    "subject": {"user_id": "c-10442", "email": "li.na@example.com"},
                    "choices": [
                        {"purpose": "marketing_email", "status": "granted"},
                        {"purpose": "marketing_sms", "status": "denied"},
                    ],
                    "policy_version": "2026-05",
                    "source": "signup_form_v3",
                    "channel": "mini_program",
                    "occurred_at": "2026-05-01T12:00:00+08:00",
                    "jurisdiction": "CN",
                }
            ]
        },
    )

    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "Unique id of this capture, the idempotency key: repeating it returns the original "
            "entries. Generated (UUID 4) when absent."
        ),
        examples=["signup-7f3a-1"],
    )
    subject: ConsentSubject = Field(description="Who decides.")
    choices: list[ConsentChoice] = Field(
        min_length=1, max_length=9, description="The choices, at most one per purpose."
    )
    legal_basis: LegalBasisName | None = Field(
        default=None, description="The legal basis relied on; consent when absent."
    )
    policy_version: str = Field(
        min_length=1,
        max_length=64,
        description="Version of the policy or consent text shown (sortable, e.g. 2026-05).",
        examples=["2026-05"],
    )
    source: str = Field(
        min_length=1,
        max_length=128,
        description="The form or system that captured it.",
        examples=["signup_form_v3"],
    )
    channel: CaptureChannelName | None = Field(
        default=None, description="The touchpoint that captured it.", examples=["mini_program"]
    )
    occurred_at: Rfc3339 | None = Field(
        default=None,
        description="When the person decided, RFC 3339 with offset; now when absent.",
        examples=["2026-05-01T12:00:00+08:00"],
    )
    proof_reference: str | None = Field(
        default=None,
        max_length=512,
        description="Where the proof is kept: a signed form's id, a recording, a screenshot hash.",
    )
    jurisdiction: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_JURISDICTION,
        description=(
            'ISO 3166 code whose rules apply ("CN", "DE", "US-CA"); the subject\'s last one, '
            "then the workspace's default jurisdiction, when absent."
        ),
        examples=["CN"],
    )
    guardian: ConsentSubject | None = Field(
        default=None,
        description="The guardian deciding for a minor; required when the subject is a minor.",
    )


class ConsentEntry(BaseModel):
    """One entry of the append-only consent ledger."""

    entry_id: str = Field(description="Id of the entry.")
    request_id: str = Field(description="The capture that appended it.")
    subject: ShownSubject = Field(description="Who decided (email and phone masked).")
    purpose: ConsentPurpose = Field(description="The purpose.", examples=["marketing_email"])
    status: ConsentStatusName = Field(description="What was chosen.", examples=["granted"])
    legal_basis: LegalBasisName = Field(description="The legal basis relied on.")
    policy_version: str = Field(description="Version of the policy shown.", examples=["2026-05"])
    source: str = Field(description="The form or system that captured it.")
    channel: CaptureChannelName | None = Field(description="The touchpoint; null when not given.")
    occurred_at: datetime = Field(description="When the person decided.")
    recorded_at: datetime = Field(description="When the ledger stored it.")
    proof_reference: str | None = Field(description="Where the proof is kept.")
    jurisdiction: str = Field(description="The jurisdiction whose rules applied.")
    guardian: ShownSubject | None = Field(description="The guardian who decided for a minor.")


class PurposeState(BaseModel):
    """Whether processing for one purpose is allowed now, and why."""

    purpose: ConsentPurpose = Field(description="The purpose.", examples=["marketing_email"])
    allowed: bool = Field(description="Whether processing for the purpose is allowed now.")
    status: ConsentStatusName = Field(description="The status in force (entry or default).")
    reason: DecisionReasonName = Field(description="Why.", examples=["explicit_grant"])
    entry_id: str | None = Field(description="The ledger entry behind it; null for a default.")
    policy_version: str | None = Field(description="Policy version of that entry or default.")
    updated_at: datetime | None = Field(description="When the state last changed.")


class RecordConsentResult(BaseModel):
    entries: list[ConsentEntry] = Field(description="The appended entries, one per choice.")
    states: list[PurposeState] = Field(description="The subject's state afterwards, per purpose.")


class ConsentState(BaseModel):
    """A subject's consent for every purpose."""

    states: list[PurposeState] = Field(description="One state per purpose.")
    jurisdiction: str = Field(description="The jurisdiction whose defaults apply.", examples=["CN"])
    is_minor: bool = Field(description="Whether the subject is marked as a minor.")
    suppressed: bool = Field(description="Whether the subject was erased and is suppressed.")


class CheckConsentBody(BaseModel):
    """Purposes to decide for one subject, on the request path."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"user_id": "c-10442"},
                    "purposes": ["marketing_email", "personalization"],
                }
            ]
        },
    )

    subject: ConsentSubject = Field(description="Who.")
    purposes: list[ConsentPurpose] = Field(
        min_length=1, max_length=9, description="The purposes to decide."
    )
    jurisdiction: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_JURISDICTION,
        description="Jurisdiction for defaults when the subject has none recorded.",
        examples=["CN"],
    )


class PurposeDecision(BaseModel):
    purpose: ConsentPurpose = Field(description="The purpose asked about.")
    allowed: bool = Field(description="Whether processing for it is allowed now.")
    reason: DecisionReasonName = Field(description="Why.", examples=["default_denied"])


class CheckConsentResult(BaseModel):
    decisions: list[PurposeDecision] = Field(description="One per purpose, in request order.")
    profile_id: str | None = Field(description="The subject's profile id, when given.")


class ConsentHistory(BaseModel):
    entries: list[ConsentEntry] = Field(description="Ledger entries, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PurposeDefault(BaseModel):
    """The default of one purpose in a jurisdiction."""

    model_config = ConfigDict(extra="forbid")

    purpose: ConsentPurpose = Field(description="The purpose.", examples=["marketing_email"])
    status: Literal["granted", "denied"] = Field(
        description=(
            "granted (opt-out) or denied (opt-in). Marketing, ads targeting, sharing, transfer "
            "and sensitive data may not default to granted where PIPL or GDPR applies."
        )
    )
    requires_separate_consent: bool = Field(
        default=False,
        description="Whether it needs a consent of its own (always for sharing, transfer, "
        "sensitive data).",
    )


class ConsentDefaultsBody(BaseModel):
    """The new defaults of one jurisdiction, replacing the previous ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "defaults": [
                        {"purpose": "marketing_email", "status": "granted"},
                        {"purpose": "ads_targeting", "status": "denied"},
                    ],
                    "minimum_policy_version": "2026-01",
                }
            ]
        },
    )

    defaults: list[PurposeDefault] = Field(
        max_length=9, description="Purposes left out keep the built-in default."
    )
    minor_age_threshold: int | None = Field(
        default=None,
        ge=0,
        le=21,
        description="Age under which a guardian must consent (14 under PIPL when absent).",
    )
    minimum_policy_version: str | None = Field(
        default=None,
        max_length=64,
        description="Grants under older policy versions no longer count (compared as strings).",
    )
    make_default_jurisdiction: bool = Field(
        default=False,
        description="Also make this the jurisdiction of subjects who have none recorded.",
    )


class JurisdictionDefaults(BaseModel):
    jurisdiction: str = Field(description='ISO 3166 code, or "*" for any other.', examples=["CN"])
    defaults: list[PurposeDefault] = Field(description="One default per purpose.")
    minor_age_threshold: int = Field(description="Age under which a guardian must consent.")
    minimum_policy_version: str | None = Field(description="Oldest policy version accepted.")
    updated_at: datetime | None = Field(description="Null for built-in defaults.")


class ConsentDefaults(BaseModel):
    jurisdictions: list[JurisdictionDefaults] = Field(description="Defaults per jurisdiction.")
    default_jurisdiction: str = Field(
        description="The jurisdiction of subjects who have none recorded.", examples=["*"]
    )


class MinorStatusBody(BaseModel):
    """Whether a subject is a minor, and the guardian whose consent counts for them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "is_minor": True,
                    "guardian": {"user_id": "c-10442"},
                    "comes_of_age_at": "2034-09-01T00:00:00+08:00",
                }
            ]
        },
    )

    is_minor: bool = Field(description="Whether the subject is a minor.")
    guardian: ConsentSubject | None = Field(
        default=None, description="The guardian; required when is_minor is true."
    )
    comes_of_age_at: Rfc3339 | None = Field(
        default=None, description="When the subject comes of age, RFC 3339 with offset."
    )
    verification_reference: str | None = Field(
        default=None, max_length=512, description="How the guardianship was verified."
    )


class MinorStatus(BaseModel):
    subject: ShownSubject = Field(description="The subject (email and phone masked).")
    is_minor: bool = Field(description="Whether the subject is marked as a minor.")
    guardian: ShownSubject | None = Field(description="The guardian, when one is set.")
    comes_of_age_at: datetime | None = Field(description="When the subject comes of age.")
    verification_reference: str | None = Field(description="How guardianship was verified.")
    updated_at: datetime | None = Field(description="When the status was last set.")


# --- data-subject requests (access, portability and erasure) ------------------------------------

PrivacyRequestKind = Literal["export", "erasure"]
PrivacyRequestState = Literal["pending", "in_progress", "completed", "needs_attention"]
MAX_PRIVACY_NOTE = 1000
MAX_SUPPRESSION_CHECK = 500


class PrivacyRequestBody(BaseModel):
    """A person's request to get (export) or delete (erasure) everything held about them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "ticket-8812",
                    "subject": {"email": "li.na@example.com"},
                    "note": "requested by email to privacy@, ticket 8812",
                }
            ]
        },
    )

    request_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description=(
            "Unique id of this request, the idempotency key: repeating it returns the original "
            "request (422 if it was used for the other kind). Generated (UUID 4) when absent."
        ),
        examples=["ticket-8812"],
    )
    subject: ConsentSubject = Field(
        description=(
            "Whose data: any identifiers known for the person, or the profile id. Every other "
            "identifier the profile service links to them is included."
        )
    )
    note: str | None = Field(
        default=None,
        max_length=MAX_PRIVACY_NOTE,
        description="Free text for the record: ticket number, channel the request came in by.",
    )


class ErasedRows(BaseModel):
    table: str = Field(description="A table of the service.", examples=["events"])
    rows: int = Field(description="Rows deleted from it.", ge=0, examples=[1001])


class PrivacyTask(BaseModel):
    """One service's part of a data-subject request, with its receipt."""

    service: str = Field(description="The service holding personal data.", examples=["ingestion"])
    state: PrivacyRequestState = Field(description="Its progress.")
    attempts: int = Field(description="Calls made so far, the successful one included.", ge=0)
    last_error: str | None = Field(description="Why the last call failed; null after success.")
    last_attempt_at: datetime | None = Field(description="When the last call was made.")
    next_attempt_at: datetime | None = Field(description="When the next try is due, until done.")
    completed_at: datetime | None = Field(description="When the service completed its part.")
    erased: list[ErasedRows] = Field(description="Erasure receipt: rows deleted per table.")
    export_bytes: int = Field(description="Export: size of the service's part in bytes.", ge=0)


class PrivacyRequest(BaseModel):
    """A data-subject request and its progress in every service that holds personal data."""

    request_id: str = Field(description="Unique id of the request.", examples=["ticket-8812"])
    kind: PrivacyRequestKind = Field(description="Export or erasure.")
    state: PrivacyRequestState = Field(
        description=(
            "completed once every service has confirmed; needs_attention when a service keeps "
            "failing (it is still retried)."
        )
    )
    subject: ShownSubject = Field(
        description=(
            "Whose data (email and phone masked); empty once an erasure completed, since the "
            "request then forgets who it was about."
        )
    )
    tasks: list[PrivacyTask] = Field(description="One per service, by service name.")
    note: str | None = Field(description="The requester's note.")
    requested_by: str | None = Field(
        description="Who opened it: the API key's id (`key:` and a prefix of its SHA-256).",
        examples=["key:3f9a0c2b"],
    )
    created_at: datetime = Field(description="When the request was opened.")
    due_at: datetime = Field(description="When it must be completed by law (one month).")
    completed_at: datetime | None = Field(description="When every service had completed.")
    suppressed: bool = Field(
        description="Erasure: the subject's identifiers are on the suppression list."
    )
    bundle: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Completed export with `include_bundle=true`: everything held about the subject, "
            "keyed by service."
        ),
    )


class PrivacyRequestPage(BaseModel):
    requests: list[PrivacyRequest] = Field(description="Requests, newest first, without bundles.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class SuppressionIdentifier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["user_id", "anonymous_id", "email", "phone", "device_id", "external"] = Field(
        description="The identifier's type.", examples=["email"]
    )
    value: str = Field(
        min_length=1,
        max_length=MAX_IDENTIFIER_LENGTH,
        description="The value (email and phone in clear; hashed before the check).",
        examples=["li.na@example.com"],
    )
    namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The issuing platform; required for `external`.",
        examples=["wechat_openid"],
    )


class SuppressionCheckBody(BaseModel):
    """Identifiers to check against the suppression list of erased subjects."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "identifiers": [
                        {"type": "email", "value": "li.na@example.com"},
                        {"type": "external", "namespace": "wechat_openid", "value": "oX9a2"},
                    ]
                }
            ]
        },
    )

    identifiers: list[SuppressionIdentifier] = Field(
        min_length=1, max_length=MAX_SUPPRESSION_CHECK, description="The identifiers to check."
    )


class SuppressionCheckResult(BaseModel):
    suppressed: list[bool] = Field(
        description="One flag per identifier, in request order: true if an erased subject's."
    )


# --- the audit log of accesses to personal data -------------------------------------------------

AuditActionName = Literal["read", "export", "erase", "update"]


class AuditLogEntry(BaseModel):
    """One access to a person's data: who, when, what, why, and whose."""

    audit_event_id: str = Field(
        description="Unique id of the entry.", examples=["0b6f9d7e-4c1a-4e7b-9a51-0c2d3e4f5a6b"]
    )
    occurred_at: datetime = Field(description="When the access happened.")
    principal: str = Field(
        description=(
            "Who: the API key's id for REST calls, the requester for the consent service's own "
            "data-subject request work."
        ),
        examples=["key:3f9a0c2b"],
    )
    api_key_id: str | None = Field(
        description="The API key used (its id, never the key), when known.",
        examples=["key:3f9a0c2b"],
    )
    service: str = Field(
        description="What served the access: `gateway`, `consent`...", examples=["gateway"]
    )
    operation: str = Field(
        description="The route template or RPC.",
        examples=["GET /v1/profiles/{identifier_type}/{value}"],
    )
    action: AuditActionName = Field(
        description="read, export (data left the platform), erase or update.", examples=["read"]
    )
    purpose: str = Field(
        description=(
            "The declared purpose (`X-Precis-Purpose`), else the route's default: `unspecified`, "
            "or `data_subject_request`."
        ),
        examples=["customer_support"],
    )
    subject: ShownSubject | None = Field(
        description=(
            "Whose data (email and phone masked). Null when the access concerned many people "
            "(see `resource`), or once the person was erased: the access stays in the log, the "
            "link to the person does not."
        )
    )
    resource: str | None = Field(
        description="What was accessed when not one person's record.",
        examples=["data_subject_request:ticket-8812"],
    )
    record_count: int = Field(description="How many people's records were accessed.", ge=0)
    trace_id: str | None = Field(
        description="W3C trace id of the access, to find it in the traces.",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )


class AuditLogPage(BaseModel):
    entries: list[AuditLogEntry] = Field(description="Matching accesses, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


DataKindName = Literal[
    "raw_events",
    "inactive_profiles",
    "consent_ledger",
    "audit_log",
    "export_bundles",
    "segment_memberships",
    "training_data",
    "campaign_assignments",
    "feed_entries",
]


class RetentionPolicyBody(BaseModel):
    """How long one kind of data is kept."""

    model_config = ConfigDict(extra="forbid")

    retention_days: int = Field(
        description=(
            "Days to keep, 0 to keep until erased. The consent ledger keeps at least 365 days "
            "(and always the entries in force), the audit log at least 90."
        ),
        ge=0,
        le=36_500,
        examples=[395],
    )
    action: Literal["delete"] = Field(
        default="delete", description="What happens after that: deletion (the only action)."
    )


class RetentionPolicyView(BaseModel):
    """A data kind's retention period in the workspace, and when it was last applied."""

    data_kind: DataKindName = Field(description="The kind of data.")
    retention_days: int = Field(description="Days kept; 0 means until erased.", ge=0)
    action: Literal["delete"] = Field(description="What happens after that.")
    is_default: bool = Field(description="Whether this is the built-in policy.")
    updated_at: datetime | None = Field(description="When the workspace last set it.")
    updated_by: str | None = Field(description="Who set it (API key id).")
    last_applied_at: datetime | None = Field(
        description="When the retention job last applied it here; null before the first run."
    )
    enforced_by: list[str] = Field(
        description="The services that hold this kind of data and applied it in that run."
    )


class RetentionPolicies(BaseModel):
    policies: list[RetentionPolicyView] = Field(description="One policy per data kind.")


class RetentionApplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_kind: DataKindName | None = Field(
        default=None, description="Only this kind; every kind with a period when omitted."
    )


class RetentionOutcomeView(BaseModel):
    data_kind: DataKindName = Field(description="The kind of data.")
    service: str = Field(description="The service that holds it.", examples=["ingestion"])
    erased: list[ErasedRows] = Field(description="Rows deleted per table.")
    error: str | None = Field(
        description="Why the service could not apply it (retried on the next run)."
    )


class RetentionRun(BaseModel):
    outcomes: list[RetentionOutcomeView] = Field(
        description="One outcome per data kind and service holding it."
    )
    applied_at: datetime = Field(description="When the run finished.")


# ---- segments (audiences, 用户分群) ------------------------------------------------------------

SegmentFamilyName = Literal["rule", "rfm", "cluster", "predictive", "lookalike"]
# A channel members are released on, and the consent purpose it requires; no channel releases
# members with analytics granted, for analysis and measurement only, never for contact.
ChannelName = Literal["email", "sms", "push", "ads", "onsite"]
MAX_SEGMENT_NAME = 200
MAX_SEGMENT_DESCRIPTION = 2000
MAX_SEGMENT_ID = 64
MAX_REFRESH_INTERVAL = 7 * 86_400

RULE_DESCRIPTION = (
    "The rule, a JSON object: one condition, nested with `all`, `any` and `not`. Conditions on "
    'profile fields `{"field": "traits.city" | "computed.order_count" | "tags", "op", "value"}` '
    "(ops `=`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `contains`, `exists`, `between`, "
    '`within_last_days`, `more_than_days_ago`), on events `{"event": {"name", "where", "count" | '
    '"sum" | "did_not", "within_days" | "between"}}`, on consent `{"consent": "marketing_email"}` '
    'and on membership of another segment `{"segment": "<segment_id>"}`. The grammar and its '
    "semantics are documented with the segmentation service (services/segmentation/README.md). "
    "A refused rule is a 422 whose details name the JSON path inside it (`rule.all[1].value`)."
)
# The README's examples: a lapsed-buyer rule, and its complete example.
RULE_EXAMPLES: list[dict[str, Any]] = [
    {
        "all": [
            {"field": "computed.order_count", "op": ">=", "value": 3},
            {"field": "computed.last_seen", "op": "more_than_days_ago", "value": 90},
            {"consent": "marketing_email"},
        ]
    },
    {
        "all": [
            {"field": "computed.life_stage", "op": "=", "value": "newborn"},
            {
                "event": {
                    "name": "purchase",
                    "where": [{"field": "properties.category", "op": "=", "value": "diapers"}],
                    "count": {"op": ">=", "value": 2},
                    "within_days": 60,
                }
            },
            {
                "event": {
                    "name": "purchase",
                    "sum": {"property": "revenue", "op": ">", "value": 300},
                    "within_days": 60,
                }
            },
            {"event": {"name": "app_open", "did_not": True, "within_days": 14}},
            {"consent": "marketing_email"},
            {"not": {"segment": "s_recent_complaints"}},
        ]
    },
]


def _rule_field(*, required: bool) -> Any:
    return Field(
        default=... if required else None,
        description=RULE_DESCRIPTION,
        examples=RULE_EXAMPLES,
    )


def _refresh_field(default: int | None) -> Any:
    return Field(
        default=default,
        ge=0,
        le=MAX_REFRESH_INTERVAL,
        description=(
            "Seconds between automatic refreshes of the materialized membership: 0 refreshes on "
            "request only (a rule with relative windows is still re-evaluated by the service's "
            "own schedule), otherwise 60 to 604800."
        ),
        examples=[3600],
    )


class SegmentBody(BaseModel):
    """A segment to create."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Lapsed loyal buyers",
                    "description": "3+ orders, nothing in 90 days; for the win-back e-mail.",
                    "rule": RULE_EXAMPLES[0],
                    "refresh_interval_seconds": 3600,
                    "materialize": True,
                }
            ]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=MAX_SEGMENT_NAME,
        description="Unique within the workspace.",
        examples=["Lapsed loyal buyers"],
    )
    description: str = Field(
        default="", max_length=MAX_SEGMENT_DESCRIPTION, description="What the audience is for."
    )
    rule: dict[str, Any] = _rule_field(required=True)
    refresh_interval_seconds: int = _refresh_field(0)
    materialize: bool = Field(
        default=False,
        description=(
            "Compute the membership now (members enter and are published on the membership "
            "feed); otherwise on the first refresh."
        ),
    )


class SegmentPatch(BaseModel):
    """Changes to a segment; fields left out (or null) keep their value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"rule": RULE_EXAMPLES[0], "expected_version": 3},
                {"name": "Lapsed loyal buyers (CN)", "refresh_interval_seconds": 0},
            ]
        },
    )

    name: str | None = Field(
        default=None, min_length=1, max_length=MAX_SEGMENT_NAME, description="New name."
    )
    description: str | None = Field(
        default=None, max_length=MAX_SEGMENT_DESCRIPTION, description="New description."
    )
    rule: dict[str, Any] | None = _rule_field(required=False)
    refresh_interval_seconds: int | None = _refresh_field(None)
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Optimistic concurrency, like `If-Match`: the `version` you read. When the segment "
            "is at another version (someone changed its rule meanwhile) nothing changes and the "
            "answer is 409 `aborted`; read it again and retry. Omit it to change unconditionally."
        ),
        examples=[3],
    )


class Segment(BaseModel):
    """An audience."""

    segment_id: str = Field(description="Stable id.", examples=["seg_4f1c2a9e0b7d35c8e6a1"])
    name: str = Field(description="Unique within the workspace.", examples=["Lapsed loyal buyers"])
    description: str = Field(description="What the audience is for.")
    rule: dict[str, Any] = Field(description="The rule, as given.", examples=RULE_EXAMPLES[:1])
    family: SegmentFamilyName = Field(
        description=(
            "Where it came from: rule (hand-written), rfm, cluster, predictive or lookalike "
            "(generated)."
        )
    )
    version: int = Field(
        description="Rule version: 1 at creation, +1 with every rule change.", ge=1, examples=[3]
    )
    refresh_interval_seconds: int = Field(
        description="Seconds between automatic refreshes; 0 on request only."
    )
    member_count: int | None = Field(
        description=(
            "Members at the last refresh, before consent filtering (0 until materialized)."
            + WITHHELD
        ),
        ge=0,
    )
    refreshed_at: datetime | None = Field(
        description="When the membership was last refreshed; null if never materialized."
    )
    created_at: datetime = Field(description="When the segment was created.")
    updated_at: datetime = Field(description="When the segment last changed.")
    origin: str | None = Field(
        description=(
            'For generated segments, what generated them ("rfm:champions", '
            '"lookalike:<seed segment_id>"); null for hand-written ones.'
        ),
        examples=[None],
    )
    suppressed_counts: list[str] = suppressed_counts()


class SegmentPage(BaseModel):
    segments: list[Segment] = Field(description="One page of segments, by name.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class SegmentDeleted(BaseModel):
    exited_count: int | None = Field(
        description=(
            "Members that exited (published on the membership feed); 0 when the segment was "
            "already gone." + WITHHELD
        ),
        ge=0,
    )
    suppressed_counts: list[str] = suppressed_counts()


class _SegmentTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: dict[str, Any] | None = Field(
        default=None,
        description="A rule to evaluate (or give `segment_id`, not both). " + RULE_DESCRIPTION,
        examples=RULE_EXAMPLES,
    )
    segment_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SEGMENT_ID,
        description="A saved segment whose current rule to evaluate (or give `rule`).",
    )


class EstimateBody(_SegmentTarget):
    """What to size: a rule or a saved segment, now, without materializing anything."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rule": RULE_EXAMPLES[0], "channel": "email"}]},
    )

    channel: ChannelName | None = Field(
        default=None,
        description=(
            "Also count the matches releasable on this channel (its consent purpose granted): "
            "email (marketing_email), sms (marketing_sms), push (marketing_push), ads "
            "(ads_targeting), onsite (personalization)."
        ),
    )


class SegmentEstimate(BaseModel):
    matched_count: int | None = Field(description="Profiles the rule matches now." + WITHHELD)
    total_profiles: int | None = Field(description="Live profiles in the workspace." + WITHHELD)
    releasable_count: int | None = Field(
        description=(
            "Of the matched, those releasable on `channel`; null when no channel was asked "
            "for." + WITHHELD
        )
    )
    channel: ChannelName | None = Field(description="The channel asked for.")
    exact: bool = Field(description="Whether the counts are exact (not scaled from a sample).")
    suppressed_counts: list[str] = suppressed_counts()


class PreviewBody(_SegmentTarget):
    """A repeatable random sample of the profiles a rule (or a saved segment) matches now."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rule": RULE_EXAMPLES[0], "sample_size": 5, "seed": 7}]},
    )

    sample_size: int = Field(default=20, ge=1, le=100, description="Profiles to return.")
    seed: int = Field(
        default=0,
        ge=-(2**63),
        lt=2**63,
        description="Seed of the sample: the same seed on the same data gives the same sample.",
    )


class PreviewProfile(BaseModel):
    profile_id: str = Field(description="The profile.")
    identifiers: list[SubjectIdentifier] = Field(
        description="Its identifiers (email and phone masked)."
    )
    traits: dict[str, Any] = Field(
        description=(
            "The traits and computed traits the rule refers to, by their rule names "
            "(`traits.city`, `computed.order_count`)."
        ),
        examples=[{"computed.order_count": 4, "computed.last_seen": "2026-07-02T09:15:00Z"}],
    )


class SegmentPreview(BaseModel):
    profiles: list[PreviewProfile] = Field(description="The sample, by profile id.")
    matched_count: int | None = Field(description="Profiles the rule matches now." + WITHHELD)
    suppressed_counts: list[str] = suppressed_counts()


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    full: bool = Field(
        default=False,
        description=(
            "Recompute from scratch. The first refresh and the one after a rule change always do."
        ),
    )


class SegmentRefresh(BaseModel):
    segment: Segment = Field(description="The segment afterwards.")
    entered_count: int | None = Field(description="Profiles that entered." + WITHHELD)
    exited_count: int | None = Field(
        description=(
            "Profiles that exited." + WITHHELD + " The member count and the two changes are "
            "withheld together when any of them is small: they are tied by arithmetic."
        )
    )
    full: bool = Field(description="Whether the refresh recomputed everything.")
    suppressed_counts: list[str] = suppressed_counts()


class SegmentMember(BaseModel):
    profile_id: str = Field(description="The profile.")
    entered_at: datetime = Field(description="When it entered the segment (this stay).")


class SegmentMembers(BaseModel):
    """One page of the members that may be reached on a channel."""

    segment_id: str = Field(description="The segment.")
    channel: ChannelName | None = Field(
        description="The channel; null: released for analysis only (analytics granted)."
    )
    members: list[SegmentMember] = Field(description="Releasable members, by profile id.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    total_count: int | None = Field(
        description="Members of the segment, releasable or not." + WITHHELD
    )
    releasable_count: int | None = Field(
        description="Members releasable on the channel (over all pages)." + WITHHELD
    )
    suppressed_count: int | None = Field(
        description=(
            "Members withheld: the channel's consent purpose is not granted, they are minors "
            "without a guardian's consent, or they are on the suppression list." + WITHHELD
        )
    )
    refreshed_at: datetime | None = Field(description="The refresh the listing reflects.")
    suppressed_counts: list[str] = suppressed_counts()


class ProfileSegment(BaseModel):
    segment_id: str = Field(description="The segment.")
    name: str = Field(description="Its name.")
    entered_at: datetime = Field(description="When the profile entered it.")


class ProfileSegments(BaseModel):
    profile_id: str = Field(description="The profile the identifier resolved to.")
    segments: list[ProfileSegment] = Field(
        description="The materialized segments it is a member of, by name."
    )


# Built-in audience families: RFM cells, clustering jobs, predictive models and the audiences
# made from them, lookalikes. Generated audiences are ordinary segments whose rule is a `score`
# condition: {"score": {"model": "<model or job id>", "op": ">=", "value": 0.31}}.
JobStateName = Literal["queued", "running", "succeeded", "failed"]
PredictionKindName = Literal["propensity", "churn", "uplift"]
UpliftMethodName = Literal["two_model", "class_transformation"]
MAX_CAMPAIGN_REF = 64
MAX_FAMILY_FEATURES = 32
MAX_FEATURE_NAME = 128
MAX_MODEL_NAME = 200
MAX_TARGET_EVENT = 128
FeatureName = Annotated[str, Field(min_length=1, max_length=MAX_FEATURE_NAME)]
Seed = Annotated[int, Field(ge=-(2**63), lt=2**63)]
STATE_DESCRIPTION = (
    "queued, running, succeeded or failed. Jobs run in the background: poll until succeeded or "
    "failed."
)


def _features_field(what: str, examples: list[str]) -> Any:
    return Field(
        default_factory=list,
        max_length=MAX_FAMILY_FEATURES,
        description=what,
        examples=[examples],
    )


class RfmCellsBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"create_segments": True}]}
    )

    create_segments: bool = Field(
        default=False,
        description=(
            'Also create (or refresh) one materialized segment per cell, named "RFM: <cell>" '
            '(family rfm, origin "rfm:<cell>"); asking again reuses them.'
        ),
    )


class RfmCell(BaseModel):
    name: str = Field(
        description=(
            "champions, loyal, potential_loyalist, new, promising, need_attention, "
            "about_to_sleep, at_risk, cannot_lose, hibernating or lost."
        ),
        examples=["champions"],
    )
    description: str = Field(
        description="What the cell means.", examples=["bought recently, often and spent the most"]
    )
    recency_score_min: int = Field(description="Lowest recency score (1..5) in the cell.")
    recency_score_max: int = Field(description="Highest recency score in the cell.")
    frequency_monetary_score_min: int = Field(
        description="Lowest combined frequency-monetary score (1..5) in the cell."
    )
    frequency_monetary_score_max: int = Field(
        description="Highest combined frequency-monetary score in the cell."
    )
    profile_count: int | None = Field(description="Profiles in the cell now." + WITHHELD)
    share: float | None = Field(
        description=(
            "Share of the profiles with an order that fall in the cell (0..1); null with a "
            "withheld count, which it would give away."
        )
    )
    average_monetary: float | None = Field(
        description=(
            "Mean revenue of the cell's profiles; null when the count is withheld (it would "
            "describe a handful of people)."
        )
    )
    rule: dict[str, Any] = Field(
        description="A rule selecting the cell, ready for `POST /v1/segments`.",
        examples=[{"field": "computed.rfm_cell", "op": "=", "value": "champions"}],
    )
    segment_id: str | None = Field(description="The cell's segment, once created.")


class RfmCells(BaseModel):
    cells: list[RfmCell] = Field(description="The cells, in a fixed order (best first).")
    profiles_with_orders: int | None = Field(
        description="Profiles with at least one order: the population the cells partition."
        + WITHHELD
    )
    computed_at: datetime | None = Field(
        description="When the RFM scores the cells are based on were computed, when known."
    )
    suppressed_counts: list[str] = suppressed_counts()


class ClusteringBody(BaseModel):
    """What to cluster, and how: k-means on standardized behaviour features, k chosen by
    silhouette."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "k_min": 2,
                    "k_max": 6,
                    "features": ["recency_days", "frequency", "monetary"],
                    "seed": 1,
                    "create_segments": True,
                }
            ]
        },
    )

    k_min: int = Field(default=0, ge=0, le=20, description="Smallest k to try (2..20; 0 means 2).")
    k_max: int = Field(
        default=0, ge=0, le=20, description="Largest k to try (k_min..20; 0 means 8)."
    )
    features: list[FeatureName] = _features_field(
        "Behaviour features (computed traits): recency_days, frequency, monetary, aov, "
        "orders_90d, distinct_categories, ... Empty means recency, frequency and monetary.",
        ["recency_days", "frequency", "monetary"],
    )
    segment_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SEGMENT_ID,
        description="Cluster only this segment's members; by default every profile with an order.",
    )
    seed: Seed = Field(default=0, description="Random seed, for reproducible results.")
    max_profiles: int = Field(
        default=0,
        ge=0,
        description=(
            "Profiles used to fit, at most (a random sample beyond; 0 means 200000). Every "
            "profile is then assigned to its nearest centroid."
        ),
    )
    create_segments: bool = Field(
        default=False, description="Create one segment per cluster when the job succeeds."
    )


class SilhouetteScore(BaseModel):
    k: int = Field(description="Number of clusters.")
    silhouette: float = Field(description="Mean silhouette (-1..1; higher is better separated).")


class ClusterFeature(BaseModel):
    feature: str = Field(description="Feature name.")
    mean: float = Field(description="Centroid value in the feature's own units.")
    z_score: float = Field(description="Centroid in standard deviations from the population mean.")


class Cluster(BaseModel):
    index: int = Field(description="0..k-1, largest cluster first.")
    size: int | None = Field(description="Profiles in the cluster." + WITHHELD)
    share: float | None = Field(
        description="Share of the clustered profiles (0..1); null when the size is withheld."
    )
    features: list[ClusterFeature] = Field(
        description=(
            "Every feature's centroid, most distinctive first; empty when the size is withheld "
            "(the centroid of a handful of profiles describes those people)."
        )
    )
    description: str = Field(
        description="Generated description.", examples=["recent, frequent, high spend"]
    )
    segment_id: str | None = Field(description="The cluster's segment, when segments were created.")


class ClusteringJob(BaseModel):
    job_id: str = Field(description="The job; also the model id of its clusters' score rules.")
    state: JobStateName = Field(description=STATE_DESCRIPTION)
    progress: float = Field(description="Progress while running (0..1).")
    error: str | None = Field(description="Why it failed; null otherwise.")
    parameters: ClusteringBody = Field(description="The parameters, defaults filled in.")
    silhouettes: list[SilhouetteScore] = Field(description="Silhouette per k tried.")
    chosen_k: int | None = Field(description="The chosen k (highest silhouette), once succeeded.")
    clusters: list[Cluster] = Field(description="The clusters for the chosen k.")
    profile_count: int | None = Field(
        description="Profiles clustered (the clusters partition them)." + WITHHELD
    )
    created_at: datetime = Field(description="When the job was created.")
    finished_at: datetime | None = Field(description="When it finished.")
    suppressed_counts: list[str] = suppressed_counts()


class PredictiveModelBody(BaseModel):
    """A predictive model to train, as a new version of (kind, name)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "propensity",
                    "horizon_days": 30,
                    "seed": 2,
                    "name": "30-day purchase propensity",
                },
                {"kind": "churn", "horizon_days": 60, "cutoff": "2026-09-01T00:00:00Z"},
                {
                    "kind": "uplift",
                    "campaign_id": "cmp_3f9a2c4e5d6b7a8c9d0e",
                    "features": ["traits.region=north", "traits.age", "frequency"],
                    "name": "Persuadable by the spring promotion",
                },
            ]
        },
    )

    kind: PredictionKindName = Field(
        default="propensity",
        description=(
            "propensity: probability that a profile converts (places an order, or does "
            "`target_event`) within the horizon; churn: probability that an active profile "
            "does nothing within it; uplift: how much more likely a profile is to convert when "
            "treated by a campaign like `campaign_id` than when not (-1..1), learned from that "
            "randomized campaign's treated and holdout subjects with features as of its start."
        ),
    )
    horizon_days: int = Field(
        default=0, ge=0, le=365, description="Days after the cutoff observed (1..365; 0 means 30)."
    )
    target_event: str = Field(
        default="",
        max_length=MAX_TARGET_EVENT,
        description='Propensity: the conversion event; empty means "Order Completed".',
    )
    cutoff: Rfc3339 | None = Field(
        default=None,
        description=(
            "Features use only events before it, labels only events after it (no leakage). "
            "Default: now minus the horizon. RFC 3339 with an offset."
        ),
        examples=["2026-09-01T00:00:00Z"],
    )
    features: list[FeatureName] = _features_field(
        "Features; empty means the built-in event aggregates (recency_days, frequency, "
        "monetary, aov, orders_90d, revenue_90d, events_30d, tenure_days, last_seen_days, "
        'distinct_event_days). Also "traits.<name>" (a numeric or boolean trait; missing: 0), '
        '"traits.<name>=<value>" (1 when the trait has that value) and the same with '
        '"computed.". Traits are read as they are now, not as of the cutoff.',
        ["recency_days", "frequency", "monetary", "traits.region=north"],
    )
    seed: Seed = Field(default=0, description="Random seed (split and model), for reproducibility.")
    test_fraction: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="Share held out to evaluate (0.05..0.5; 0 means 0.2).",
    )
    name: str = Field(
        default="",
        max_length=MAX_MODEL_NAME,
        description=(
            'Name of the model; empty means "<kind> in <horizon> days" ("uplift of campaign '
            '<campaign_id>" for uplift).'
        ),
        examples=["30-day purchase propensity"],
    )
    campaign_id: str = Field(
        default="",
        max_length=MAX_CAMPAIGN_REF,
        description=(
            "Uplift: the campaign (with a holdout) whose subjects and outcomes train the model; "
            "horizon_days, target_event and cutoff do not apply."
        ),
    )
    uplift_method: UpliftMethodName | None = Field(
        default=None,
        description=(
            "Uplift: two_model (default; one classifier per group) or class_transformation "
            "(one classifier of the transformed outcome)."
        ),
    )
    arm_id: str = Field(
        default="",
        max_length=MAX_CAMPAIGN_REF,
        description="Uplift: the arm compared with the holdout; empty means every arm together.",
    )


class PredictiveModelParameters(PredictiveModelBody):
    """The parameters a model was trained with, defaults filled in."""

    cutoff: datetime | None = Field(  # read back from the service, not parsed
        default=None, description="Features use only events before it, labels only after it."
    )


class LiftDecile(BaseModel):
    decile: int = Field(description="1 (highest scores) to 10.")
    profile_count: int | None = Field(description="Test profiles in the decile." + WITHHELD)
    positives: int | None = Field(description="Of them, those with the outcome." + WITHHELD)
    min_score: float = Field(description="Lowest score in the decile.")
    rate: float | None = Field(
        description="Outcome rate in the decile; null when `positives` is withheld."
    )
    lift: float | None = Field(
        description="Rate over the overall rate; null when it would give a withheld count away."
    )
    cumulative_lift: float | None = Field(
        description="Lift of deciles 1..decile; null from the first withheld decile on."
    )
    cumulative_capture: float | None = Field(
        description="Share of all positives in deciles 1..decile (gain); null likewise."
    )


class UpliftModelDecile(BaseModel):
    decile: int = Field(description="1 (highest uplift scores) to 10.")
    treated: int | None = Field(description="Treated held-out subjects in it." + WITHHELD)
    control: int | None = Field(description="Holdout subjects in it." + WITHHELD)
    treated_rate: float | None = Field(
        description=(
            "Conversion rate of the treated; null when their count or their converters "
            "(fewer than k, or withheld as a complement) are withheld."
        )
    )
    control_rate: float | None = Field(description="Conversion rate of the holdout; null likewise.")
    uplift: float | None = Field(description="treated_rate - control_rate; null likewise.")
    cumulative_gain: float | None = Field(
        description=(
            "Incremental conversions of deciles 1..decile as a share of all deciles'; null from "
            "the first decile with a withheld rate on."
        )
    )
    min_score: float = Field(description="Lowest uplift score in the decile.")


class UpliftModelAtFraction(BaseModel):
    fraction: float = Field(description="Share targeted, highest scores first.")
    uplift: float | None = Field(
        description="treated - holdout conversion rate within it; null when a rate is withheld."
    )
    treated: int | None = Field(description="Treated subjects within it." + WITHHELD)
    control: int | None = Field(description="Holdout subjects within it." + WITHHELD)


class UpliftModelEvaluation(BaseModel):
    """How an uplift model ranked the held-out subjects of its campaign (the measures of the
    measurement service's uplift evaluation)."""

    qini_coefficient: float = Field(
        description="Qini coefficient (scikit-uplift's qini_auc_score): 0 random, 1 perfect."
    )
    auuc: float = Field(description="Area under the uplift curve.")
    random_auuc: float = Field(description="The same for random targeting, to compare.")
    treated: int | None = Field(description="Treated held-out subjects." + WITHHELD)
    control: int | None = Field(description="Holdout held-out subjects." + WITHHELD)
    average_uplift: float | None = Field(
        description="treated - holdout conversion rate over all held-out subjects."
    )
    uplift_at_k: list[UpliftModelAtFraction] = Field(
        description="Uplift among the top 10%, 20%, 30% and 50% by score."
    )
    deciles: list[UpliftModelDecile] = Field(description="Held-out subjects in tenths by score.")


class PredictiveModel(BaseModel):
    """One version of a predictive model, with its training state and, once trained, its
    evaluation on the held-out test set."""

    model_id: str = Field(description="This version's id (the `model` of its score rules).")
    version: int = Field(description="Version within (kind, name), from 1.")
    name: str = Field(description="Name of the model.")
    kind: PredictionKindName = Field(description="propensity, churn or uplift.")
    state: JobStateName = Field(description=STATE_DESCRIPTION)
    progress: float = Field(description="Progress while training (0..1).")
    error: str | None = Field(description="Why training failed; null otherwise.")
    parameters: PredictiveModelParameters = Field(description="The parameters, defaults filled in.")
    training_rows: int | None = Field(
        description="Profiles in the training set; null until trained." + WITHHELD
    )
    test_rows: int | None = Field(
        description="Profiles in the test set; null until trained." + WITHHELD
    )
    positive_rate: float | None = Field(
        description="Share of positives in the training set; null until trained."
    )
    auc: float | None = Field(
        description="Area under the ROC curve on the test set (null for uplift models)."
    )
    deciles: list[LiftDecile] = Field(
        description="Lift table on the test set, deciles 1..10 (empty for uplift models)."
    )
    uplift: UpliftModelEvaluation | None = Field(
        default=None, description="Uplift models, once trained: the held-out evaluation."
    )
    feature_importances: dict[str, float] = Field(
        description="Feature name to importance, summing to 1.",
        examples=[{"recency_days": 0.52, "frequency": 0.31, "monetary": 0.17}],
    )
    created_at: datetime = Field(description="When training was asked for.")
    finished_at: datetime | None = Field(description="When training finished.")
    suppressed_counts: list[str] = suppressed_counts()


class PredictiveModelPage(BaseModel):
    models: list[PredictiveModel] = Field(description="Model versions, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PredictiveAudienceBody(BaseModel):
    """A segment of the profiles a model scores highest: give `top_fraction` or `min_score`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Likely buyers", "top_fraction": 0.1},
                {"name": "Churn risk", "min_score": 0.6},
            ]
        },
    )

    name: str = Field(min_length=1, max_length=MAX_SEGMENT_NAME, description="The segment's name.")
    top_fraction: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="The share of scored profiles with the highest scores.",
    )
    min_score: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description=(
            "Every profile scoring at least this (a probability, 0..1; an uplift, -1..1, for "
            "uplift models)."
        ),
    )


class PredictiveAudience(BaseModel):
    segment: Segment = Field(description="The created, materialized segment (family predictive).")
    expected_rate: float = Field(
        description="Expected outcome rate in it, from the test set (0 for uplift models)."
    )
    expected_lift: float = Field(
        description="Expected lift over the overall rate (0 for uplift models)."
    )
    expected_uplift: float = Field(
        default=0.0,
        description=(
            "Uplift models: the treated - holdout conversion rate expected in it, from the "
            "held-out deciles it covers."
        ),
    )


class LookalikeBody(BaseModel):
    """A segment of the profiles most like a seed segment's members (the seed excluded)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Like champions", "size": 5000, "seed": 4}]},
    )

    name: str = Field(min_length=1, max_length=MAX_SEGMENT_NAME, description="The segment's name.")
    size: int = Field(ge=1, le=10_000_000, description="Profiles wanted, the seed excluded.")
    features: list[FeatureName] = _features_field(
        "Features to measure similarity on; empty means the built-in set.",
        ["recency_days", "frequency", "monetary"],
    )
    seed: Seed = Field(default=0, description="Random seed, for reproducible results.")


class LookalikeQuality(BaseModel):
    holdout_size: int | None = Field(description="Seed members held out before fitting." + WITHHELD)
    holdout_recall: float = Field(
        description="Share of the held-out seed members the expansion's cutoff would select."
    )
    lift_over_random: float = Field(
        description="Recall over the share of the population selected: lift over random."
    )
    similarity_cutoff: float = Field(description="Lowest similarity (0..1) admitted.")


class LookalikeAudience(BaseModel):
    segment: Segment = Field(description="The created, materialized segment (family lookalike).")
    quality: LookalikeQuality = Field(description="Its expected quality.")
    suppressed_counts: list[str] = suppressed_counts()


# ---- recommendation (精准推荐) -------------------------------------------------------------------

MAX_ITEM_ID = 128
MAX_UPSERT_ITEMS = 1000
MAX_ITEM_TITLE = 1000
MAX_CATEGORY = 512
MAX_TRAINING_NOTE = 1000
AlgorithmName = Literal["als", "bpr"]
ModelStatusName = Literal["candidate", "serving", "retired"]
RecommendationReasonName = Literal[
    "personalized",
    "fallback_no_consent",
    "fallback_cold_start",
    "fallback_no_model",
    "popular",
    "similar",
    "fallback_consent_unavailable",
]
ItemId = Annotated[str, Field(min_length=1, max_length=MAX_ITEM_ID)]
CATEGORY_DESCRIPTION = (
    'Category path, most general first, separated by " > ", for example "Baby > Feeding > Bottles".'
)


class CatalogItemBody(BaseModel):
    """A product as the catalog is to hold it: an upsert replaces the whole item."""

    model_config = ConfigDict(extra="forbid")

    item_id: ItemId = Field(
        description='The brand\'s product id; matches "product_id" in event properties.',
        examples=["sku-10442"],
    )
    title: str = Field(max_length=MAX_ITEM_TITLE, description="Display title.")
    category: str = Field(default="", max_length=MAX_CATEGORY, description=CATEGORY_DESCRIPTION)
    price: float = Field(ge=0, description="Price in major units of the currency.", examples=[89.0])
    currency: str = Field(
        default="",
        max_length=3,
        description='ISO 4217 currency code, for example "CNY".',
        examples=["CNY"],
    )
    available: bool = Field(default=True, description="Whether it can be bought now.")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Further attributes (brand, age range, image URL), as a JSON object.",
        examples=[{"brand": "Pigeon", "age_range": "0-6m"}],
    )


class CatalogItem(BaseModel):
    """A product in the catalog."""

    item_id: str = Field(description="The brand's product id.", examples=["sku-10442"])
    title: str = Field(description="Display title.")
    category: str = Field(description=CATEGORY_DESCRIPTION)
    price: float = Field(description="Price in major units of the currency.")
    currency: str = Field(description="ISO 4217 currency code.", examples=["CNY"])
    available: bool = Field(description="Whether it can be bought now.")
    attributes: dict[str, Any] = Field(description="Further attributes, as a JSON object.")
    updated_at: datetime | None = Field(description="When the catalog last changed the item.")


class UpsertItemsBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "item_id": "sku-10442",
                            "title": "Glass feeding bottle 240 ml",
                            "category": "Baby > Feeding > Bottles",
                            "price": 89.0,
                            "currency": "CNY",
                            "available": True,
                            "attributes": {"brand": "Pigeon", "age_range": "0-6m"},
                        }
                    ]
                }
            ]
        },
    )

    items: list[CatalogItemBody] = Field(
        min_length=1,
        max_length=MAX_UPSERT_ITEMS,
        description=(
            "1 to 1000 items, created or replaced by item_id. One refused item refuses the "
            "request (422 naming `items[<index>].<field>`); nothing is written then."
        ),
    )


class UpsertItemsResult(BaseModel):
    created: int = Field(description="Items that were not in the catalog.")
    updated: int = Field(description="Items replaced.")


class CatalogItemPage(BaseModel):
    items: list[CatalogItem] = Field(description="One page of items, by item_id.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class Hyperparameters(BaseModel):
    """Hyperparameters of a model; 0 means the default given."""

    model_config = ConfigDict(extra="forbid")

    factors: int = Field(default=0, ge=0, le=512, description="Latent factors (1..512; 0: 64).")
    regularization: float = Field(
        default=0, ge=0, description="L2 regularization (0: 0.05 for ALS, 0.01 for BPR)."
    )
    iterations: int = Field(
        default=0,
        ge=0,
        le=500,
        description="Iterations, or epochs for BPR (1..500; 0: 15 for ALS, 100 for BPR).",
    )
    alpha: float = Field(
        default=0, ge=0, description="ALS: confidence scaling of interaction weights (0: 1)."
    )
    learning_rate: float = Field(default=0, ge=0, description="BPR: learning rate (0: 0.01).")


class InteractionWeights(BaseModel):
    """How events become the interaction matrix: a weight per event, decayed with age."""

    model_config = ConfigDict(extra="forbid")

    view: float = Field(default=1.0, ge=0, description='Weight of a "Product Viewed" event.')
    add_to_cart: float = Field(default=3.0, ge=0, description='Weight of a "Product Added" event.')
    purchase: float = Field(
        default=5.0, ge=0, description='Weight of each product of an "Order Completed" event.'
    )
    half_life_days: float = Field(
        default=30.0, ge=0, description="Half-life of a weight in days; 0 means no decay."
    )


class TrainingBody(BaseModel):
    """A model to train: it is registered as a new version (a candidate) when training ends."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"algorithm": "als", "hyperparameters": {"factors": 64}, "seed": 7},
                {
                    "algorithm": "bpr",
                    "weights": {"view": 1, "add_to_cart": 3, "purchase": 5, "half_life_days": 60},
                    "test_fraction": 0.2,
                    "note": "BPR against last week's ALS",
                },
            ]
        },
    )

    algorithm: AlgorithmName = Field(
        default="als", description="als (implicit alternating least squares) or bpr."
    )
    hyperparameters: Hyperparameters = Field(
        default_factory=Hyperparameters, description="Hyperparameters; 0 means the default."
    )
    weights: InteractionWeights = Field(
        default_factory=InteractionWeights, description="Event weights and time decay."
    )
    history_days: int = Field(
        default=0, ge=0, le=3650, description="Days of history used (1..3650; 0 means 365)."
    )
    test_days: int = Field(
        default=0,
        ge=0,
        le=90,
        description="Time split: the last days of the history held out to evaluate (0 means 14).",
    )
    test_fraction: float = Field(
        default=0,
        ge=0,
        lt=1,
        description=(
            "When above 0, each profile's latest share of interactions is held out instead of "
            "the last `test_days` (every profile with two or more interactions is evaluated)."
        ),
    )
    k: int = Field(default=0, ge=0, le=100, description="k of the offline metrics (0 means 10).")
    seed: Annotated[int, Field(ge=-(2**63), lt=2**63)] = Field(
        default=0, description="Random seed, for reproducible models."
    )
    note: str = Field(
        default="", max_length=MAX_TRAINING_NOTE, description="Why the model was trained."
    )


class TrainingJob(BaseModel):
    job_id: str = Field(description="The job.")
    state: JobStateName = Field(description=STATE_DESCRIPTION)
    stage: str = Field(
        description="What it is doing: building_matrix, fitting, evaluating, registering.",
        examples=["fitting"],
    )
    progress: float = Field(description="Progress (0..1).")
    error: str | None = Field(description="Why it failed; null otherwise.")
    model_version: int | None = Field(description="The version registered once it succeeded.")
    created_at: datetime = Field(description="When the job was created.")
    started_at: datetime | None = Field(description="When it started running.")
    finished_at: datetime | None = Field(description="When it finished.")


class TrainingData(BaseModel):
    """What a model was trained and evaluated on."""

    history_start: datetime | None = Field(description="Start of the history used.")
    test_start: datetime | None = Field(
        description="Time split: interactions from here on were the test set; null for a "
        "per-profile split (test_fraction)."
    )
    history_end: datetime | None = Field(description="End of the history used (exclusive).")
    users: int = Field(description="Profiles with interactions in the training set.")
    items: int = Field(description="Items with interactions in the training set.")
    interactions: int = Field(description="Non-zero cells of the training matrix.")
    test_users: int = Field(description="Profiles evaluated on the test set.")
    events_feed_seq: int = Field(
        description="The profile_changes feed position the interactions had been read to."
    )
    weights: InteractionWeights = Field(description="The event weights used.")


class OfflineMetrics(BaseModel):
    """Ranking metrics at k on the held-out test set."""

    k: int = Field(description="The k.")
    precision_at_k: float = Field(description="Precision at k.")
    recall_at_k: float = Field(description="Recall at k.")
    ndcg_at_k: float = Field(description="Normalized discounted cumulative gain at k.")
    map_at_k: float = Field(description="Mean average precision at k.")
    coverage: float = Field(description="Share of the catalog in anyone's top k.")


class ModelVersion(BaseModel):
    """A registered model version, with its lineage and offline metrics."""

    version: int = Field(description="Version number, from 1.", examples=[3])
    status: ModelStatusName = Field(
        description="candidate (never served), serving (now) or retired (served before)."
    )
    algorithm: AlgorithmName = Field(description="als or bpr.")
    hyperparameters: Hyperparameters = Field(description="Hyperparameters, defaults filled in.")
    seed: int = Field(description="Random seed used.")
    training_data: TrainingData | None = Field(description="Training and test data.")
    metrics: OfflineMetrics | None = Field(description="The model's offline metrics.")
    baseline_metrics: OfflineMetrics | None = Field(
        description="The popularity baseline's metrics on the same split."
    )
    job_id: str = Field(description="The job that trained it.")
    note: str = Field(description="Note given at training.")
    created_at: datetime = Field(description="When it was registered.")
    promoted_at: datetime | None = Field(description="When it last started serving.")


class ModelVersionPage(BaseModel):
    versions: list[ModelVersion] = Field(description="Versions, newest first.")
    serving_version: int | None = Field(description="The version serving now; null when none.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class ModelPromotion(BaseModel):
    serving: ModelVersion = Field(description="The version now serving.")
    previous_version: int | None = Field(description="The version that served before, if any.")


class ModelRollback(BaseModel):
    serving: ModelVersion = Field(description="The version serving again.")
    rolled_back_version: int = Field(description="The version rolled back from.")


class MetricComparison(BaseModel):
    metric: str = Field(
        description="precision_at_k, recall_at_k, ndcg_at_k, map_at_k or coverage.",
        examples=["ndcg_at_k"],
    )
    base: float = Field(description="The base version's value.")
    candidate: float = Field(description="The candidate version's value.")
    difference: float = Field(description="candidate - base.")
    relative_difference: float = Field(description="(candidate - base) / base; 0 when base is 0.")


class ModelComparison(BaseModel):
    base: ModelVersion = Field(description="The reference version.")
    candidate: ModelVersion = Field(description="The version compared with it.")
    metrics: list[MetricComparison] = Field(description="One row per metric.")
    same_split: bool = Field(
        description="Whether both were evaluated on the same test split; when not, the "
        "differences are indicative only."
    )


class ScoredItem(BaseModel):
    item: CatalogItem = Field(description="The item.")
    score: float = Field(
        description="Model score, similarity or popularity weight; higher is better; comparable "
        "only within one response."
    )


REASON_DESCRIPTION = (
    "Why the list holds what it holds: personalized (by the serving model), popular (asked "
    "for), similar (item to item), or popular items as a fallback: fallback_no_consent (the "
    "person has not granted personalization), fallback_cold_start (unknown profile, or none of "
    "its interactions are in the model), fallback_no_model (no version is serving), "
    "fallback_consent_unavailable (consent could not be checked, so nobody is personalized)."
)


class Recommendations(BaseModel):
    items: list[ScoredItem] = Field(description="Up to k items, best first.")
    reason: RecommendationReasonName = Field(description=REASON_DESCRIPTION)
    model_version: int | None = Field(
        description="The model version that scored the items; null for fallbacks."
    )
    profile_id: str | None = Field(
        description="The profile the identifier resolved to; null when unknown."
    )


class SimilarItems(BaseModel):
    items: list[ScoredItem] = Field(
        description="Up to k items, most similar first; never the item itself."
    )
    reason: RecommendationReasonName = Field(description="similar.")
    model_version: int | None = Field(
        description="The model version whose item factors were used; null when co-occurrence "
        "was used (no model serving)."
    )


class PopularItems(BaseModel):
    items: list[ScoredItem] = Field(
        description="Up to k items, most popular first; score is the decayed interaction weight."
    )
    reason: RecommendationReasonName = Field(description="popular.")
    fell_back_to_global: bool = Field(
        description="The segment had too few interactions: global popularity was used instead."
    )
    interactions: int = Field(
        description=(
            "Interactions counted in the window (of the segment's members, or of everyone when "
            "the list is global): how much the ranking rests on."
        )
    )
