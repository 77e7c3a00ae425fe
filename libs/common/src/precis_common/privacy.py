"""Resolving a data subject's identifiers to the values services store, for Privacy RPCs."""

from __future__ import annotations

import re
from collections import defaultdict

import orjson

from precis.common.v1 import types_pb2
from precis.ingestion.v1 import ingestion_pb2
from precis_common.errors import InvalidArgument
from precis_common.identifiers import IdentifierKind, PiiHasher

_HASH = re.compile(r"^[0-9a-f]{64}$")
# A jurisdiction whose consent rules apply: an ISO 3166 country or subdivision code, or "*".
JURISDICTION = re.compile(r"^(\*|[A-Z]{2}(-[A-Z0-9]{1,3})?)$")
# The declared purpose of an access to personal data, as the audit log keeps it: a consent
# purpose name ("marketing_email") or an operational one ("customer_support").
ACCESS_PURPOSE = re.compile(r"^[a-z0-9_]{1,64}$")
# The audit log's resource naming a data-subject request ("data_subject_request:<request id>"):
# reading its bundle is an export of the request's subject's data.
DSR_RESOURCE = "data_subject_request:"

KIND_FROM_PROTO = {
    types_pb2.IDENTIFIER_TYPE_USER_ID: IdentifierKind.USER_ID,
    types_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID: IdentifierKind.ANONYMOUS_ID,
    types_pb2.IDENTIFIER_TYPE_EMAIL: IdentifierKind.EMAIL,
    types_pb2.IDENTIFIER_TYPE_PHONE: IdentifierKind.PHONE,
    types_pb2.IDENTIFIER_TYPE_DEVICE_ID: IdentifierKind.DEVICE_ID,
    types_pb2.IDENTIFIER_TYPE_EXTERNAL: IdentifierKind.EXTERNAL,
}
PROTO_FROM_KIND = {v: k for k, v in KIND_FROM_PROTO.items()}


def identifier_kind(identifier: types_pb2.Identifier, *, field: str) -> IdentifierKind:
    kind = KIND_FROM_PROTO.get(identifier.type)
    if kind is None:
        raise InvalidArgument.field(f"{field}.type", "unknown or unspecified identifier type")
    return kind


def stored_identifier(
    hasher: PiiHasher, workspace_id: str, identifier: types_pb2.Identifier, *, field: str
) -> tuple[IdentifierKind, str]:
    """(kind, stored value) for a requested identifier: email and phone are hashed; a value that
    already is a 64-hex keyed hash is taken as stored (so orchestrators can pass hashes on)."""
    kind = identifier_kind(identifier, field=field)
    value = identifier.value
    if kind.is_personal and _HASH.match(value):
        return kind, value
    if kind is IdentifierKind.EXTERNAL:
        if not identifier.namespace:
            raise InvalidArgument.field(
                f"{field}.namespace", "external identifiers need a namespace"
            )
        return kind, f"{identifier.namespace}:{value}"
    return kind, hasher.stored_value(workspace_id, kind, value, field=f"{field}.value")


def subject_values(
    hasher: PiiHasher, workspace_id: str, identifiers: list[types_pb2.Identifier]
) -> dict[IdentifierKind, set[str]]:
    if not identifiers:
        raise InvalidArgument.field("subject.identifiers", "at least one identifier is required")
    values: dict[IdentifierKind, set[str]] = defaultdict(set)
    for i, identifier in enumerate(identifiers):
        kind, value = stored_identifier(
            hasher, workspace_id, identifier, field=f"subject.identifiers[{i}]"
        )
        values[kind].add(value)
    return values


# ---- stored keys ------------------------------------------------------------------------------
# Services that key rows by identifier store them as (kind, value): kind is user_id,
# anonymous_id, email, phone, device_id or external:<namespace>; email and phone values are
# keyed hashes; an external value is "<namespace>:<id>".

StoredKey = tuple[str, str]


def stored_kind(kind: IdentifierKind, namespace: str) -> str:
    return f"external:{namespace}" if kind is IdentifierKind.EXTERNAL else kind.value


def stored_key(
    hasher: PiiHasher, workspace_id: str, identifier: types_pb2.Identifier, *, field: str
) -> StoredKey:
    """The stored key of an identifier given in a request or a feed (email and phone in clear
    or already hashed)."""
    kind, value = stored_identifier(hasher, workspace_id, identifier, field=field)
    return stored_kind(kind, identifier.namespace), value


def identifier_of(key: StoredKey) -> types_pb2.Identifier:
    """A stored key as an Identifier: the inverse of stored_key (email and phone stay hashed)."""
    kind_text, _, namespace = key[0].partition(":")
    kind = IdentifierKind(kind_text)
    value = key[1]
    if kind is IdentifierKind.EXTERNAL:
        value = value.split(":", 1)[1] if ":" in value else value
    return types_pb2.Identifier(type=PROTO_FROM_KIND[kind], value=value, namespace=namespace)


def event_identifiers(event: ingestion_pb2.StoredEvent) -> list[tuple[str, StoredKey]]:
    """(field, stored key) of every identifier an accepted event carries, in this order:
    user_id, email, phone, anonymous_id, context.device.id, context.external_ids (each
    validated by ingestion)."""
    found: list[tuple[str, StoredKey]] = []
    if event.user_id:
        found.append(("user_id", ("user_id", event.user_id)))
    if event.email_hash:
        found.append(("traits.email", ("email", event.email_hash)))
    if event.phone_hash:
        found.append(("traits.phone", ("phone", event.phone_hash)))
    if event.anonymous_id:
        found.append(("anonymous_id", ("anonymous_id", event.anonymous_id)))
    if event.context_json:
        context = orjson.loads(event.context_json)
        device = context.get("device")
        if isinstance(device, dict) and isinstance(device.get("id"), str):
            found.append(("context.device.id", ("device_id", device["id"])))
        for i, item in enumerate(context.get("external_ids") or ()):
            namespace, value = item["namespace"], item["id"]
            found.append(
                (f"context.external_ids[{i}]", (f"external:{namespace}", f"{namespace}:{value}"))
            )
    return found
