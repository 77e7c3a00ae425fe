"""The demo's loader against a mocked gateway: batching limits, tallies, waiting for profiles."""

from __future__ import annotations

import json
import threading

import httpx

from precis_client import PrecisClient, TrackEvent
from precis_devstack import cdnow
from precis_devstack.demo import (
    chunk_events,
    send_events,
    wait_for_events_applied,
    wait_for_profiles,
)


def orders(n: int, padding: int = 0) -> list[TrackEvent]:
    return [
        TrackEvent(
            "Order Completed", user_id="u", properties={"pad": "x" * padding}, message_id=str(i)
        )
        for i in range(n)
    ]


def test_batches_respect_both_the_count_and_the_byte_limit() -> None:
    assert [len(b) for b in chunk_events(orders(1201))] == [500, 500, 201]
    big = chunk_events(orders(10, padding=1000), max_bytes=3500)
    assert all(len(json.dumps({"batch": [e.to_json() for e in b]})) < 3600 for b in big)
    assert sum(len(b) for b in big) == 10


def test_send_events_tallies_what_the_gateway_answered() -> None:
    lock = threading.Lock()
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)["batch"]
        results = []
        for i, item in enumerate(batch):
            with lock:
                duplicate = item["message_id"] in seen
                seen.append(item["message_id"])
            status = (
                "rejected"
                if item["message_id"] == "700"
                else ("duplicate" if duplicate else "accepted")
            )
            errors = (
                [{"field": f"batch[{i}].event", "reason": "unknown"}]
                if status == "rejected"
                else []
            )
            results.append(
                {"index": i, "message_id": item["message_id"], "status": status, "errors": errors}
            )
        return httpx.Response(
            200,
            json={
                "results": results,
                "accepted": sum(r["status"] == "accepted" for r in results),
                "duplicates": sum(r["status"] == "duplicate" for r in results),
                "rejected": sum(r["status"] == "rejected" for r in results),
            },
        )

    events = orders(1200) + orders(10)  # the last ten repeat message ids
    with PrecisClient("http://gw", "k", transport=httpx.MockTransport(gateway)) as client:
        report = send_events(client, events, workers=3)
    assert report.events_sent == 1210
    assert report.rejected == 1
    assert report.duplicates == 10
    assert report.accepted == 1199
    assert report.rejections == ["700: batch[200].event: unknown"]
    assert report.failed == 0
    assert report.events_per_second > 0


def test_send_events_gives_up_when_the_gateway_keeps_failing() -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": {"code": "invalid_argument", "message": "no"}})

    with PrecisClient("http://gw", "k", transport=httpx.MockTransport(down)) as client:
        report = send_events(client, orders(5000), workers=1)
    assert report.failed == 5000
    assert report.events_sent == 0
    assert len(calls) == 3
    assert report.failures[0].startswith("400 invalid_argument")


def _profiles_gateway(counts: list[int]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        count = counts.pop(0) if len(counts) > 1 else counts[0]
        return httpx.Response(200, json={"profiles": [], "next_cursor": None, "total_count": count})

    return httpx.MockTransport(answer)


def test_waiting_ends_when_every_customer_has_a_profile() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    transport = _profiles_gateway([0, 100, 20_000, cdnow.CUSTOMERS])
    with PrecisClient("http://gw", "k", transport=transport) as client:
        result = wait_for_profiles(client, cdnow.CUSTOMERS, clock=lambda: now[0], sleep=sleep)
    assert result.caught_up
    assert result.profile_count == cdnow.CUSTOMERS
    assert result.seconds == 3.0


def test_waiting_ends_when_the_count_stops_growing() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    transport = _profiles_gateway([10, 20, 30])
    with PrecisClient("http://gw", "k", transport=transport) as client:
        result = wait_for_profiles(
            client, cdnow.CUSTOMERS, stall_seconds=30, clock=lambda: now[0], sleep=sleep
        )
    assert not result.caught_up
    assert result.profile_count == 30
    assert result.seconds == 32.0  # 30 s after the last growth at t=2


def test_waiting_for_event_counts_survives_a_missed_deadline() -> None:
    now = [0.0]
    answers = [504, 200, 200]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def answer(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        if status != 200:
            error = {"code": "deadline_exceeded", "message": "the profile service did not answer"}
            return httpx.Response(status, json={"error": error})
        profile = {"profile_id": "p1", "event_count": 7}
        return httpx.Response(200, json={"profiles": [profile], "next_cursor": None})

    with PrecisClient(
        "http://gw", "k", transport=httpx.MockTransport(answer), max_retries=0
    ) as client:
        applied = wait_for_events_applied(client, 7, clock=lambda: now[0], sleep=sleep)
    assert applied == 7 and now[0] == 1.0
