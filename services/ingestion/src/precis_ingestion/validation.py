"""Validation and normalization of incoming events: pure, no I/O.

Limits (stated in the README and enforced here):
  - an event: at most 32 KiB of JSON (properties + traits + context) and ids;
  - a batch: at most 500 events and 512 KiB;
  - message_id at most 128 characters; event name 1-200; user_id / anonymous_id at most 256;
  - timestamp between 1970-01-01 and 24 h after the receive time;
  - identify traits: at most 200 per event, names 1-128 printable characters, each value at
    most 8 KiB of JSON nested at most 5 levels deep (the profile service keeps at most 500
    distinct traits per profile; a null value deletes a trait);
  - context.source (where traits came from, recorded per trait): 1-64 characters;
  - context.consent (choices stated with the event): see consent_context.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from precis.consent.v1 import consent_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis_common.errors import InvalidArgument, Violation
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH, PiiHasher
from precis_common.privacy import event_identifiers, identifier_of
from precis_ingestion import consent_context

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 512 * 1024
MAX_MESSAGE_ID = 128
MAX_EVENT_NAME = 200
MAX_FUTURE = timedelta(hours=24)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TRAITS = 200
MAX_TRAIT_NAME = 128
MAX_TRAIT_VALUE_BYTES = 8 * 1024
MAX_TRAIT_DEPTH = 5
MAX_SOURCE = 64

TRACK = ingestion_pb2.EVENT_TYPE_TRACK
IDENTIFY = ingestion_pb2.EVENT_TYPE_IDENTIFY
TYPE_NAMES: dict[int, str] = {TRACK: "track", IDENTIFY: "identify"}
# Trait keys that are identifiers and never stored in clear.
PERSONAL_TRAITS = ("email", "phone")


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid event, normalized, with personal data replaced by keyed hashes."""

    stored: ingestion_pb2.StoredEvent
    event_time: datetime
    # The consent the event states (context.consent), ready for the ledger; None if it has none.
    consent: consent_pb2.RecordConsentRequest | None = None


def _json_object(raw: bytes, field: str, violations: list[Violation]) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        violations.append(Violation(field, f"is not valid JSON ({exc.msg})"))
        return {}
    if not isinstance(value, dict):
        violations.append(Violation(field, "must be a JSON object"))
        return {}
    return value


def _time(
    ts: Timestamp, field: str, received_at: datetime, violations: list[Violation]
) -> datetime | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    try:
        value = ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        violations.append(Violation(field, "is not a valid time"))
        return None
    if value < EARLIEST:
        violations.append(Violation(field, "must not be before 1970-01-01T00:00:00Z"))
        return None
    if value > received_at + MAX_FUTURE:
        violations.append(Violation(field, "must not be more than 24h in the future"))
        return None
    return value


def validate_event(
    event: ingestion_pb2.Event,
    *,
    workspace_id: str,
    hasher: PiiHasher,
    received_at: datetime,
    expected_type: int | None = None,
    prefix: str = "",
) -> Accepted:
    """Check one event; raise InvalidArgument listing every violation (field paths get `prefix`)."""
    v: list[Violation] = []
    event_type: int = event.type
    if expected_type is not None:
        if event_type not in (ingestion_pb2.EVENT_TYPE_UNSPECIFIED, expected_type):
            v.append(Violation("type", f"must be {TYPE_NAMES[expected_type]} for this call"))
        event_type = expected_type
    elif event_type not in TYPE_NAMES:
        v.append(Violation("type", "must be track or identify"))

    message_id = event.message_id or str(uuid.uuid4())
    if len(message_id) > MAX_MESSAGE_ID or not message_id.isprintable():
        v.append(Violation("message_id", f"must be at most {MAX_MESSAGE_ID} printable characters"))

    if event_type == TRACK:
        if not event.event.strip():
            v.append(Violation("event", "is required for track events"))
        elif len(event.event) > MAX_EVENT_NAME:
            v.append(Violation("event", f"must be at most {MAX_EVENT_NAME} characters"))
    elif event_type == IDENTIFY and event.event:
        v.append(Violation("event", "must be empty for identify events"))

    if not event.user_id and not event.anonymous_id:
        v.append(Violation("user_id", "user_id or anonymous_id is required"))
    for name in ("user_id", "anonymous_id"):
        value = getattr(event, name)
        if len(value) > MAX_IDENTIFIER_LENGTH:
            v.append(Violation(name, f"must be at most {MAX_IDENTIFIER_LENGTH} characters"))
        elif value and not value.strip():
            v.append(Violation(name, "must not be blank"))

    size = (
        len(event.properties_json)
        + len(event.traits_json)
        + len(event.context_json)
        + len(event.event)
        + len(event.user_id)
        + len(event.anonymous_id)
        + len(message_id)
    )
    if size > MAX_EVENT_BYTES:
        v.append(
            Violation("event", f"is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes per event")
        )
        raise _invalid(v, prefix)

    properties = _json_object(event.properties_json, "properties", v)
    traits = _json_object(event.traits_json, "traits", v)
    context = _json_object(event.context_json, "context", v)
    _check_context_identifiers(context, v)
    _check_traits(traits, v)
    source = context.get("source")
    if source is not None and (
        not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE
    ):
        v.append(Violation("context.source", f"must be a string of 1-{MAX_SOURCE} characters"))
    consent = consent_context.parse(context["consent"], v) if "consent" in context else None

    email_hash = phone_hash = ""
    for key in PERSONAL_TRAITS:
        raw = traits.pop(key, None)
        if raw is None or raw == "":
            continue
        if not isinstance(raw, str):
            v.append(Violation(f"traits.{key}", "must be a string"))
            continue
        try:
            if key == "email":
                email_hash = hasher.hash_email(workspace_id, raw, field="traits.email")
            else:
                phone_hash = hasher.hash_phone(workspace_id, raw, field="traits.phone")
        except InvalidArgument as exc:
            v.extend(exc.violations)

    timestamp = _time(event.timestamp, "timestamp", received_at, v)
    sent_at = _time(event.sent_at, "sent_at", received_at, v)
    if v:
        raise _invalid(v, prefix)
    event_time = timestamp or received_at
    if timestamp is not None and sent_at is not None:
        # The client's clock may be off; its offset is what separates its send from our receive.
        event_time = min(timestamp + (received_at - sent_at), received_at + MAX_FUTURE)

    stored = ingestion_pb2.StoredEvent(
        message_id=message_id,
        type=event_type,  # type: ignore[arg-type]  # proto enums are ints at run time
        event=event.event if event_type == TRACK else "",
        user_id=event.user_id,
        anonymous_id=event.anonymous_id,
        properties_json=orjson.dumps(properties) if properties else b"",
        traits_json=orjson.dumps(traits) if traits else b"",
        context_json=orjson.dumps(context) if context else b"",
        email_hash=email_hash,
        phone_hash=phone_hash,
    )
    stored.timestamp.FromDatetime(event_time)
    stored.received_at.FromDatetime(received_at)
    if consent is not None:
        # Taken now, before any minimization strips the event of who it is about.
        consent.request_id = message_id
        consent.subject.identifiers.extend(
            identifier_of(key) for _, key in event_identifiers(stored)
        )
        consent.source = source if isinstance(source, str) else "event"
        consent.occurred_at.FromDatetime(min(event_time, received_at))
    return Accepted(stored=stored, event_time=event_time, consent=consent)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _check_traits(traits: dict[str, Any], v: list[Violation]) -> None:
    if len(traits) > MAX_TRAITS:
        v.append(Violation("traits", f"has {len(traits)} traits; at most {MAX_TRAITS} per event"))
        return
    for name, value in traits.items():
        if not name or len(name) > MAX_TRAIT_NAME or not name.isprintable():
            shown = name[:40] + ("…" if len(name) > 40 else "")
            v.append(
                Violation(
                    f"traits.{shown}",
                    f"trait names must be 1-{MAX_TRAIT_NAME} printable characters",
                )
            )
            continue
        if value is None:
            continue  # deletes the trait
        if _depth(value) > MAX_TRAIT_DEPTH:
            v.append(Violation(f"traits.{name}", f"nests deeper than {MAX_TRAIT_DEPTH} levels"))
            continue
        size = len(orjson.dumps(value))
        if size > MAX_TRAIT_VALUE_BYTES:
            v.append(
                Violation(
                    f"traits.{name}",
                    f"is {size} bytes of JSON; at most {MAX_TRAIT_VALUE_BYTES} per trait",
                )
            )


MAX_EXTERNAL_IDS = 20
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _check_context_identifiers(context: dict[str, Any], v: list[Violation]) -> None:
    """Identifiers that travel in the context: `device.id`, and `external_ids`, a list of
    {namespace, id} for ids issued by other platforms (a social open id, a loyalty card)."""
    device = context.get("device")
    if device is not None:
        if not isinstance(device, dict):
            v.append(Violation("context.device", "must be a JSON object"))
        elif "id" in device and device["id"] is not None:
            if not isinstance(device["id"], str) or not device["id"].strip():
                v.append(Violation("context.device.id", "must be a non-empty string"))
            elif len(device["id"]) > MAX_IDENTIFIER_LENGTH:
                v.append(
                    Violation(
                        "context.device.id", f"must be at most {MAX_IDENTIFIER_LENGTH} characters"
                    )
                )
    external = context.get("external_ids")
    if external is None:
        return
    if not isinstance(external, list):
        v.append(Violation("context.external_ids", "must be a list of {namespace, id} objects"))
        return
    if len(external) > MAX_EXTERNAL_IDS:
        v.append(Violation("context.external_ids", f"at most {MAX_EXTERNAL_IDS} ids"))
    for i, item in enumerate(external[:MAX_EXTERNAL_IDS]):
        field = f"context.external_ids[{i}]"
        if not isinstance(item, dict):
            v.append(Violation(field, "must be an object with namespace and id"))
            continue
        namespace, value = item.get("namespace"), item.get("id")
        if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
            v.append(
                Violation(f"{field}.namespace", "must be lowercase letters, digits or _ (1-64)")
            )
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_IDENTIFIER_LENGTH:
            v.append(
                Violation(
                    f"{field}.id",
                    f"must be a non-empty string of at most {MAX_IDENTIFIER_LENGTH} characters",
                )
            )


def _invalid(violations: list[Violation], prefix: str) -> InvalidArgument:
    if prefix:
        violations = [Violation(f"{prefix}.{x.field}", x.description) for x in violations]
    summary = "; ".join(f"{x.field}: {x.description}" for x in violations)
    return InvalidArgument(f"invalid event: {summary}", violations)


def check_batch_limits(request: ingestion_pb2.BatchRequest) -> None:
    if not request.events:
        raise InvalidArgument.field("batch", "must contain at least one event")
    if len(request.events) > MAX_BATCH_EVENTS:
        raise InvalidArgument.field(
            "batch", f"has {len(request.events)} events; the limit is {MAX_BATCH_EVENTS}"
        )
    size = request.ByteSize()
    if size > MAX_BATCH_BYTES:
        raise InvalidArgument.field(
            "batch", f"is {size} bytes; the limit is {MAX_BATCH_BYTES} bytes"
        )
