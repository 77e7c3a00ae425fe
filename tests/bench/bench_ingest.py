"""Identify-heavy ingestion end to end: identify events (user_id, email, phone, anonymous_id,
traits; a quarter of the users first seen anonymously and identified later, which merges two
profiles) posted to /v1/batch by a few concurrent senders. Measures the rate at which the gateway
accepts them and the rate until the profile service has applied all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from precis_client import BatchItemResult, PrecisError
from precis_devstack.demo import wait_for_events_applied
from precis_devstack.suite import Suite

from .harness import latency_summary, poll_until

PLANS = ("free", "plus", "family", "premium")
CITIES = ("Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Chengdu", "Wuhan", "Nanjing")
STAGES = ("expecting", "newborn", "infant", "toddler")


@dataclass(frozen=True, slots=True)
class IdentifyWorkload:
    """The events in the order they are sent, and what the profiles must look like afterwards."""

    events: list[dict[str, Any]]
    user_ids: list[str]
    merged_user_ids: list[str]

    @property
    def expected_profiles(self) -> int:
        return len(self.user_ids)


def identify_workload(total_events: int, *, run_id: str) -> IdentifyWorkload:
    """About ``total_events`` identify events of ``4/7 * total_events`` users, in three waves:

    1. for every 4th user, an anonymous visit (an identify with only an anonymous id and a
       landing-page trait), which becomes a profile of its own;
    2. every user identified: user_id, email, phone, their device's anonymous id, four traits;
    3. the anonymous visitors of wave 1 identified (user_id + that anonymous id: the two
       profiles merge), and for another quarter of the users a trait update by user_id.

    Waves are sent in order, so the merges come after both sides exist.
    """
    users = max(4, round(total_events * 4 / 7))
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    third: list[dict[str, Any]] = []
    user_ids: list[str] = []
    merged: list[str] = []
    for i in range(users):
        user = f"{run_id}-u{i:06d}"
        user_ids.append(user)
        second.append(
            {
                "type": "identify",
                "message_id": f"{user}-identify",
                "user_id": user,
                "anonymous_id": f"{run_id}-device-{i:06d}",
                "traits": {
                    "email": f"customer{i}.{run_id}@example.com",
                    # A valid mainland mobile number in E.164 (hashed by ingestion).
                    "phone": f"+86{138 + i % 2}{i % 100_000_000:08d}",
                    "name": f"Customer {i}",
                    "plan": PLANS[i % len(PLANS)],
                    "city": CITIES[i % len(CITIES)],
                    "stage": STAGES[i % len(STAGES)],
                },
            }
        )
        if i % 4 == 0:
            visitor = f"{run_id}-visitor-{i:06d}"
            first.append(
                {
                    "type": "identify",
                    "message_id": f"{user}-visit",
                    "anonymous_id": visitor,
                    "traits": {"landing_page": f"/campaign/{i % 13}"},
                }
            )
            third.append(
                {
                    "type": "identify",
                    "message_id": f"{user}-login",
                    "user_id": user,
                    "anonymous_id": visitor,
                    "traits": {"plan": "premium"},
                }
            )
            merged.append(user)
        elif i % 4 == 1:
            third.append(
                {
                    "type": "identify",
                    "message_id": f"{user}-update",
                    "user_id": user,
                    "traits": {"city": CITIES[(i + 3) % len(CITIES)], "newsletter": True},
                }
            )
    return IdentifyWorkload(first + second + third, user_ids, merged)


def run_ingest(
    suite: Suite,
    workload: IdentifyWorkload,
    *,
    batch_size: int = 500,
    senders: int = 3,
    poll_interval: float = 0.05,
    apply_timeout: float = 600.0,
) -> dict[str, Any]:
    """Posts the workload and waits until the profile service has applied it.

    "Applied" is decided without scanning every profile: once every batch is acknowledged, one
    more identify (a sentinel) is sent; the profile service applies the events feed in order,
    one transaction per feed batch, so when the sentinel's profile exists every earlier event
    has been applied. The demo's ``wait_for_events_applied`` (event counts summed over all
    profiles) then confirms it, outside the timed span.
    """
    events = workload.events
    batches = [events[i : i + batch_size] for i in range(0, len(events), batch_size)]
    sentinel = f"{events[0]['message_id']}-sentinel"
    batch_seconds: list[float] = []
    tallies = {"accepted": 0, "duplicate": 0, "rejected": 0}
    rejections: list[str] = []
    lock = threading.Lock()

    with suite.client(timeout=120.0) as client:

        def send(batch: list[dict[str, Any]]) -> None:
            began = time.perf_counter()
            result = client.batch(batch)
            elapsed = time.perf_counter() - began
            with lock:
                batch_seconds.append(elapsed)
                tally(result.results)

        def tally(items: Sequence[BatchItemResult]) -> None:
            for item in items:
                tallies[item.status] = tallies.get(item.status, 0) + 1
                if item.status == "rejected" and len(rejections) < 5:
                    rejections.append(f"{item.message_id}: {item.errors}")

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="bench-sender") as pool:
            # Submitted in order, taken in order: the waves reach ingestion in sequence.
            for future in [pool.submit(send, batch) for batch in batches]:
                future.result()
        accepted_at = time.perf_counter()
        client.identify(user_id=sentinel, message_id=sentinel)

        def sentinel_applied() -> bool:
            try:
                client.get_profile("user_id", sentinel)
            except PrecisError as exc:
                if exc.status != 404:
                    raise
                return False
            return True

        applied_at = poll_until(
            sentinel_applied, interval=poll_interval, timeout=apply_timeout, stop=None
        )
        if applied_at is None:
            raise RuntimeError(f"the profile service did not apply the events in {apply_timeout}s")

        stored = tallies["accepted"] + 1  # the sentinel
        events_applied = wait_for_events_applied(client, stored, stall_seconds=30.0)
        profiles = client.list_profiles(page_size=1).total_count - 1  # less the sentinel
        merged_seen = sum(
            1
            for user in workload.merged_user_ids[:20]
            if len(client.get_profile("user_id", user).merged_profile_ids) > 0
        )

    accept_seconds = accepted_at - started
    applied_seconds = applied_at - started
    return {
        "events": len(events),
        "users": len(workload.user_ids),
        "merges_expected": len(workload.merged_user_ids),
        "batch_size": batch_size,
        "batches": len(batches),
        "senders": senders,
        "accepted": tallies["accepted"],
        "duplicates": tallies["duplicate"],
        "rejected": tallies["rejected"],
        "rejections": rejections,
        "accept_seconds": round(accept_seconds, 3),
        "accepted_events_per_second": round(len(events) / accept_seconds, 1),
        "applied_seconds": round(applied_seconds, 3),
        "applied_events_per_second": round(len(events) / applied_seconds, 1),
        "profile_lag_after_last_ack_seconds": round(applied_at - accepted_at, 3),
        "batch_request_latency": latency_summary(batch_seconds),
        "check": {
            "events_applied": events_applied - 1,
            "profiles": profiles,
            "profiles_expected": workload.expected_profiles,
            "merged_profiles_seen_of_first_20": merged_seen,
        },
    }
