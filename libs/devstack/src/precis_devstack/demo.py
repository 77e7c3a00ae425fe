"""The demo: start the suite, send the real CDNOW purchase log through REST, show the profiles
and the audiences built from them; then MovieLens 100k for recommendations (recommendations.py)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from precis_client import BatchEvent, PrecisClient, PrecisError
from precis_client.models import batch_item_json
from precis_devstack import cdnow
from precis_devstack.audiences import print_audiences, run_audiences
from precis_devstack.campaigns import (
    load_hair_care,
    load_voter_persuasion,
    run_experiment,
    summary_lines,
    train_uplift_audience,
)
from precis_devstack.recommendations import print_recommendations, run_recommendations
from precis_devstack.state import StateLayout
from precis_devstack.suite import DEFAULT_PORTS, start_suite

MAX_BATCH_EVENTS = 500
# The gateway refuses batches over 512 KiB; stay clear of it with room for the envelope.
MAX_BATCH_BYTES = 512 * 1024 - 4 * 1024
SEND_WORKERS = 3
# After this many batches in a row fail, the gateway is down: stop instead of grinding on.
MAX_CONSECUTIVE_FAILURES = 3
STALL_SECONDS = 30.0
Output = Callable[[str], None]


@dataclass(slots=True)
class LoadReport:
    """What the gateway said about the events sent."""

    events_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    seconds: float = 0.0
    rejections: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events_sent / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class CatchUp:
    profile_count: int
    seconds: float
    caught_up: bool


def chunk_events(
    events: Iterable[BatchEvent],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[BatchEvent]]:
    """Splits events into batches under both the count and the size limit of /v1/batch."""
    batches: list[list[BatchEvent]] = []
    current: list[BatchEvent] = []
    size = 0
    for event in events:
        event_bytes = len(json.dumps(batch_item_json(event))) + 1
        if current and (len(current) >= max_events or size + event_bytes > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(event)
        size += event_bytes
    if current:
        batches.append(current)
    return batches


def send_events(
    client: PrecisClient,
    events: Sequence[BatchEvent],
    *,
    workers: int = SEND_WORKERS,
    progress: Output | None = None,
) -> LoadReport:
    """Sends events in batches from a few threads and tallies the per-event results."""
    batches = chunk_events(events)
    report = LoadReport()
    lock = threading.Lock()
    give_up = threading.Event()
    consecutive_failures = 0

    def send(batch: list[BatchEvent]) -> None:
        nonlocal consecutive_failures
        if give_up.is_set():
            with lock:
                report.failed += len(batch)
            return
        try:
            result = client.batch(batch)
        except PrecisError as exc:
            with lock:
                report.failed += len(batch)
                consecutive_failures += 1
                if len(report.failures) < 5:
                    report.failures.append(str(exc))
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                    give_up.set()
            return
        with lock:
            consecutive_failures = 0
            report.events_sent += len(batch)
            report.accepted += result.accepted
            report.duplicates += result.duplicates
            report.rejected += result.rejected
            for item in result.results:
                if item.status == "rejected" and len(report.rejections) < 5:
                    reasons = "; ".join(f"{e.field}: {e.reason}" for e in item.errors)
                    report.rejections.append(f"{item.message_id}: {reasons}")

    started = time.perf_counter()
    done = 0
    next_report = 0.1
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cdnow-send") as pool:
        futures = [pool.submit(send, batch) for batch in batches]
        for future in as_completed(futures):
            future.result()
            done += 1
            if progress is not None and done / len(batches) >= next_report:
                progress(
                    f"  {done}/{len(batches)} batches, {report.events_sent:,} events "
                    f"({report.events_sent / (time.perf_counter() - started):,.0f}/s)"
                )
                next_report += 0.1
    report.seconds = time.perf_counter() - started
    return report


def wait_for_profiles(
    client: PrecisClient,
    expected: int,
    *,
    stall_seconds: float = STALL_SECONDS,
    poll_seconds: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Output | None = None,
) -> CatchUp:
    """Polls the profile count until it reaches ``expected`` or stops growing for a while.

    Profiles are built asynchronously from the ingestion feed, so right after the last batch
    is acknowledged the count still grows.
    """
    started = clock()
    best = -1
    last_growth = started
    while True:
        try:
            # None (a small count withheld from a key without privacy:admin) is no progress.
            count = client.list_profiles(page_size=1).total_count
            count = best if count is None else count
        except PrecisError as exc:
            count = best
            if progress is not None:
                progress(f"  profile count not available yet: {exc}")
        now = clock()
        if count > best:
            best, last_growth = count, now
            if progress is not None:
                progress(f"  {count:,} of {expected:,} profiles")
        if best >= expected:
            return CatchUp(best, now - started, True)
        if now - last_growth >= stall_seconds:
            return CatchUp(max(best, 0), now - started, False)
        sleep(poll_seconds)


def wait_for_events_applied(
    client: PrecisClient,
    expected: int,
    *,
    stall_seconds: float = 30.0,
    progress: Output | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until the profiles' event counts add up to the events stored (the profile service
    applies the feed in order, so then every event has been applied), or stop growing."""
    best, last_change = -1, clock()
    while True:
        try:
            total = sum(p.raw.get("event_count", 0) for p in client.iter_profiles(page_size=500))
        except PrecisError as exc:
            # A busy profile service can miss the gateway's deadline on one page (504): not a
            # reason to abandon the demo; the stall timer still bounds the wait.
            if progress is not None:
                progress(f"  event counts not available this time: {exc}")
            if clock() - last_change > stall_seconds:
                return max(best, 0)
            sleep(1.0)
            continue
        if total != best:
            best, last_change = total, clock()
            if progress is not None:
                progress(f"  {total:,} of {expected:,} events applied")
        if total >= expected or clock() - last_change > stall_seconds:
            return total
        sleep(1.0)


def most_frequent_customer(transactions: Sequence[cdnow.Transaction]) -> str:
    counts = Counter(t.customer_id for t in transactions)
    return counts.most_common(1)[0][0]


# A rule tag (标签) the demo defines: kept current by the profile service from then on.
HIGH_VALUE_TAG = "高价值"
HIGH_VALUE_RULE = {"trait": "computed.rfm.cell", "op": "in", "value": ["champions", "loyal"]}


def run_demo(
    state_dir: Path | str,
    gateway_port: int = DEFAULT_PORTS["gateway"],
    ingestion_port: int = DEFAULT_PORTS["ingestion"],
    profile_port: int = DEFAULT_PORTS["profile"],
    consent_port: int = DEFAULT_PORTS["consent"],
    *,
    segmentation_port: int = DEFAULT_PORTS["segmentation"],
    recommendation_port: int = DEFAULT_PORTS["recommendation"],
    measurement_port: int = DEFAULT_PORTS["measurement"],
    output: Output = print,
) -> int:
    """Runs the whole demo and leaves the suite running. Returns the process exit code."""
    layout = StateLayout.at(state_dir)
    output(f"Starting the suite (state in {layout.root}) ...")
    suite = start_suite(
        layout.root,
        gateway_port,
        ingestion_port,
        profile_port,
        consent_port,
        segmentation_port=segmentation_port,
        recommendation_port=recommendation_port,
        measurement_port=measurement_port,
        output=lambda s: output("  " + s),
    )

    output(
        f"Loading the CDNOW purchase log (lifetimes=={cdnow.VERSION} wheel, "
        f"cached in {layout.cache_dir}) ..."
    )
    transactions = cdnow.load_cdnow(layout.cache_dir)
    customers = cdnow.customer_count(transactions)
    events = list(cdnow.cdnow_events(transactions))
    output(
        f"  {len(transactions):,} transactions of {customers:,} customers -> {len(events):,} events"
    )

    with suite.client(timeout=60.0) as client:
        output(f"Sending {len(events):,} events to {suite.gateway_url}/v1/batch ...")
        report = send_events(client, events, progress=output)
        output("Waiting for the profile service to catch up with the events feed ...")
        catch_up = wait_for_profiles(client, customers, progress=output)
        stored = report.events_sent - report.rejected - report.failed
        output(f"Waiting until all {stored:,} events are applied to profiles ...")
        applied = wait_for_events_applied(client, stored, progress=output)
        output("Recomputing the RFM boundaries of the workspace (POST /v1/rfm/refresh) ...")
        rfm: dict[str, Any] = client.refresh_rfm()
        output(f"Defining the rule tag {HIGH_VALUE_TAG} (PUT /v1/tag-definitions/...) ...")
        tag = client.put_tag_definition(
            HIGH_VALUE_TAG,
            kind="rule",
            rule=HIGH_VALUE_RULE,
            description="RFM champions and loyal customers",
        )
        scored = sum(int(v) for v in (rfm.get("cells") or {}).values() if isinstance(v, int))
        audiences = run_audiences(client, scored, output)
        recommendations = run_recommendations(client, layout.cache_dir, output)
        campaigns = run_campaigns(client, layout.cache_dir, output)
        example_id = cdnow.user_id(most_frequent_customer(transactions))
        try:
            example: dict[str, Any] | str = client.get_profile("user_id", example_id).raw
        except PrecisError as exc:
            example = f"could not read the profile: {exc}"

    summary = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "gateway_url": suite.gateway_url,
        "docs_url": f"{suite.gateway_url}/docs",
        "logs_dir": str(layout.logs_dir),
        "api_key_file": str(layout.api_key_path),
        "workspace_id": suite.workspace_id,
        "transactions": len(transactions),
        "customers": customers,
        "events_sent": report.events_sent,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "failed": report.failed,
        "seconds": round(report.seconds, 3),
        "events_per_second": round(report.events_per_second, 1),
        "profile_count": catch_up.profile_count,
        "profiles_caught_up": catch_up.caught_up,
        "catch_up_seconds": round(catch_up.seconds, 3),
        "events_applied": applied,
        "rfm_cells": rfm.get("cells", {}),
        "rfm_boundaries": rfm.get("boundaries", {}),
        "high_value_tag": {"tag": HIGH_VALUE_TAG, "profiles": tag.get("profile_count")},
        "audiences": audiences,
        "recommendations": recommendations,
        "campaigns": campaigns,
        "example_user_id": example_id,
        "example_profile": example,
        "rejections": report.rejections,
        "failures": report.failures,
    }
    layout.demo_summary_path.write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    _print_summary(output, summary, example, report, catch_up, layout)
    return 1 if report.failed else 0


def run_campaigns(client: PrecisClient, cache_dir: Path, output: Output) -> dict[str, Any]:
    """dmba's Hair-Care and Voter-Persuasion experiments as campaigns with a holdout
    (campaigns.py): their reports, and an uplift model's Qini on held-out people."""
    output("Loading dmba's randomized campaigns as campaigns with a holdout ...")
    results: dict[str, Any] = {}
    for experiment in (load_hair_care(cache_dir), load_voter_persuasion(cache_dir)):
        outcome = run_experiment(client, experiment, progress=lambda line: output("  " + line))
        results[experiment.key] = {
            "campaign": outcome["campaign"],
            "report": outcome["report"],
            "uplift": {"qini_coefficient": outcome["uplift"]["qini_coefficient"]},
            "scored": outcome["scored"],
        }
        if experiment.model_features:
            results[experiment.key]["service_model"] = train_uplift_audience(
                client,
                experiment,
                outcome["campaign"]["campaign_id"],
                progress=lambda line: output("  " + line),
            )
    return results


def _print_summary(
    output: Output,
    summary: dict[str, Any],
    example: dict[str, Any] | str,
    report: LoadReport,
    catch_up: CatchUp,
    layout: StateLayout,
) -> None:
    output("")
    output("CDNOW through Precis")
    output(f"  events sent     {report.events_sent:>10,}")
    output(f"  accepted        {report.accepted:>10,}")
    output(f"  duplicates      {report.duplicates:>10,}   (a rerun sends the same message ids)")
    output(f"  rejected        {report.rejected:>10,}")
    if report.failed:
        output(f"  failed          {report.failed:>10,}   (batches the gateway did not take)")
    output(f"  seconds         {report.seconds:>10.1f}")
    output(f"  events/s        {report.events_per_second:>10,.0f}")
    state = "caught up" if catch_up.caught_up else "stopped growing before reaching"
    output(
        f"  profiles        {catch_up.profile_count:>10,}   ({state} {summary['customers']:,} "
        f"customers after {catch_up.seconds:.0f} s)"
    )
    output(f"  events applied  {summary['events_applied']:>10,}")
    for line in report.rejections + report.failures:
        output(f"  ! {line}")
    output("")
    output("RFM cells (用户分层) as of now, from the profiles' computed traits")
    for cell, size in summary["rfm_cells"].items():
        output(f"  {cell:<20} {size:>8,}")
    output("")
    tag = summary["high_value_tag"]
    output(f"Rule tag {tag['tag']} (champions or loyal): {tag['profiles']:,} profiles")
    print_audiences(output, summary["audiences"])
    print_recommendations(output, summary["recommendations"])
    output("")
    output("Campaigns measured against their holdout (dmba's randomized experiments)")
    for key, outcome in summary["campaigns"].items():
        for line in summary_lines(key, outcome):
            output(f"  {line}")
    output("")
    output(f"Example profile: the most frequent buyer, {summary['example_user_id']}")
    output(
        json.dumps(example, indent=2, ensure_ascii=False) if isinstance(example, dict) else example
    )
    output("")
    output("Where to look")
    output(f"  gateway         {summary['gateway_url']}")
    output(f"  API docs        {summary['docs_url']}")
    output(f"  API key         {layout.api_key_path}  (header X-API-Key, workspace demo)")
    output(f"  logs            {layout.logs_dir}")
    output(f"  summary         {layout.demo_summary_path}")
    output(
        f'  try             curl -H "X-API-Key: $(cat {layout.api_key_path})" '
        f"{summary['gateway_url']}/v1/profiles/user_id/{summary['example_user_id']}"
    )
    output("")
    output("The suite is still running. Stop it with: make down")
    output(f"  (or: python -m precis_devstack down --state-dir {layout.root})")
