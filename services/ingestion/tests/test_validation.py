"""Event validation: each rule names the field and the reason; PII never survives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from precis.common.v1 import types_pb2
from precis.consent.v1 import consent_pb2 as pb
from precis.ingestion.v1 import ingestion_pb2
from precis_common.errors import InvalidArgument
from precis_common.identifiers import PiiHasher
from precis_ingestion.validation import (
    IDENTIFY,
    MAX_EVENT_BYTES,
    TRACK,
    check_batch_limits,
    validate_event,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HASHER = PiiHasher("a-test-secret-of-enough-length", default_phone_region="CN")


def check(
    event: ingestion_pb2.Event, expected: int | None = None, prefix: str = ""
) -> ingestion_pb2.StoredEvent:
    return validate_event(
        event,
        workspace_id="w",
        hasher=HASHER,
        received_at=NOW,
        expected_type=expected,
        prefix=prefix,
    ).stored


def fields(event: ingestion_pb2.Event, expected: int | None = TRACK) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as err:
        check(event, expected)
    return {v.field: v.description for v in err.value.violations}


def ts(value: datetime) -> ingestion_pb2.Event:
    e = ingestion_pb2.Event(event="Order Completed", user_id="u1")
    e.timestamp.FromDatetime(value)
    return e


def test_identify_replaces_email_and_phone_with_keyed_hashes() -> None:
    stored = check(
        ingestion_pb2.Event(
            user_id="u1",
            traits_json=b'{"email": " Ann@Example.com", "phone": "138 0013 8000", "name": "Ann"}',
        ),
        IDENTIFY,
    )
    assert stored.email_hash == HASHER.hash_email("w", "ann@example.com")
    assert stored.phone_hash == HASHER.hash_phone("w", "+8613800138000")
    assert orjson.loads(stored.traits_json) == {"name": "Ann"}
    assert b"ann@example" not in stored.SerializeToString().lower()
    assert b"13800138000" not in stored.SerializeToString()


def test_large_integers_keep_their_precision() -> None:
    stored = check(
        ingestion_pb2.Event(
            event="x", user_id="u", properties_json=b'{"order_id": 12345678901234567}'
        ),
        TRACK,
    )
    assert orjson.loads(stored.properties_json)["order_id"] == 12345678901234567


def test_missing_fields_are_each_named() -> None:
    assert fields(ingestion_pb2.Event()) == {
        "event": "is required for track events",
        "user_id": "user_id or anonymous_id is required",
    }


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
    ],
)
def test_properties_must_be_a_json_object(raw: bytes, reason: str) -> None:
    got = fields(ingestion_pb2.Event(event="x", user_id="u", properties_json=raw))
    assert got["properties"].startswith(reason)


def test_wrongly_typed_personal_traits_are_refused() -> None:
    got = fields(
        ingestion_pb2.Event(user_id="u", traits_json=b'{"email": 42, "phone": "12"}'), IDENTIFY
    )
    assert set(got) == {"traits.email", "traits.phone"}
    assert got["traits.email"] == "must be a string"


def test_timestamps_in_the_far_future_or_before_1970_are_refused() -> None:
    assert "timestamp" in fields(ts(NOW + timedelta(days=2)))
    assert "timestamp" in fields(ts(datetime(1969, 12, 31, tzinfo=UTC)))


def test_historical_timestamps_are_kept_for_backfills() -> None:
    stored = check(ts(datetime(1997, 1, 1, tzinfo=UTC)), TRACK)
    assert stored.timestamp.ToDatetime(tzinfo=UTC) == datetime(1997, 1, 1, tzinfo=UTC)


def test_client_clock_skew_is_corrected_with_sent_at() -> None:
    event = ts(NOW + timedelta(hours=1, minutes=-5))  # client clock runs one hour fast
    event.sent_at.FromDatetime(NOW + timedelta(hours=1))
    stored = check(event, TRACK)
    assert stored.timestamp.ToDatetime(tzinfo=UTC) == NOW - timedelta(minutes=5)


def test_event_type_must_match_the_call() -> None:
    assert "type" in fields(ingestion_pb2.Event(type=IDENTIFY, event="x", user_id="u"), TRACK)
    assert "type" in fields(ingestion_pb2.Event(event="x", user_id="u"), None)


def test_oversized_events_are_refused_by_size() -> None:
    big = orjson.dumps({"blob": "x" * MAX_EVENT_BYTES})
    got = fields(ingestion_pb2.Event(event="x", user_id="u", properties_json=big))
    assert "32768" in got["event"]


def test_batch_prefix_is_applied_to_field_paths() -> None:
    with pytest.raises(InvalidArgument) as err:
        check(ingestion_pb2.Event(type=TRACK, user_id="u"), None, prefix="batch[3]")
    assert [v.field for v in err.value.violations] == ["batch[3].event"]


def test_batch_limits() -> None:
    with pytest.raises(InvalidArgument):
        check_batch_limits(ingestion_pb2.BatchRequest())
    too_many = ingestion_pb2.BatchRequest(
        events=[ingestion_pb2.Event(type=TRACK, event="x", user_id="u")] * 501
    )
    with pytest.raises(InvalidArgument) as err:
        check_batch_limits(too_many)
    assert err.value.violations[0].field == "batch"
    heavy = ingestion_pb2.BatchRequest(
        events=[
            ingestion_pb2.Event(type=TRACK, event="x", user_id="u", properties_json=b"x" * 30000)
        ]
        * 20
    )
    with pytest.raises(InvalidArgument, match="524288"):
        check_batch_limits(heavy)


def test_context_identifiers_are_checked() -> None:
    ok = check(
        ingestion_pb2.Event(
            event="x",
            user_id="u",
            context_json=orjson.dumps(
                {
                    "device": {"id": "d1"},
                    "external_ids": [{"namespace": "wechat_openid", "id": "o1"}],
                }
            ),
        ),
        TRACK,
    )
    assert orjson.loads(ok.context_json)["external_ids"][0]["id"] == "o1"
    got = fields(
        ingestion_pb2.Event(
            event="x",
            user_id="u",
            context_json=orjson.dumps(
                {"device": {"id": 5}, "external_ids": [{"namespace": "WeChat", "id": ""}, 3]}
            ),
        )
    )
    assert set(got) == {
        "context.device.id",
        "context.external_ids[0].namespace",
        "context.external_ids[0].id",
        "context.external_ids[1]",
    }


def consent_event(consent: object) -> ingestion_pb2.Event:
    return ingestion_pb2.Event(
        event="Consent Updated",
        user_id="u1",
        anonymous_id="a1",
        traits_json=b"",
        context_json=orjson.dumps({"consent": consent, "device": {"id": "d-9"}}),
    )


def test_consent_context_becomes_a_ledger_request_for_the_event_s_subject() -> None:
    accepted = validate_event(
        consent_event(
            {
                "policy_version": "v7",
                "purposes": {"marketing_email": "granted", "analytics": False},
                "legal_basis": "consent",
                "jurisdiction": "DE",
                "channel": "app",
            }
        ),
        workspace_id="w",
        hasher=HASHER,
        received_at=NOW,
        expected_type=TRACK,
    )
    capture = accepted.consent
    assert capture is not None
    assert capture.request_id == accepted.stored.message_id
    assert [(c.purpose, c.status) for c in capture.choices] == [
        (pb.PURPOSE_MARKETING_EMAIL, pb.CONSENT_STATUS_GRANTED),
        (pb.PURPOSE_ANALYTICS, pb.CONSENT_STATUS_DENIED),
    ]
    assert capture.policy_version == "v7" and capture.jurisdiction == "DE"
    assert capture.channel == pb.CAPTURE_CHANNEL_APP and capture.source == "event"
    assert capture.occurred_at.ToDatetime(tzinfo=UTC) == NOW
    assert [(i.type, i.value) for i in capture.subject.identifiers] == [
        (types_pb2.IDENTIFIER_TYPE_USER_ID, "u1"),
        (types_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID, "a1"),
        (types_pb2.IDENTIFIER_TYPE_DEVICE_ID, "d-9"),
    ]
    # Events without a consent context carry none.
    plain = validate_event(
        ingestion_pb2.Event(event="x", user_id="u1"),
        workspace_id="w",
        hasher=HASHER,
        received_at=NOW,
        expected_type=TRACK,
    )
    assert plain.consent is None


@pytest.mark.parametrize(
    ("consent", "field", "reason"),
    [
        ("yes", "context.consent", "must be a JSON object"),
        ({"purposes": {"analytics": "granted"}}, "context.consent.policy_version", "is required"),
        ({"policy_version": "1"}, "context.consent.purposes", "is required"),
        ({"policy_version": "1", "purposes": {}}, "context.consent.purposes", "is required"),
        (
            {"policy_version": "1", "purposes": {"newsletter": "granted"}},
            "context.consent.purposes.newsletter",
            "is not a consent purpose",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": "maybe"}},
            "context.consent.purposes.analytics",
            "must be granted, denied or withdrawn",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": True}, "jurisdiction": "Germany"},
            "context.consent.jurisdiction",
            "ISO 3166",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": True}, "channel": "fax"},
            "context.consent.channel",
            "must be one of",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": True}, "legal_basis": "whim"},
            "context.consent.legal_basis",
            "must be one of",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": True}, "proof_reference": 7},
            "context.consent.proof_reference",
            "at most 512",
        ),
        (
            {"policy_version": "1", "purposes": {"analytics": True}, "purpose": "x"},
            "context.consent.purpose",
            "is not a known field",
        ),
    ],
)
def test_a_bad_consent_context_names_the_field(consent: object, field: str, reason: str) -> None:
    found = fields(consent_event(consent))
    assert field in found and reason in found[field], found
