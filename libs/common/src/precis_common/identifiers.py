"""Identifier types, normalization, and keyed hashing of personal identifiers.

Email and phone are never stored in clear: they are normalized and replaced by
HMAC-SHA256(workspace_key, "<type>:<normalized>"), where the workspace key is itself
HMAC-SHA256(master secret, workspace id). A per-workspace key means the same address hashes
differently in two brands' workspaces, so hashes cannot be joined across tenants, and a
leaked table cannot be reversed by hashing a list of known addresses without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum
from functools import lru_cache

import phonenumbers

from precis_common.errors import InvalidArgument

MAX_IDENTIFIER_LENGTH = 256


class IdentifierKind(StrEnum):
    """Identifier types as they appear in REST paths and stored rows."""

    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"
    EMAIL = "email"
    PHONE = "phone"
    DEVICE_ID = "device_id"
    EXTERNAL = "external"

    @property
    def is_personal(self) -> bool:
        """Personal identifiers are stored only as keyed hashes."""
        return self in (IdentifierKind.EMAIL, IdentifierKind.PHONE)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def parse_identifier_type(
    raw: str, *, field: str = "identifier_type"
) -> tuple[IdentifierKind, str]:
    """Parse "email" or "external:wechat_openid" into (kind, namespace)."""
    kind_text, _, namespace = raw.partition(":")
    try:
        kind = IdentifierKind(kind_text)
    except ValueError:
        allowed = ", ".join(k.value for k in IdentifierKind if k is not IdentifierKind.EXTERNAL)
        raise InvalidArgument.field(
            field,
            f"unknown identifier type {raw!r}; expected one of {allowed} or external:<namespace>",
        ) from None
    if kind is IdentifierKind.EXTERNAL:
        if not _NAMESPACE.match(namespace):
            raise InvalidArgument.field(
                field, "external identifiers need a namespace: external:<lowercase_name>"
            )
    elif namespace:
        raise InvalidArgument.field(field, f"{kind.value} identifiers take no namespace")
    return kind, namespace


def normalize_email(raw: str, *, field: str = "email") -> str:
    """Trim and lower-case; reject what cannot be an address. Provider-specific rewrites
    (dots in Gmail local parts, +tags) are deliberately not applied: they would merge people
    on a guess."""
    value = raw.strip().lower()
    if not value or len(value) > MAX_IDENTIFIER_LENGTH or not _EMAIL.match(value):
        raise InvalidArgument.field(field, "is not a valid email address")
    return value


def normalize_phone(raw: str, *, default_region: str | None, field: str = "phone") -> str:
    """Parse with libphonenumber and format as E.164 (+8613800138000)."""
    text = raw.strip()
    if not text or len(text) > 64:
        raise InvalidArgument.field(field, "is not a valid phone number")
    region = None if text.startswith("+") else default_region
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidArgument.field(
            field, "is not a valid phone number (use +<country code><number>)"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument.field(field, "is not a valid phone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_plain_identifier(value: str, *, field: str) -> str:
    """user_id, anonymous_id, device_id and external ids: kept as sent, bounded."""
    if not value or not value.strip():
        raise InvalidArgument.field(field, "must not be empty")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidArgument.field(field, f"must be at most {MAX_IDENTIFIER_LENGTH} characters")
    return value


class PiiHasher:
    """Keyed hashing of email and phone with per-workspace keys derived from one master secret."""

    def __init__(self, master_secret: str, *, default_phone_region: str | None = None) -> None:
        self._master = master_secret.encode()
        self._region = default_phone_region
        self._workspace_key = lru_cache(maxsize=4096)(self._derive)

    def _derive(self, workspace_id: str) -> bytes:
        return hmac.new(
            self._master, b"precis/pii/v1/" + workspace_id.encode(), hashlib.sha256
        ).digest()

    def hash_normalized(self, workspace_id: str, kind: IdentifierKind, normalized: str) -> str:
        key = self._workspace_key(workspace_id)
        return hmac.new(key, f"{kind.value}:{normalized}".encode(), hashlib.sha256).hexdigest()

    def suppression_token(self, workspace_id: str, kind: str, stored_value: str) -> str:
        """A keyed hash of an identifier in its stored form (kind as stored: user_id, email,
        external:<ns>...) that differs from every stored value: what a suppression list keeps,
        so that an erased subject's identifiers are recognized when they come back without any
        service keeping a value that matches the erased rows."""
        key = self._workspace_key(workspace_id)
        message = f"suppressed|{kind}|{stored_value}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def hash_email(self, workspace_id: str, raw: str, *, field: str = "email") -> str:
        return self.hash_normalized(
            workspace_id, IdentifierKind.EMAIL, normalize_email(raw, field=field)
        )

    def hash_phone(self, workspace_id: str, raw: str, *, field: str = "phone") -> str:
        normalized = normalize_phone(raw, default_region=self._region, field=field)
        return self.hash_normalized(workspace_id, IdentifierKind.PHONE, normalized)

    def stored_value(self, workspace_id: str, kind: IdentifierKind, raw: str, *, field: str) -> str:
        """The value under which an identifier is stored: a hash for personal kinds."""
        if kind is IdentifierKind.EMAIL:
            return self.hash_email(workspace_id, raw, field=field)
        if kind is IdentifierKind.PHONE:
            return self.hash_phone(workspace_id, raw, field=field)
        return check_plain_identifier(raw, field=field)


def mask_hash(hashed: str) -> str:
    """What responses show for a hashed identifier: enough to tell two apart, nothing more."""
    return f"hmac:{hashed[:12]}…"
