"""The SDK against a mocked gateway: request shapes, response parsing, errors and retries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from precis_client import (
    ErrorDetail,
    IdentifyEvent,
    PrecisClient,
    PrecisError,
    TrackEvent,
)

BASE = "http://gateway.test"
KEY = "pk_test_123"

PROFILE = {
    "profile_id": "prof_1",
    "identifiers": [
        {
            "type": "user_id",
            "value": "cdnow-00001",
            "source_message_id": "m1",
            "linked_at": "1997-01-01T00:00:00Z",
        }
    ],
    "traits": {"source": "cdnow"},
    "computed_traits": {"orders": 1, "revenue": 11.77},
    "event_count": 2,
    "event_counts": {"Order Completed": 1, "identify": 1},
    "first_seen": "1997-01-01T00:00:00Z",
    "last_seen": None,
    "tags": [],
    "merged_profile_ids": [],
}


class Recorder:
    """A MockTransport that answers from a script and keeps every request it saw."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def error_response(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", None)
    body = {"error": {"code": code, "message": message, "details": [], "trace_id": None, **extra}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Callable[[Recorder], PrecisClient]:
    def make(recorder: Recorder) -> PrecisClient:
        return PrecisClient(BASE, KEY, transport=httpx.MockTransport(recorder), sleep=sleeps.append)

    return make


def test_track_sends_the_documented_body_and_auth_header(make_client: Any) -> None:
    rec = Recorder(httpx.Response(200, json={"message_id": "m-1", "status": "accepted"}))
    with make_client(rec) as client:
        result = client.track(
            "Order Completed",
            user_id="u1",
            properties={"revenue": 11.77, "order_id": 12345678901234567},
            context={"channel": "web"},
            timestamp=datetime(1997, 1, 1, tzinfo=UTC),
            message_id="m-1",
        )
    request = rec.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/v1/track"
    assert request.headers["X-API-Key"] == KEY
    assert request.headers["Content-Type"] == "application/json"
    assert rec.body() == {
        "message_id": "m-1",
        "user_id": "u1",
        "event": "Order Completed",
        "properties": {"revenue": 11.77, "order_id": 12345678901234567},
        "context": {"channel": "web"},
        "timestamp": "1997-01-01T00:00:00Z",
    }
    assert result.message_id == "m-1"
    assert result.status == "accepted"


def test_identify_omits_fields_not_given_and_keeps_offsets(make_client: Any) -> None:
    rec = Recorder(httpx.Response(200, json={"message_id": "srv-9", "status": "duplicate"}))
    shanghai = timezone(timedelta(hours=8))
    with make_client(rec) as client:
        result = client.identify(
            anonymous_id="a1",
            traits={"email": "x@example.com"},
            sent_at=datetime(2024, 5, 1, 9, 30, tzinfo=shanghai),
        )
    assert str(rec.requests[0].url) == f"{BASE}/v1/identify"
    assert rec.body() == {
        "anonymous_id": "a1",
        "traits": {"email": "x@example.com"},
        "sent_at": "2024-05-01T09:30:00+08:00",
    }
    assert result.status == "duplicate"
    assert result.message_id == "srv-9"


def test_naive_timestamps_are_refused_before_sending(make_client: Any) -> None:
    rec = Recorder()
    with make_client(rec) as client, pytest.raises(ValueError, match="timezone"):
        client.track("x", user_id="u", timestamp=datetime(2024, 1, 1))
    assert rec.requests == []


def test_batch_tags_each_event_with_its_type_and_parses_every_result(make_client: Any) -> None:
    answer = {
        "results": [
            {"index": 0, "message_id": "i-1", "status": "accepted", "errors": []},
            {"index": 1, "message_id": "t-1", "status": "duplicate", "errors": []},
            {
                "index": 2,
                "message_id": "t-2",
                "status": "rejected",
                "errors": [{"field": "batch[2].event", "reason": "must not be empty"}],
            },
        ],
        "accepted": 1,
        "duplicates": 1,
        "rejected": 1,
    }
    rec = Recorder(httpx.Response(200, json=answer))
    with make_client(rec) as client:
        result = client.batch(
            [
                IdentifyEvent(user_id="u1", traits={"a": 1}, message_id="i-1"),
                TrackEvent(event="Viewed", user_id="u1", message_id="t-1"),
                {"type": "track", "event": "", "user_id": "u1", "message_id": "t-2"},
            ]
        )
    assert str(rec.requests[0].url) == f"{BASE}/v1/batch"
    assert rec.body() == {
        "batch": [
            {"type": "identify", "message_id": "i-1", "user_id": "u1", "traits": {"a": 1}},
            {"type": "track", "message_id": "t-1", "user_id": "u1", "event": "Viewed"},
            {"type": "track", "event": "", "user_id": "u1", "message_id": "t-2"},
        ]
    }
    assert (result.accepted, result.duplicates, result.rejected) == (1, 1, 1)
    assert [r.status for r in result.results] == ["accepted", "duplicate", "rejected"]
    assert result.results[2].errors == (ErrorDetail("batch[2].event", "must not be empty"),)


def test_get_profile_escapes_the_value_and_parses_the_profile(make_client: Any) -> None:
    rec = Recorder(httpx.Response(200, json=PROFILE))
    with make_client(rec) as client:
        profile = client.get_profile("external:wechat", "a/b+c@d")
    assert rec.requests[0].method == "GET"
    assert rec.requests[0].url.raw_path == b"/v1/profiles/external:wechat/a%2Fb%2Bc%40d"
    assert profile.profile_id == "prof_1"
    assert profile.identifiers[0].type == "user_id"
    assert profile.identifiers[0].value == "cdnow-00001"
    assert profile.event_counts == {"Order Completed": 1, "identify": 1}
    assert profile.first_seen == "1997-01-01T00:00:00Z"
    assert profile.last_seen is None
    assert profile.raw == PROFILE


def test_not_found_is_a_precis_error_with_the_gateway_fields(make_client: Any) -> None:
    rec = Recorder(
        error_response(
            404,
            "not_found",
            "no profile has user_id=nobody",
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        )
    )
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.get_profile("user_id", "nobody")
    err = caught.value
    assert err.status == 404
    assert err.code == "not_found"
    assert err.message == "no profile has user_id=nobody"
    assert err.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert len(rec.requests) == 1  # a 404 is an answer, not a failure to retry


def test_validation_errors_carry_field_details(make_client: Any) -> None:
    body = {
        "error": {
            "code": "invalid_argument",
            "message": "invalid request",
            "details": [
                {"field": "timestamp", "reason": "must be an RFC 3339 time"},
                {"field": "event", "reason": "required"},
            ],
            "trace_id": None,
        }
    }
    rec = Recorder(httpx.Response(422, json=body))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.track("", user_id="u", timestamp="yesterday", message_id="m")
    assert caught.value.status == 422
    assert caught.value.code == "invalid_argument"
    assert caught.value.details == (
        ErrorDetail("timestamp", "must be an RFC 3339 time"),
        ErrorDetail("event", "required"),
    )
    assert "timestamp: must be an RFC 3339 time" in str(caught.value)
    assert len(rec.requests) == 1


def test_a_body_without_the_error_shape_still_gives_a_code(make_client: Any) -> None:
    rec = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.list_profiles()
    assert caught.value.status == 502
    assert caught.value.code == "bad_gateway"
    assert "Bad Gateway" in caught.value.message


def test_reads_are_retried_on_503_honouring_retry_after(
    make_client: Any, sleeps: list[float]
) -> None:
    rec = Recorder(
        error_response(503, "unavailable", "profile is down", headers={"Retry-After": "1"}),
        error_response(504, "deadline_exceeded", "slow"),
        httpx.Response(200, json=PROFILE),
    )
    with make_client(rec) as client:
        profile = client.get_profile("user_id", "cdnow-00001")
    assert profile.profile_id == "prof_1"
    assert len(rec.requests) == 3
    assert sleeps[0] == 1.0
    assert 0 < sleeps[1] <= 0.5  # exponential backoff after the first retry


def test_writes_with_a_message_id_are_retried_after_a_lost_connection(
    make_client: Any, sleeps: list[float]
) -> None:
    rec = Recorder(
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.Response(200, json={"message_id": "m-1", "status": "duplicate"}),
    )
    with make_client(rec) as client:
        result = client.track("Viewed", user_id="u", message_id="m-1")
    assert result.status == "duplicate"
    assert len(rec.requests) == 3
    assert rec.body(0) == rec.body(2)  # the very same event, so dedupe makes it safe
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "failure",
    [error_response(503, "unavailable", "down"), httpx.ConnectError("refused")],
    ids=["503", "connection"],
)
def test_writes_without_a_message_id_are_never_retried(
    make_client: Any, failure: httpx.Response | Exception
) -> None:
    rec = Recorder(failure, httpx.Response(200, json={"message_id": "m", "status": "accepted"}))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.track("Viewed", user_id="u")
    assert len(rec.requests) == 1
    assert caught.value.code in ("unavailable", "connection_error")


def test_a_batch_is_retried_only_when_every_event_has_a_message_id(make_client: Any) -> None:
    ok = {"results": [], "accepted": 0, "duplicates": 0, "rejected": 0}
    rec = Recorder(error_response(503, "unavailable", "down"), httpx.Response(200, json=ok))
    with make_client(rec) as client, pytest.raises(PrecisError):
        client.batch([TrackEvent("A", user_id="u", message_id="1"), TrackEvent("B", user_id="u")])
    assert len(rec.requests) == 1

    rec = Recorder(error_response(503, "unavailable", "down"), httpx.Response(200, json=ok))
    with make_client(rec) as client:
        client.batch([TrackEvent("A", user_id="u", message_id="1")])
    assert len(rec.requests) == 2


def test_retries_stop_after_max_retries_with_the_last_error(sleeps: list[float]) -> None:
    rec = Recorder(*[error_response(503, "unavailable", f"down {i}") for i in range(3)])
    client = PrecisClient(
        BASE, KEY, transport=httpx.MockTransport(rec), max_retries=2, sleep=sleeps.append
    )
    with client, pytest.raises(PrecisError) as caught:
        client.list_profiles()
    assert len(rec.requests) == 3
    assert caught.value.message == "down 2"
    assert caught.value.code == "unavailable"


def test_connection_failure_after_retries_is_a_precis_error(sleeps: list[float]) -> None:
    rec = Recorder(*[httpx.ConnectError("refused") for _ in range(2)])
    client = PrecisClient(
        BASE, KEY, transport=httpx.MockTransport(rec), max_retries=1, sleep=sleeps.append
    )
    with client, pytest.raises(PrecisError) as caught:
        client.list_profiles()
    assert caught.value.status is None
    assert caught.value.code == "connection_error"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_list_and_iter_profiles_follow_the_cursor(make_client: Any) -> None:
    second = dict(PROFILE, profile_id="prof_2")
    rec = Recorder(
        httpx.Response(200, json={"profiles": [PROFILE], "next_cursor": "c1", "total_count": 2}),
        httpx.Response(200, json={"profiles": [second], "next_cursor": None, "total_count": 2}),
    )
    with make_client(rec) as client:
        ids = [p.profile_id for p in client.iter_profiles(page_size=1)]
    assert ids == ["prof_1", "prof_2"]
    assert rec.requests[0].url.params == httpx.QueryParams({"page_size": "1"})
    assert rec.requests[1].url.params == httpx.QueryParams({"page_size": "1", "cursor": "c1"})


def test_list_profiles_reports_the_total(make_client: Any) -> None:
    rec = Recorder(
        httpx.Response(200, json={"profiles": [], "next_cursor": None, "total_count": 23570})
    )
    with make_client(rec) as client:
        page = client.list_profiles(page_size=1)
    assert page.total_count == 23570
    assert page.profiles == ()
    assert page.next_cursor is None


def test_a_withheld_count_stays_none_rather_than_zero(make_client: Any) -> None:
    withheld = {"profiles": [], "next_cursor": None, "total_count": None}
    untagged = {"profiles_untagged": None, "suppressed_counts": ["profiles_untagged"]}
    rec = Recorder(
        httpx.Response(200, json={**withheld, "suppressed_counts": ["total_count"]}),
        httpx.Response(200, json=untagged),
        httpx.Response(200, json={"profiles_untagged": 0, "suppressed_counts": []}),
    )
    with make_client(rec) as client:
        assert client.list_profiles().total_count is None
        assert client.delete_tag_definition("vip") is None
        assert client.delete_tag_definition("vip") == 0


def test_probes_report_readiness_without_raising_or_retrying(make_client: Any) -> None:
    rec = Recorder(
        httpx.Response(200, json={"status": "ok"}),
        httpx.Response(
            503,
            json={"status": "unavailable", "services": {"profile": "NOT_SERVING"}},
            headers={"Retry-After": "5"},
        ),
    )
    with make_client(rec) as client:
        health = client.healthz()
        ready = client.readyz()
    assert health.ok
    assert health.body == {"status": "ok"}
    assert not ready.ok
    assert ready.http_status == 503
    assert [str(r.url) for r in rec.requests] == [f"{BASE}/healthz", f"{BASE}/readyz"]


def test_unauthenticated_is_not_retried(make_client: Any) -> None:
    rec = Recorder(error_response(401, "unauthenticated", "unknown API key"))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.get_profile("user_id", "u")
    assert caught.value.status == 401
    assert caught.value.code == "unauthenticated"
    assert len(rec.requests) == 1


def test_a_success_body_that_is_not_json_is_reported(make_client: Any) -> None:
    rec = Recorder(httpx.Response(200, text="OK"))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.track("A", user_id="u")
    assert caught.value.code == "invalid_response"


def test_record_consent_sends_the_documented_body(make_client: Any) -> None:
    answer = {"entries": [{"entry_id": "e1", "purpose": "marketing_email"}], "states": []}
    rec = Recorder(error_response(503, "unavailable", "down"), httpx.Response(200, json=answer))
    with make_client(rec) as client:
        result = client.record_consent(
            {"user_id": "c-1", "email": "li.na@example.com"},
            {"marketing_email": "granted", "marketing_sms": "denied"},
            policy_version="2026-05",
            source="signup_form_v3",
            request_id="signup-1",
            channel="mini_program",
            occurred_at=datetime(2026, 5, 1, 12, tzinfo=timezone(timedelta(hours=8))),
        )
    assert result == answer
    assert len(rec.requests) == 2  # retried: the request_id makes a repeat harmless
    assert str(rec.requests[-1].url) == f"{BASE}/v1/consent"
    assert rec.body() == {
        "subject": {"user_id": "c-1", "email": "li.na@example.com"},
        "choices": [
            {"purpose": "marketing_email", "status": "granted"},
            {"purpose": "marketing_sms", "status": "denied"},
        ],
        "policy_version": "2026-05",
        "source": "signup_form_v3",
        "request_id": "signup-1",
        "channel": "mini_program",
        "occurred_at": "2026-05-01T12:00:00+08:00",
    }


def test_record_consent_without_a_request_id_is_not_retried(make_client: Any) -> None:
    rec = Recorder(error_response(503, "unavailable", "down"))
    with make_client(rec) as client, pytest.raises(PrecisError):
        client.record_consent(
            {"user_id": "c-1"},
            [{"purpose": "analytics", "status": "denied"}],
            policy_version="1",
            source="s",
        )
    assert len(rec.requests) == 1


def test_check_consent_and_consent_state(make_client: Any) -> None:
    decisions = {"decisions": [{"purpose": "analytics", "allowed": True}], "profile_id": None}
    state = {"states": [], "jurisdiction": "CN", "is_minor": False, "suppressed": False}
    rec = Recorder(httpx.Response(200, json=decisions), httpx.Response(200, json=state))
    with make_client(rec) as client:
        assert client.check_consent({"email": "a@b.cn"}, ["analytics"], jurisdiction="CN") == (
            decisions
        )
        assert client.consent_state("email", "a/b+c@d") == state
    assert rec.body(0) == {
        "subject": {"email": "a@b.cn"},
        "purposes": ["analytics"],
        "jurisdiction": "CN",
    }
    assert rec.requests[0].url.raw_path == b"/v1/consent/check"
    assert rec.requests[1].method == "GET"
    assert rec.requests[1].url.raw_path == b"/v1/consent/email/a%2Fb%2Bc%40d"


def privacy_request(state: str, **extra: Any) -> dict[str, Any]:
    return {"request_id": "era-1", "kind": "erasure", "state": state, "tasks": [], **extra}


def test_request_erasure_names_the_request_so_a_retry_opens_no_second_one(
    make_client: Any,
) -> None:
    rec = Recorder(
        httpx.ConnectError("connection reset"),
        httpx.Response(202, json=privacy_request("pending")),
    )
    with make_client(rec) as client:
        opened = client.request_erasure({"email": "li.na@example.com"}, note="ticket 8812")
    assert opened["state"] == "pending"
    assert len(rec.requests) == 2
    assert str(rec.requests[-1].url) == f"{BASE}/v1/privacy/erasures"
    first, second = rec.body(0), rec.body(1)
    assert first == second  # the same request_id both times
    assert set(first) == {"request_id", "subject", "note"}
    assert len(first["request_id"]) == 36
    assert first["subject"] == {"email": "li.na@example.com"}
    assert first["note"] == "ticket 8812"


def test_request_export_with_a_request_id(make_client: Any) -> None:
    rec = Recorder(httpx.Response(202, json=privacy_request("pending", kind="export")))
    with make_client(rec) as client:
        assert client.request_export({"user_id": "c-1"}, request_id="exp-1")["kind"] == "export"
    assert rec.requests[0].url.raw_path == b"/v1/privacy/exports"
    assert rec.body() == {"request_id": "exp-1", "subject": {"user_id": "c-1"}}


def test_privacy_request_escapes_the_id_and_asks_for_the_bundle(make_client: Any) -> None:
    done = privacy_request("completed", bundle={"ingestion": {"events": []}})
    rec = Recorder(httpx.Response(200, json=done), httpx.Response(200, json=done))
    with make_client(rec) as client:
        assert client.privacy_request("a/b c", include_bundle=True) == done
        client.privacy_request("era-1")
    assert rec.requests[0].url.raw_path == b"/v1/privacy/requests/a%2Fb%20c?include_bundle=true"
    assert rec.requests[1].url.raw_path == b"/v1/privacy/requests/era-1"


def test_wait_for_privacy_request_polls_until_completed(
    make_client: Any, sleeps: list[float]
) -> None:
    failing = {"service": "ingestion", "state": "needs_attention", "last_error": "UNAVAILABLE"}
    rec = Recorder(
        httpx.Response(200, json=privacy_request("pending")),
        httpx.Response(200, json=privacy_request("needs_attention", tasks=[failing])),
        httpx.Response(200, json=privacy_request("completed")),
    )
    with make_client(rec) as client:
        done = client.wait_for_privacy_request("era-1", timeout=60, poll_interval=0.25)
    assert done["state"] == "completed"
    assert len(rec.requests) == 3
    assert sleeps == [0.25, 0.25]


def test_wait_for_privacy_request_times_out_naming_the_failing_service(
    make_client: Any,
) -> None:
    failing = {"service": "profile", "state": "in_progress", "last_error": "UNAVAILABLE: down"}
    rec = Recorder(httpx.Response(200, json=privacy_request("in_progress", tasks=[failing])))
    with make_client(rec) as client, pytest.raises(TimeoutError) as timed_out:
        client.wait_for_privacy_request("era-1", timeout=0)
    assert "in_progress" in str(timed_out.value)
    assert "profile" in str(timed_out.value) and "UNAVAILABLE: down" in str(timed_out.value)


def test_unknown_privacy_request_is_not_found(make_client: Any) -> None:
    rec = Recorder(error_response(404, "not_found", "no data-subject request 'x'"))
    with make_client(rec) as client, pytest.raises(PrecisError) as caught:
        client.wait_for_privacy_request("x")
    assert caught.value.code == "not_found"
    assert len(rec.requests) == 1
