"""Identifier types between REST paths and the proto enum, and profiles from proto to JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from google.protobuf.timestamp_pb2 import Timestamp

from precis.common.v1 import types_pb2
from precis.profile.v1 import profile_pb2
from precis_common.errors import InvalidArgument
from precis_common.identifiers import IdentifierKind, parse_identifier_type
from precis_gateway.errors import ApiError
from precis_gateway.models import Identifier, Profile, TraitDetail

_KIND_TO_PROTO = {
    IdentifierKind.USER_ID: types_pb2.IDENTIFIER_TYPE_USER_ID,
    IdentifierKind.ANONYMOUS_ID: types_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID,
    IdentifierKind.EMAIL: types_pb2.IDENTIFIER_TYPE_EMAIL,
    IdentifierKind.PHONE: types_pb2.IDENTIFIER_TYPE_PHONE,
    IdentifierKind.DEVICE_ID: types_pb2.IDENTIFIER_TYPE_DEVICE_ID,
    IdentifierKind.EXTERNAL: types_pb2.IDENTIFIER_TYPE_EXTERNAL,
}
_PROTO_TO_KIND = {v: k for k, v in _KIND_TO_PROTO.items()}


def identifier_from_path(identifier_type: str, value: str) -> types_pb2.Identifier:
    """`email` + value, or `external:wechat_openid` + value; 422 naming the field otherwise."""
    try:
        kind, namespace = parse_identifier_type(identifier_type, field="identifier_type")
    except InvalidArgument as exc:
        raise ApiError.from_domain(exc) from None
    return types_pb2.Identifier(type=_KIND_TO_PROTO[kind], value=value, namespace=namespace)


def identifier_type_to_proto(name: str) -> types_pb2.IdentifierType:
    return _KIND_TO_PROTO[IdentifierKind(name)]


def identifier_type_name(value: int) -> str:
    kind = _PROTO_TO_KIND.get(value)  # type: ignore[call-overload]
    return kind.value if kind is not None else "unspecified"


def _type_name(identifier: types_pb2.Identifier) -> str:
    kind = _PROTO_TO_KIND.get(identifier.type)
    if kind is None:
        return "unspecified"
    if kind is IdentifierKind.EXTERNAL:
        return f"external:{identifier.namespace}"
    return kind.value


def _time(message: Any, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    ts: Timestamp = getattr(message, name)
    return ts.ToDatetime(tzinfo=UTC)


def _object(raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    value = orjson.loads(raw)
    return value if isinstance(value, dict) else {}


def profile_view(profile: profile_pb2.Profile) -> Profile:
    return Profile(
        profile_id=profile.profile_id,
        identifiers=[
            Identifier(
                type=_type_name(link.identifier),
                value=link.identifier.value,
                source_message_id=link.source_message_id or None,
                linked_at=_time(link, "linked_at"),
            )
            for link in profile.identifiers
        ],
        traits=_object(profile.traits_json),
        computed_traits=_object(profile.computed_traits_json),
        event_count=profile.event_count,
        event_counts=dict(profile.event_counts),
        first_seen=_time(profile, "first_seen"),
        last_seen=_time(profile, "last_seen"),
        tags=list(profile.tags),
        merged_profile_ids=list(profile.merged_profile_ids),
        trait_details=[
            TraitDetail(
                name=t.name,
                value=orjson.loads(t.value_json) if t.value_json else None,
                type=t.type,  # type: ignore[arg-type]  # the profile service's names
                updated_at=_time(t, "updated_at"),
                source=t.source or None,
                source_message_id=t.source_message_id or None,
            )
            for t in profile.trait_values
        ],
    )
