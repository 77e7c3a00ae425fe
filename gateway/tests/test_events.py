"""POST /v1/track, /v1/identify, /v1/batch through the gateway into the real ingestion service."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, OTHER_KEY, OTHER_WORKSPACE, WORKSPACE, assert_error, stored_events

from precis.ingestion.v1 import ingestion_pb2
from precis_ingestion.app import IngestionApp

ORDER = {
    "event": "Order Completed",
    "user_id": "c-10442",
    "properties": {"order_id": 12345678901234567, "revenue": 259.0, "items": [{"sku": "D-1"}]},
    "context": {"channel": "mini_program"},
    "timestamp": "2026-05-01T12:00:00+08:00",
}


def test_track_is_stored_with_exact_properties(client: TestClient, ingestion: IngestionApp) -> None:
    response = client.post("/v1/track", json={**ORDER, "message_id": "m-1"}, headers=AUTH)

    assert response.status_code == 200, response.text
    assert response.json() == {"message_id": "m-1", "status": "accepted"}
    [(workspace, event)] = stored_events(ingestion)
    assert workspace == WORKSPACE
    assert event.type == ingestion_pb2.EVENT_TYPE_TRACK
    assert event.event == "Order Completed"
    assert event.user_id == "c-10442"
    # JSON bytes end to end: a 17-digit id keeps every digit (Struct would make it a double).
    assert orjson.loads(event.properties_json)["order_id"] == 12345678901234567
    assert orjson.loads(event.context_json) == {"channel": "mini_program"}
    assert event.timestamp.ToJsonString() == "2026-05-01T04:00:00Z"


def test_track_generates_a_message_id_when_absent(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {k: v for k, v in ORDER.items() if k != "message_id"}

    response = client.post("/v1/track", json=body, headers=AUTH)

    assert response.status_code == 200
    message_id = response.json()["message_id"]
    assert uuid.UUID(message_id).version == 4
    assert [e.message_id for _, e in stored_events(ingestion)] == [message_id]


def test_segment_camel_case_aliases_are_accepted(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {
        "type": "track",
        "event": "Product Viewed",
        "messageId": "seg-1",
        "userId": "u-1",
        "anonymousId": "a-1",
        "sentAt": "2026-05-01T12:00:05Z",
        "timestamp": "2026-05-01T12:00:00Z",
        "integrations": {"All": True},
    }

    response = client.post("/v1/track", json=body, headers=AUTH)

    assert response.json() == {"message_id": "seg-1", "status": "accepted"}
    [(_, event)] = stored_events(ingestion)
    assert (event.message_id, event.user_id, event.anonymous_id) == ("seg-1", "u-1", "a-1")


def test_identify_is_stored_without_clear_text_email(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {
        "message_id": "id-1",
        "user_id": "c-1",
        "traits": {"email": "Li.Na@Example.com", "life_stage": "expecting"},
    }

    response = client.post("/v1/identify", json=body, headers=AUTH)

    assert response.json() == {"message_id": "id-1", "status": "accepted"}
    [(_, event)] = stored_events(ingestion)
    assert event.type == ingestion_pb2.EVENT_TYPE_IDENTIFY
    assert orjson.loads(event.traits_json) == {"life_stage": "expecting"}
    assert len(event.email_hash) == 64


def test_same_message_id_twice_is_a_duplicate(client: TestClient, ingestion: IngestionApp) -> None:
    first = client.post("/v1/track", json={**ORDER, "message_id": "dup-1"}, headers=AUTH)
    second = client.post("/v1/track", json={**ORDER, "message_id": "dup-1"}, headers=AUTH)

    assert first.json()["status"] == "accepted"
    assert second.status_code == 200
    assert second.json() == {"message_id": "dup-1", "status": "duplicate"}
    assert len(stored_events(ingestion)) == 1


def test_workspace_comes_from_the_api_key_not_the_body(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {**ORDER, "message_id": "t-1", "workspace_id": WORKSPACE}
    client.post("/v1/track", json=body, headers={"X-API-Key": OTHER_KEY})
    client.post("/v1/track", json=body, headers=AUTH)

    # Same message id in two workspaces: two events, one in each.
    assert sorted(w for w, _ in stored_events(ingestion)) == sorted([OTHER_WORKSPACE, WORKSPACE])


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"user_id": "u"}, ["event"]),
        ({"event": "x"}, ["user_id"]),
        ({"event": 123, "user_id": "u"}, ["event"]),
        ({"event": "x", "user_id": 42}, ["user_id"]),
        ({"event": "x", "user_id": "u", "properties": [1, 2]}, ["properties"]),
        ({"event": "x", "user_id": "u", "context": "web"}, ["context"]),
        ({"event": "x", "user_id": "u", "timestamp": "2026-05-01T12:00:00"}, ["timestamp"]),
        ({"event": "x", "user_id": "u", "timestamp": "yesterday"}, ["timestamp"]),
        ({"event": "x", "user_id": "u", "timestamp": 1714564800}, ["timestamp"]),
        ({"event": "x", "user_id": "u", "sentAt": "2026-05-01"}, ["sent_at"]),
        ({"event": "", "user_id": "u", "message_id": "m" * 129}, ["message_id", "event"]),
    ],
)
def test_invalid_track_is_refused_naming_the_field(
    client: TestClient, ingestion: IngestionApp, body: dict[str, Any], fields: list[str]
) -> None:
    response = client.post("/v1/track", json=body, headers=AUTH)

    assert_error(response, 422, "invalid_argument", *fields)
    assert stored_events(ingestion) == []


def test_naive_timestamp_reason_says_what_is_expected(client: TestClient) -> None:
    body = {"event": "x", "user_id": "u", "timestamp": "2026-05-01T12:00:00"}

    error = assert_error(
        client.post("/v1/track", json=body, headers=AUTH), 422, "invalid_argument", "timestamp"
    )

    assert "timezone" in error["details"][0]["reason"]


@pytest.mark.parametrize(
    "raw", [b"{", b"", b"not json", b'{"event": "x", "user_id": "u",}', b"[1, 2]", b'"text"']
)
def test_malformed_json_is_refused(client: TestClient, ingestion: IngestionApp, raw: bytes) -> None:
    response = client.post(
        "/v1/track", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )

    assert_error(response, 422, "invalid_argument", "body")
    assert stored_events(ingestion) == []


def test_event_over_32_kib_is_refused_by_ingestion_with_its_field(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {"event": "Big", "user_id": "u", "properties": {"blob": "x" * (33 * 1024)}}

    error = assert_error(
        client.post("/v1/track", json=body, headers=AUTH), 422, "invalid_argument", "event"
    )

    assert "32768" in error["details"][0]["reason"]
    assert stored_events(ingestion) == []


def test_error_from_ingestion_carries_the_request_trace_id(client: TestClient) -> None:
    body = {"event": "Big", "user_id": "u", "properties": {"blob": "x" * (33 * 1024)}}
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    response = client.post("/v1/track", json=body, headers={**AUTH, "traceparent": traceparent})

    assert response.json()["error"]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"


def test_batch_stores_valid_events_and_reports_the_rest_by_index(
    client: TestClient, ingestion: IngestionApp
) -> None:
    client.post("/v1/track", json={**ORDER, "message_id": "seen-before"}, headers=AUTH)
    batch = [
        {"type": "track", "event": "A", "user_id": "u", "message_id": "b-0"},
        {"type": "track", "event": "B", "user_id": "u", "timestamp": "2026-05-01T12:00:00"},
        {"type": "identify", "user_id": "u", "traits": {"plan": "gold"}, "message_id": "b-2"},
        # Valid for the gateway, refused by ingestion (over 32 KiB): sent as the 3rd event, so
        # ingestion calls it batch[2]; the response must say batch[3].
        {
            "type": "track",
            "event": "Big",
            "user_id": "u",
            "message_id": "b-3",
            "properties": {"blob": "x" * (33 * 1024)},
        },
        {"type": "page", "user_id": "u"},
        "not an object",
        {"type": "track", "event": "Again", "user_id": "u", "message_id": "seen-before"},
        {"type": "track", "event": "C", "anonymousId": "a", "messageId": "b-7"},
    ]

    response = client.post("/v1/batch", json={"batch": batch}, headers=AUTH)

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "accepted"),
        (3, "rejected"),
        (4, "rejected"),
        (5, "rejected"),
        (6, "duplicate"),
        (7, "accepted"),
    ]
    errors = {r["index"]: [e["field"] for e in r["errors"]] for r in body["results"] if r["errors"]}
    assert errors == {
        1: ["batch[1].timestamp"],
        3: ["batch[3].event"],
        4: ["batch[4].type"],
        5: ["batch[5]"],
    }
    assert body["results"][3]["message_id"] == "b-3"
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 4)
    stored = {e.message_id for _, e in stored_events(ingestion)}
    generated = body["results"][1]["message_id"]
    assert generated not in stored
    assert stored == {"seen-before", "b-0", "b-2", "b-7"}


def test_batch_applies_the_batch_context_and_sent_at(
    client: TestClient, ingestion: IngestionApp
) -> None:
    body = {
        "batch": [{"type": "track", "event": "A", "user_id": "u", "context": {"locale": "zh-CN"}}],
        "context": {"channel": "pos", "locale": "en"},
        "sentAt": "2026-05-01T12:00:05Z",
    }

    assert client.post("/v1/batch", json=body, headers=AUTH).json()["accepted"] == 1

    [(_, event)] = stored_events(ingestion)
    assert orjson.loads(event.context_json) == {"channel": "pos", "locale": "zh-CN"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch": []}, "batch"),
        ({}, "batch"),
        ({"batch": {"type": "track"}}, "batch"),
        ([{"type": "track"}], "body"),
        ({"batch": [{"type": "track", "event": "x", "user_id": "u"}] * 501}, "batch"),
        (
            {"batch": [{"type": "track", "event": "x", "user_id": "u"}], "sent_at": "soon"},
            "sent_at",
        ),
    ],
)
def test_batch_that_is_not_a_batch_is_refused_whole(
    client: TestClient, ingestion: IngestionApp, body: Any, field: str
) -> None:
    response = client.post("/v1/batch", json=body, headers=AUTH)

    assert_error(response, 422, "invalid_argument", field)
    assert stored_events(ingestion) == []


def test_batch_over_512_kib_of_events_is_refused_whole(
    client: TestClient, ingestion: IngestionApp
) -> None:
    events = [
        {"type": "track", "event": "E", "user_id": "u", "properties": {"blob": "x" * 1500}}
        for _ in range(400)
    ]  # about 600 KiB: under the 1 MiB body limit, over ingestion's batch limit

    response = client.post("/v1/batch", json={"batch": events}, headers=AUTH)

    assert_error(response, 422, "invalid_argument", "batch")
    assert stored_events(ingestion) == []


def test_batch_of_500_events_is_accepted(client: TestClient, ingestion: IngestionApp) -> None:
    events = [{"type": "track", "event": "E", "user_id": f"u{i}"} for i in range(500)]

    body = client.post("/v1/batch", json={"batch": events}, headers=AUTH).json()

    assert body["accepted"] == 500
    assert [r["index"] for r in body["results"]] == list(range(500))
    assert len(stored_events(ingestion)) == 500
