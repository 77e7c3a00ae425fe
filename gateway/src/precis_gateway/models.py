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
    total_count: int = Field(description="Number of live profiles in the workspace.", ge=0)


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

    profiles_before: int = Field(description="Live profiles now.")
    profiles_after: int = Field(description="Profiles the history would give under the rules.")
    profiles_merged: int = Field(description="Profiles that would be merged into others.")
    profiles_split: int = Field(description="Profiles that would be split.")
    profiles_unchanged: int = Field(description="Profiles left exactly as they are.")
    events_evaluated: int = Field(description="Events replayed.")


class TaggedProfiles(BaseModel):
    profiles: list[Profile] = Field(description="One page of profiles carrying the tag.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class RfmRefresh(BaseModel):
    """The workspace's RFM boundaries as just recomputed, and the size of each cell."""

    as_of: datetime = Field(description="The moment recency was measured at.")
    population: int = Field(description="Profiles with orders that were scored.")
    cells: dict[str, int] = Field(
        description="Profiles per RFM cell, largest first.", examples=[{"champions": 3912}]
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
    profile_count: int = Field(description="Profiles carrying the tag now.", ge=0)
    updated_at: datetime | None = Field(description="When the definition last changed.")


class TagDefinitions(BaseModel):
    definitions: list[TagDefinition] = Field(description="Every tag definition, by name.")


class TagDeleted(BaseModel):
    profiles_untagged: int = Field(description="Profiles the tag was removed from.", ge=0)


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
