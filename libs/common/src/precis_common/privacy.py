"""Resolving a data subject's identifiers to the values services store, for Privacy RPCs."""

from __future__ import annotations

import re
from collections import defaultdict

from precis.common.v1 import types_pb2
from precis_common.errors import InvalidArgument
from precis_common.identifiers import IdentifierKind, PiiHasher

_HASH = re.compile(r"^[0-9a-f]{64}$")

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
