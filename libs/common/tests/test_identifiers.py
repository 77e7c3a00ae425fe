"""Normalization and keyed hashing of personal identifiers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from precis_common.errors import InvalidArgument
from precis_common.identifiers import (
    IdentifierKind,
    PiiHasher,
    normalize_email,
    normalize_phone,
    parse_identifier_type,
)

SECRET = "a-test-secret-of-enough-length"


def test_email_is_trimmed_and_lowercased() -> None:
    assert normalize_email("  Ann.Lee+news@Example.COM ") == "ann.lee+news@example.com"


@pytest.mark.parametrize(
    "bad", ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@@b.com"]
)
def test_invalid_emails_are_refused_with_the_field(bad: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        normalize_email(bad, field="traits.email")
    assert err.value.violations[0].field == "traits.email"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+86 138 0013 8000", None, "+8613800138000"),
        ("138-0013-8000", "CN", "+8613800138000"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415 555 2671", "CN", "+14155552671"),
    ],
)
def test_phone_numbers_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == expected


@pytest.mark.parametrize("bad", ["", "12", "+999 1234", "not a number", "+86 123"])
def test_invalid_phone_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidArgument):
        normalize_phone(bad, default_region="CN")


def test_hash_is_keyed_per_workspace_and_stable() -> None:
    hasher = PiiHasher(SECRET)
    a1 = hasher.hash_email("brand-a", "Ann@Example.com")
    assert a1 == hasher.hash_email("brand-a", "ann@example.com ")
    assert a1 != hasher.hash_email("brand-b", "ann@example.com")
    assert a1 != PiiHasher(SECRET + "x").hash_email("brand-a", "ann@example.com")
    assert len(a1) == 64 and "ann" not in a1


def test_email_and_phone_hashes_live_in_different_domains() -> None:
    hasher = PiiHasher(SECRET)
    assert hasher.hash_normalized("w", IdentifierKind.EMAIL, "x") != hasher.hash_normalized(
        "w", IdentifierKind.PHONE, "x"
    )


@given(st.emails())
def test_normalizing_an_email_twice_changes_nothing(email: str) -> None:
    once = normalize_email(email)
    assert normalize_email(once) == once
    assert normalize_email(email.upper()) == once


def test_identifier_types_parse_and_name_the_field() -> None:
    assert parse_identifier_type("email") == (IdentifierKind.EMAIL, "")
    assert parse_identifier_type("external:wechat_openid") == (
        IdentifierKind.EXTERNAL,
        "wechat_openid",
    )
    for bad in ("fax", "external", "external:Bad Name", "email:x"):
        with pytest.raises(InvalidArgument) as err:
            parse_identifier_type(bad)
        assert err.value.violations[0].field == "identifier_type"
