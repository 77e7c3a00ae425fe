"""Profile lookups through the gateway at a fixed request rate (open loop): GET
/v1/profiles/user_id/{id} for random profiles loaded by the ingestion benchmark."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from precis_devstack.suite import Suite

from .harness import gateway_http, latency_summary, run_open_loop


@dataclass(frozen=True, slots=True)
class Lookup:
    scheduled_at: float
    started_at: float
    answered_at: float
    status: int  # 0: no answer (connection error or timeout)


def run_lookups(
    suite: Suite,
    user_ids: Sequence[str],
    *,
    rate: float = 100.0,
    duration: float = 30.0,
    workers: int = 32,
    seed: int = 3,
) -> dict[str, Any]:
    """Request ``i`` is due at ``start + i / rate``; its latency runs from that due time to the
    answer, so time spent waiting for a free worker or connection counts (no coordinated
    omission). ``service`` latency, from the actual send, is reported alongside."""
    chooser = random.Random(seed)
    count = max(1, round(rate * duration))
    targets = [chooser.choice(user_ids) for _ in range(count)]

    with gateway_http(suite, connections=workers, timeout=10.0) as http:
        http.get(f"/v1/profiles/user_id/{targets[0]}")  # open a connection outside the timing

        def lookup(i: int, scheduled_at: float) -> Lookup:
            started_at = time.perf_counter()
            try:
                status = http.get(f"/v1/profiles/user_id/{targets[i]}").status_code
            except httpx.TransportError:
                status = 0
            return Lookup(scheduled_at, started_at, time.perf_counter(), status)

        run = run_open_loop(lookup, rate=rate, duration=duration, workers=workers)

    lookups = run.results
    ok = [x for x in lookups if x.status == 200]
    elapsed = max(x.answered_at for x in lookups) - run.started_at
    return {
        "target_rate_per_second": rate,
        "duration_seconds": duration,
        "requests": len(lookups),
        "ok": len(ok),
        "statuses": {str(k): v for k, v in sorted(Counter(x.status for x in lookups).items())},
        "achieved_rate_per_second": round(len(ok) / elapsed, 1),
        "latency": latency_summary([x.answered_at - x.scheduled_at for x in ok]),
        "service_latency": latency_summary([x.answered_at - x.started_at for x in ok]),
        "max_dispatch_lag_ms": round(run.max_dispatch_lag_seconds * 1000, 2),
    }
