"""Freshness: how long after the gateway accepts an event the profile read through the gateway
shows it. Single /v1/track events are sent at a steady rate, each to a different existing
profile, and each profile is polled until its event count for the event name has gone up."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from precis_devstack.suite import Suite

from .harness import gateway_http, latency_summary, run_open_loop

EVENT = "Freshness Probe"


@dataclass(frozen=True, slots=True)
class Sent:
    index: int
    user_id: str
    sent_at: float
    accepted_at: float


@dataclass(frozen=True, slots=True)
class Probe:
    sent: Sent
    seen_at: float | None
    polls: int


def run_freshness(
    suite: Suite,
    user_ids: Sequence[str],
    *,
    rate: float = 20.0,
    duration: float = 30.0,
    poll_interval: float = 0.005,
    timeout: float = 30.0,
    run_id: str = "bench",
) -> dict[str, Any]:
    """Open-loop sending: event ``i`` goes out at ``start + i / rate`` to ``user_ids[i]``
    (existing profiles, each probed once), whatever the earlier ones are doing.

    One poller follows the accepted events in order: it reads the oldest one's profile every
    ``poll_interval`` seconds until the event shows, then moves straight on to the next. So the
    profile service gets at most one read at a time from the probe (one thread polling every
    event every 5 ms would, once a few are in flight, load it enough to slow what it measures).
    The time seen is when the first answer showing the event arrived: an upper bound, by up to
    one poll interval and round trip, and by the reads of earlier events still pending.
    """
    count = max(1, round(rate * duration))
    if count > len(user_ids):
        raise ValueError(f"{count} probes need as many profiles, only {len(user_ids)} given")
    accepted: queue.Queue[Sent | None] = queue.Queue()
    probes: list[Probe] = []

    with gateway_http(suite) as http:

        def shows_event(user: str) -> bool:
            profile = http.get(f"/v1/profiles/user_id/{user}")
            if profile.status_code == 404:
                return False
            profile.raise_for_status()
            return int(profile.json().get("event_counts", {}).get(EVENT, 0)) >= 1

        def follow() -> None:
            while (sent := accepted.get()) is not None:
                deadline = sent.accepted_at + timeout
                polls, seen_at = 0, None
                while True:
                    polls += 1
                    if shows_event(sent.user_id):
                        seen_at = time.perf_counter()
                        break
                    if time.perf_counter() > deadline:
                        break
                    time.sleep(poll_interval)
                probes.append(Probe(sent, seen_at, polls))

        def send(i: int, _scheduled_at: float) -> Sent:
            user = user_ids[i]
            sent_at = time.perf_counter()
            response = http.post(
                "/v1/track",
                json={
                    "event": EVENT,
                    "user_id": user,
                    "message_id": f"{run_id}-freshness-{i}",
                    "properties": {"probe": i},
                },
            )
            if response.status_code != 200:
                raise RuntimeError(f"track answered {response.status_code}: {response.text}")
            sent = Sent(i, user, sent_at, time.perf_counter())
            accepted.put(sent)
            return sent

        poller_errors: list[BaseException] = []

        def poller() -> None:
            try:
                follow()
            except (httpx.HTTPError, ValueError) as exc:
                poller_errors.append(exc)

        thread = threading.Thread(target=poller, name="bench-freshness-poller", daemon=True)
        thread.start()
        try:
            run = run_open_loop(send, rate=rate, duration=duration, workers=16)
        finally:
            accepted.put(None)
            thread.join()
        if poller_errors:
            raise RuntimeError(f"polling failed: {poller_errors[0]}") from poller_errors[0]

    seen = [(p.sent, p.seen_at) for p in probes if p.seen_at is not None]
    return {
        "rate_per_second": rate,
        "duration_seconds": duration,
        "poll_interval_ms": poll_interval * 1000,
        "events": len(run.results),
        "seen": len(seen),
        "polls_per_event": round(sum(p.polls for p in probes) / max(1, len(probes)), 2),
        "not_seen_within_seconds": {"count": len(run.results) - len(seen), "timeout": timeout},
        "accepted_to_profile": latency_summary([at - s.accepted_at for s, at in seen]),
        "sent_to_profile": latency_summary([at - s.sent_at for s, at in seen]),
        "track_request": latency_summary([s.accepted_at - s.sent_at for s in run.results]),
        "max_dispatch_lag_ms": round(run.max_dispatch_lag_seconds * 1000, 2),
    }
