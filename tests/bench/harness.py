"""What every benchmark shares: the real suite on free ports, open-loop request scheduling,
latency percentiles and the facts of the machine the numbers were taken on."""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx

from precis_devstack.suite import NAMES, Suite, start_suite, stop_suite

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_suite(state_dir: Path | None = None, *, timeout: float = 90.0) -> Iterator[Suite]:
    """Every process of the suite (ingestion, profile, ..., gateway) started by the devstack
    launcher, each on a free port, with their SQLite files in a fresh state directory (a
    temporary one unless given), then stopped."""
    # One port per process the launcher knows (the set grows as services are added); Any
    # because the keyword names are only known at run time.
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in NAMES}
    with tempfile.TemporaryDirectory(prefix="precis-bench-") as tmp:
        state = state_dir or Path(tmp) / "state"
        suite = start_suite(state, timeout=timeout, **ports)
        try:
            yield suite
        finally:
            stop_suite(state)


def gateway_http(suite: Suite, *, connections: int = 64, timeout: float = 30.0) -> httpx.Client:
    """A plain httpx client for the gateway: the SDK's retries and parsing would blur latencies."""
    return httpx.Client(
        base_url=suite.gateway_url,
        headers={"X-API-Key": suite.api_key, "Accept": "application/json"},
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


# Statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: always a value that was observed (p99 of 3,000 samples is the
    2,970th smallest)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, p50/p95/p99 and max of durations given in seconds, reported in ms."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


# Open-loop load ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenLoopRun(Generic[T]):
    """The outcome of every scheduled call, in schedule order, and how well the schedule held."""

    results: list[T]
    started_at: float
    scheduled_seconds: float
    max_dispatch_lag_seconds: float


def run_open_loop(
    task: Callable[[int, float], T], *, rate: float, duration: float, workers: int
) -> OpenLoopRun[T]:
    """Calls ``task(i, scheduled_at)`` at ``start + i / rate`` (``time.perf_counter`` clock) for
    ``duration`` seconds, each on a pool thread, whether or not earlier calls have returned.

    The schedule does not wait for slow answers, so a stall shows up as latency of every
    request scheduled during it (measured from ``scheduled_at``) instead of silently lowering
    the request rate: no coordinated omission. ``workers`` must cover rate x slowest answer.
    """
    count = max(1, round(rate * duration))
    start = time.perf_counter() + 0.05
    max_lag = 0.0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-open-loop") as pool:
        futures = []
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                max_lag = max(max_lag, -delay)
            futures.append(pool.submit(task, i, scheduled))
        results = [future.result() for future in futures]
    return OpenLoopRun(results, start, count / rate, max_lag)


def poll_until(
    check: Callable[[], bool], *, interval: float, timeout: float, stop: threading.Event | None
) -> float | None:
    """Calls ``check`` every ``interval`` seconds until it is true; returns the perf_counter time
    at which the successful call returned, or None after ``timeout`` seconds."""
    deadline = time.perf_counter() + timeout
    while True:
        if check():
            return time.perf_counter()
        if time.perf_counter() > deadline or (stop is not None and stop.is_set()):
            return None
        time.sleep(interval)


# CPU accounting ----------------------------------------------------------------------------


def _busy_jiffies() -> int:
    fields = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def _process_jiffies(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


class CpuMeter:
    """CPU seconds spent by the suite, by this process (the load generator) and by everything
    else on the machine since the meter started. On a shared machine "other" says whether
    someone else's work ran alongside and made the numbers pessimistic. Linux only: ``read``
    gives None elsewhere."""

    def __init__(self, suite_pids: Sequence[int]) -> None:
        self._pids = list(suite_pids)
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = self._sample()

    def _sample(self) -> tuple[int, int, int] | None:
        if not Path("/proc/stat").exists():
            return None
        suite = sum(_process_jiffies(pid) for pid in self._pids)
        return _busy_jiffies(), suite, _process_jiffies(os.getpid())

    def read(self) -> dict[str, float] | None:
        """CPU seconds since the start, then restart."""
        now = self._sample()
        if now is None or self._start is None:
            return None
        busy, suite, own = (b - a for a, b in zip(self._start, now, strict=True))
        self._start = now
        return {
            "suite_cpu_seconds": round(suite / self._hz, 1),
            "load_generator_cpu_seconds": round(own / self._hz, 1),
            "other_cpu_seconds": round(max(0, busy - suite - own) / self._hz, 1),
        }


# Machine facts -----------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """Where and on what the numbers were taken; the load generator shares this machine."""
    changed = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "--short", "HEAD") or "unknown",
        "git_tracked_files_modified": len(changed.splitlines()) if changed else 0,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": "SQLite (embedded default, one file per service)",
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
