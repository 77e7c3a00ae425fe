"""Runs every benchmark and writes ``results.json`` and ``RESULTS.md``.

``python -m tests.bench`` (what ``make bench`` runs) takes the full sizes and writes into
``tests/bench``; ``--quick`` takes small sizes (a few seconds each) and writes into
``.precis/bench`` unless ``--out`` says otherwise, so a quick look never replaces the committed
results.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from precis_devstack.suite import Suite

from .bench_clv import CACHE_DIR, run_clv
from .bench_freshness import run_freshness
from .bench_ingest import identify_workload, run_ingest
from .bench_lookup import run_lookups
from .harness import REPO_ROOT, CpuMeter, machine_facts, running_suite
from .report import render_markdown

Output = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Sizes:
    ingest_events: int
    batch_size: int
    senders: int
    freshness_rate: float
    freshness_seconds: float
    lookup_rate: float
    lookup_seconds: float
    clv_runs: int
    clv_customers: int | None  # None: every customer of the log


# Chosen so that the full run, suite start-up included, takes 2-3 minutes on 2 cores.
FULL = Sizes(
    ingest_events=20_000,
    batch_size=500,
    senders=3,
    freshness_rate=20.0,
    freshness_seconds=30.0,
    lookup_rate=100.0,
    lookup_seconds=30.0,
    clv_runs=3,
    clv_customers=None,
)
QUICK = Sizes(
    ingest_events=1_000,
    batch_size=250,
    senders=2,
    freshness_rate=10.0,
    freshness_seconds=3.0,
    lookup_rate=50.0,
    lookup_seconds=3.0,
    clv_runs=1,
    clv_customers=2_000,
)


def measure_suite(
    suite: Suite, sizes: Sizes, *, run_id: str, output: Output = print
) -> dict[str, Any]:
    """The three benchmarks that need the running suite, in order: ingestion loads the profiles
    that the freshness and lookup benchmarks then read."""
    workload = identify_workload(sizes.ingest_events, run_id=run_id)
    output(
        f"ingest: {len(workload.events):,} identify events of {len(workload.user_ids):,} users "
        f"in batches of {sizes.batch_size} from {sizes.senders} senders ..."
    )
    cpu = CpuMeter([p.pid for p in suite.processes.values()])
    ingest = run_ingest(suite, workload, batch_size=sizes.batch_size, senders=sizes.senders)
    ingest["cpu"] = cpu.read()
    output(
        f"  accepted {ingest['accepted_events_per_second']:,.0f} events/s, applied "
        f"{ingest['applied_events_per_second']:,.0f} events/s"
    )
    # Probe profiles that the freshness benchmark has not touched for the lookups too: it does
    # not matter for a read, but keeps the two independent.
    users = workload.user_ids
    output(
        f"freshness: {sizes.freshness_rate:g} track events/s for {sizes.freshness_seconds:g} s ..."
    )
    freshness = run_freshness(
        suite,
        users,
        rate=sizes.freshness_rate,
        duration=sizes.freshness_seconds,
        run_id=run_id,
    )
    output(
        f"  accepted -> profile p50 {freshness['accepted_to_profile']['p50_ms']} ms, "
        f"p95 {freshness['accepted_to_profile']['p95_ms']} ms"
    )
    freshness["cpu"] = cpu.read()
    output(f"lookup: {sizes.lookup_rate:g} GET/s for {sizes.lookup_seconds:g} s ...")
    lookup = run_lookups(suite, users, rate=sizes.lookup_rate, duration=sizes.lookup_seconds)
    output(
        f"  p50 {lookup['latency']['p50_ms']} ms, p99 {lookup['latency']['p99_ms']} ms, "
        f"{lookup['achieved_rate_per_second']} req/s"
    )
    lookup["cpu"] = cpu.read()
    return {
        "suite_processes": list(suite.processes),
        "ingest": ingest,
        "freshness": freshness,
        "lookup": lookup,
    }


def measure_clv(sizes: Sizes, *, cache_dir: Path = CACHE_DIR, output: Output = print) -> Any:
    output(f"clv: BG/NBD + Gamma-Gamma on CDNOW, {sizes.clv_runs} run(s) ...")
    cpu = CpuMeter([])
    result = run_clv(cache_dir, runs=sizes.clv_runs, customers=sizes.clv_customers)
    result["cpu"] = cpu.read()
    output(
        f"  {result['customers']:,} customers: fit {result['fit_seconds_median']} s, "
        f"fit_and_score {result['fit_and_score_seconds_median']} s"
    )
    return result


def write_results(results: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "RESULTS.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    # The data-subject request benchmark runs on its own (bench_privacy); its last numbers stay
    # in RESULTS.md.
    privacy_path = out_dir / "privacy.json"
    privacy = (
        json.loads(privacy_path.read_text(encoding="utf-8")) if privacy_path.exists() else None
    )
    segmentation_path = json_path.with_name("segmentation.json")
    segmentation = (
        json.loads(segmentation_path.read_text(encoding="utf-8"))
        if segmentation_path.exists()
        else None
    )
    md_path.write_text(
        render_markdown(results, privacy, segmentation=segmentation), encoding="utf-8"
    )
    return json_path, md_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds each")
    parser.add_argument("--out", type=Path, help="where results.json and RESULTS.md go")
    parser.add_argument("--skip-clv", action="store_true", help="only the suite benchmarks")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    out_dir = args.out or (REPO_ROOT / (".precis/bench" if args.quick else "tests/bench"))

    began = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": machine_facts(),
        "sizes": asdict(sizes),
    }
    print("Starting the suite (every service and the gateway; SQLite) on free ports ...")
    with running_suite() as suite:
        results.update(measure_suite(suite, sizes, run_id=f"bench{int(time.time())}"))
    if not args.skip_clv:
        results["clv"] = measure_clv(sizes)
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    results["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    json_path, md_path = write_results(results, out_dir)
    print(f"Wrote {json_path} and {md_path} ({results['total_seconds']} s in all)")
    return 0
