"""Typed requests and responses of the Precis REST API (/v1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from precis_client.errors import ErrorDetail, PrecisError, parse_error_details

IngestStatus = Literal["accepted", "duplicate"]
BatchItemStatus = Literal["accepted", "duplicate", "rejected"]
Timestamp = datetime | str


def format_timestamp(value: Timestamp) -> str:
    """RFC 3339 text of an aware datetime (UTC written as ``Z``); strings pass through as is.

    A naive datetime is refused: guessing its zone would shift events silently.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"timestamp {value!r} has no timezone; pass an aware datetime")
    if value.utcoffset() == UTC.utcoffset(None):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def _common_fields(
    message_id: str | None,
    user_id: str | None,
    anonymous_id: str | None,
    context: Mapping[str, Any] | None,
    timestamp: Timestamp | None,
    sent_at: Timestamp | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if message_id is not None:
        body["message_id"] = message_id
    if user_id is not None:
        body["user_id"] = user_id
    if anonymous_id is not None:
        body["anonymous_id"] = anonymous_id
    if context is not None:
        body["context"] = dict(context)
    if timestamp is not None:
        body["timestamp"] = format_timestamp(timestamp)
    if sent_at is not None:
        body["sent_at"] = format_timestamp(sent_at)
    return body


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """Something a person did (``POST /v1/track``, or ``type: track`` in a batch)."""

    event: str
    user_id: str | None = None
    anonymous_id: str | None = None
    properties: Mapping[str, Any] | None = None
    context: Mapping[str, Any] | None = None
    timestamp: Timestamp | None = None
    sent_at: Timestamp | None = None
    message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body = _common_fields(
            self.message_id,
            self.user_id,
            self.anonymous_id,
            self.context,
            self.timestamp,
            self.sent_at,
        )
        body["event"] = self.event
        if self.properties is not None:
            body["properties"] = dict(self.properties)
        return body


@dataclass(frozen=True, slots=True)
class IdentifyEvent:
    """Who a person is (``POST /v1/identify``, or ``type: identify`` in a batch)."""

    user_id: str | None = None
    anonymous_id: str | None = None
    traits: Mapping[str, Any] | None = None
    context: Mapping[str, Any] | None = None
    timestamp: Timestamp | None = None
    sent_at: Timestamp | None = None
    message_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body = _common_fields(
            self.message_id,
            self.user_id,
            self.anonymous_id,
            self.context,
            self.timestamp,
            self.sent_at,
        )
        if self.traits is not None:
            body["traits"] = dict(self.traits)
        return body


BatchEvent = TrackEvent | IdentifyEvent


def batch_item_json(event: BatchEvent | Mapping[str, Any]) -> dict[str, Any]:
    """One element of ``{"batch": [...]}``: the event's fields plus its ``type``."""
    if isinstance(event, TrackEvent):
        return {"type": "track", **event.to_json()}
    if isinstance(event, IdentifyEvent):
        return {"type": "identify", **event.to_json()}
    return dict(event)


def _invalid(what: str, payload: object) -> PrecisError:
    return PrecisError(200, "invalid_response", f"unexpected {what} from the gateway: {payload!r}")


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Answer to a single track or identify."""

    message_id: str
    status: IngestStatus

    @classmethod
    def from_json(cls, data: object) -> IngestResult:
        if not isinstance(data, Mapping) or data.get("status") not in ("accepted", "duplicate"):
            raise _invalid("ingest result", data)
        return cls(message_id=str(data.get("message_id", "")), status=data["status"])


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """Outcome of one event of a batch; ``index`` is its position in the request."""

    index: int
    message_id: str
    status: BatchItemStatus
    errors: tuple[ErrorDetail, ...] = ()

    @classmethod
    def from_json(cls, data: object) -> BatchItemResult:
        if not isinstance(data, Mapping) or data.get("status") not in (
            "accepted",
            "duplicate",
            "rejected",
        ):
            raise _invalid("batch item", data)
        return cls(
            index=int(data.get("index", -1)),
            message_id=str(data.get("message_id") or ""),
            status=data["status"],
            errors=parse_error_details(data.get("errors")),
        )


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Answer to ``POST /v1/batch``: one result per event, and the totals."""

    results: tuple[BatchItemResult, ...]
    accepted: int
    duplicates: int
    rejected: int

    @classmethod
    def from_json(cls, data: object) -> BatchResult:
        if not isinstance(data, Mapping) or not isinstance(data.get("results"), list):
            raise _invalid("batch result", data)
        return cls(
            results=tuple(BatchItemResult.from_json(item) for item in data["results"]),
            accepted=int(data.get("accepted", 0)),
            duplicates=int(data.get("duplicates", 0)),
            rejected=int(data.get("rejected", 0)),
        )


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier linked to a profile, and the event that linked it."""

    type: str
    value: str
    source_message_id: str
    linked_at: str

    @classmethod
    def from_json(cls, data: object) -> Identifier:
        if not isinstance(data, Mapping):
            raise _invalid("identifier", data)
        return cls(
            type=str(data.get("type", "")),
            value=str(data.get("value", "")),
            source_message_id=str(data.get("source_message_id") or ""),
            linked_at=str(data.get("linked_at") or ""),
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """The unified customer profile. ``raw`` is the JSON as received, for display or new fields."""

    profile_id: str
    identifiers: tuple[Identifier, ...]
    traits: dict[str, Any]
    computed_traits: dict[str, Any]
    event_count: int
    event_counts: dict[str, int]
    first_seen: str | None
    last_seen: str | None
    tags: tuple[Any, ...]
    merged_profile_ids: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: object) -> Profile:
        if not isinstance(data, Mapping) or not isinstance(data.get("profile_id"), str):
            raise _invalid("profile", data)
        return cls(
            profile_id=data["profile_id"],
            identifiers=tuple(Identifier.from_json(i) for i in data.get("identifiers") or []),
            traits=dict(data.get("traits") or {}),
            computed_traits=dict(data.get("computed_traits") or {}),
            event_count=int(data.get("event_count") or 0),
            event_counts={str(k): int(v) for k, v in (data.get("event_counts") or {}).items()},
            first_seen=_str_or_none(data.get("first_seen")),
            last_seen=_str_or_none(data.get("last_seen")),
            tags=tuple(data.get("tags") or ()),
            merged_profile_ids=tuple(str(p) for p in data.get("merged_profile_ids") or ()),
            raw=dict(data),
        )


@dataclass(frozen=True, slots=True)
class ProfilePage:
    """One page of ``GET /v1/profiles``; ``next_cursor`` is None on the last page.
    ``total_count`` is None when the gateway withheld it: a count from 1 to k-1 shown to a key
    without privacy:admin (the small-cell rule)."""

    profiles: tuple[Profile, ...]
    next_cursor: str | None
    total_count: int | None

    @classmethod
    def from_json(cls, data: object) -> ProfilePage:
        if not isinstance(data, Mapping) or not isinstance(data.get("profiles"), list):
            raise _invalid("profile page", data)
        return cls(
            profiles=tuple(Profile.from_json(p) for p in data["profiles"]),
            next_cursor=_str_or_none(data.get("next_cursor")) or None,
            total_count=None if data.get("total_count") is None else int(data["total_count"]),
        )


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """Answer of a probe: ``ok`` is True on 200 (``/readyz`` answers 503 while not ready)."""

    ok: bool
    http_status: int
    body: dict[str, Any]
