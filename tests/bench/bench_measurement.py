"""Measurement: assignment throughput and the time of a campaign report at scale.

1. Assignment. (i) The pure assignment in process: bucket_of (SHA-256 of the three ids) and
   Split.arm_of for every profile. (ii) Enrollment end to end: Enroller.enroll against a stand-in
   segmentation gRPC server (in this process, so it shares the GIL) releasing N members in pages
   of 5,000, the assignments inserted into ms_assignments; beside it, paging through the same
   members without inserting, which is the part segmentation and gRPC take.
2. The report. A campaign with P assigned profiles (arms a and b at 45% each, a 10% holdout,
   assigned over its first 10 days) and E stored events: one send per contacted subject, 20% of E
   opens and clicks, 1% UTM touches, the rest "Order Completed" conversions (pre-period, inside
   and outside the 7-day window; arm a converts 15% more in the window, arm b 5%). Rows go in by
   bulk inserts (executemany on SQLite, COPY on PostgreSQL); that time is reported, not the
   measure. build_report then runs in a fresh subprocess per run, which reports its wall time and
   its peak RSS above the RSS it had before the call (VmHWM). The report.py of git HEAD and the
   working tree's run side by side on the same data, and their reports are compared field by
   field (they must be equal).
3. Where the time goes: one more run of the working tree's build_report with its stages timed
   (self time: loading the subjects, overlaps, attribution, outcome vectors, the analyses, the
   daily cumulative lift, the rest).

`python -m tests.bench.bench_measurement [--quick] [--database sqlite|postgresql|both]` writes
measurement.json into --out (tests/bench by default) and prints a summary. The machine is shared:
quote ratios measured side by side in one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import grpc
import numpy as np
from google.protobuf import json_format
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2, segmentation_pb2_grpc
from precis_common.db import Database, upgrade_database
from precis_common.feed import to_timestamp
from precis_common.grpc_server import GrpcServer
from precis_common.testing import admin_url
from precis_measurement.app import MIGRATIONS
from precis_measurement.campaigns import (
    HOLDOUT,
    ArmSpec,
    CampaignRow,
    Campaigns,
    Enroller,
    Split,
    bucket_of,
    new_campaign,
)

from .harness import REPO_ROOT, machine_facts

Output = Callable[[str], None]
WORKSPACE = "bench"
SEGMENT = "seg-bench"
REPORT_PY = "services/measurement/src/precis_measurement/report.py"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=14)
ASSIGNING_DAYS = 10
WINDOW = timedelta(days=7)
PRE_PERIOD = timedelta(days=28)
IN_WINDOW_WEIGHT = {"a": 1.15, "b": 1.05, HOLDOUT: 1.0}


@dataclass(frozen=True, slots=True)
class Sizes:
    hash_profiles: int = 1_000_000
    enroll_members: int = 1_000_000
    profiles: int = 1_000_000
    events: int = 10_000_000
    compare_head: bool = True  # also time report.py of git HEAD on the same data


QUICK = Sizes(hash_profiles=50_000, enroll_members=50_000, profiles=50_000, events=500_000)


# Databases ---------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, tmp: Path, name: str) -> Iterator[Database]:
    """An empty measurement database at head: a SQLite file, or a new PostgreSQL database
    (dropped afterwards)."""
    if backend == "sqlite":
        database = Database(f"sqlite:///{tmp / (name + '.db')}")
        try:
            upgrade_database(database, MIGRATIONS)
            yield database
        finally:
            database.dispose()
        return
    db_name = f"precis_bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    database = Database(make_url(admin_url()).set(database=db_name).render_as_string(False))
    try:
        upgrade_database(database, MIGRATIONS)
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


def create_campaign(database: Database, *, start: datetime, now: datetime) -> CampaignRow:
    message = pb.Campaign(
        name="Bench bottles",
        segment_id=SEGMENT,
        channel=segmentation_pb2.CHANNEL_EMAIL,
        arms=[pb.Arm(arm_id="a", weight=0.5), pb.Arm(arm_id="b", weight=0.5)],
        holdout_share=0.1,
        start_time=to_timestamp(start),
        end_time=to_timestamp(now + timedelta(days=16)),
        secondary_metrics=[pb.METRIC_REVENUE_PER_USER, pb.METRIC_AVERAGE_ORDER_VALUE],
        cost_per_send=0.01,
        fixed_cost=500.0,
        currency="USD",
    )
    message.attribution_window.FromTimedelta(WINDOW)
    message.pre_period.FromTimedelta(PRE_PERIOD)
    row, _ = new_campaign(message, now)
    campaign, _ = Campaigns(database).create(WORKSPACE, row)
    return campaign


# 1. Assignment -----------------------------------------------------------------------------


def measure_hashing(count: int) -> dict[str, Any]:
    split = Split.of(0.1, [ArmSpec("a", "", 0.5), ArmSpec("b", "", 0.5)])
    profiles = [f"p{i:08}" for i in range(count)]
    started = time.perf_counter()
    arms = [split.arm_of(bucket_of(WORKSPACE, "c-bench", pid)) for pid in profiles]
    seconds = time.perf_counter() - started
    shares = {arm: arms.count(arm) / count for arm in ("a", "b", HOLDOUT)}
    return {
        "profiles": count,
        "seconds": round(seconds, 3),
        "assignments_per_second": round(count / seconds),
        "shares": {k: round(v, 4) for k, v in shares.items()},
    }


class ReleasedSegment(segmentation_pb2_grpc.SegmentationServiceServicer):
    """Segmentation releasing one segment's members (sorted once) page by page: the stand-in does
    as little as it can so the numbers are the enroller's."""

    def __init__(self, members: Sequence[str]) -> None:
        self.members = sorted(members)

    def ListSegmentMembers(
        self, request: segmentation_pb2.ListSegmentMembersRequest, context: grpc.ServicerContext
    ) -> segmentation_pb2.ListSegmentMembersResponse:
        start = int(request.page_token or 0)
        size = request.page_size or 500
        page = self.members[start : start + size]
        return segmentation_pb2.ListSegmentMembersResponse(
            members=[segmentation_pb2.SegmentMember(profile_id=p) for p in page],
            next_page_token=str(start + size) if start + size < len(self.members) else "",
            total_count=len(self.members),
        )


def measure_enrollment(backend: str, members: int, tmp: Path) -> dict[str, Any]:
    segment = ReleasedSegment([f"p{i:08}" for i in range(members)])
    server = GrpcServer(name="segmentation-stand-in", host="127.0.0.1", port=0)
    server.add(
        segmentation_pb2_grpc.add_SegmentationServiceServicer_to_server,
        segment,
        "precis.segmentation.v1.SegmentationService",
    )
    server.start()
    server.set_serving(True)
    channel = grpc.insecure_channel(
        f"127.0.0.1:{server.port}", options=[("grpc.max_receive_message_length", 64 << 20)]
    )
    try:
        with fresh_database(backend, tmp, "enroll") as database:
            now = datetime.now(UTC)
            campaign = create_campaign(database, start=now - timedelta(hours=1), now=now)
            enroller = Enroller(Campaigns(database), channel, interval_s=3600, deadline_s=120)
            # Paging alone: what segmentation and gRPC take of the pass.
            stub = segmentation_pb2_grpc.SegmentationServiceStub(channel)
            started = time.perf_counter()
            token, listed = "", 0
            while True:
                page = stub.ListSegmentMembers(
                    segmentation_pb2.ListSegmentMembersRequest(
                        segment_id=SEGMENT,
                        channel=campaign.channel,  # type: ignore[arg-type]
                        page_size=5000,
                        page_token=token,
                    ),
                    timeout=120,
                )
                listed += len(page.members)
                token = page.next_page_token
                if not token:
                    break
            list_seconds = time.perf_counter() - started
            started = time.perf_counter()
            released = enroller.enroll(campaign, now)
            enroll_seconds = time.perf_counter() - started
            # A second pass over the same members: every insert is a duplicate, ignored.
            started = time.perf_counter()
            enroller.enroll(campaign, now + timedelta(minutes=1))
            again_seconds = time.perf_counter() - started
            with database.read() as session:
                stored = session.execute(
                    text("SELECT count(*) FROM ms_assignments WHERE campaign_id = :c"),
                    {"c": campaign.campaign_id},
                ).scalar_one()
    finally:
        channel.close()
        server.stop(0)
    assert listed == released == stored == members, (listed, released, stored, members)
    return {
        "database": backend,
        "members": members,
        "enroll_seconds": round(enroll_seconds, 2),
        "assignments_logged_per_second": round(members / enroll_seconds),
        "paging_only_seconds": round(list_seconds, 2),
        "second_pass_seconds": round(again_seconds, 2),
        "second_pass_members_per_second": round(members / again_seconds),
    }


# 2. Report data ----------------------------------------------------------------------------


def _times(epoch_us: np.ndarray, backend: str) -> list[str]:
    """Timestamps as each database stores them: SQLAlchemy's SQLite text, or timestamptz text."""
    text_ = np.datetime_as_string(epoch_us.astype("datetime64[us]"), unit="us")
    strings = np.char.replace(text_, "T", " ").tolist()
    if backend == "postgresql":
        return [s + "+00" for s in strings]
    return strings


@dataclass
class ReportData:
    rows: dict[str, list[tuple[Any, ...]]]
    counts: dict[str, int]


def report_data(
    campaign: CampaignRow, profiles: int, events: int, backend: str, seed: int = 11
) -> ReportData:
    """The campaign's assignments and events as rows per table (see the module docstring)."""
    rng = np.random.default_rng(seed)
    us = 1_000_000
    start_us = int(campaign.start_time.timestamp()) * us
    pids = [f"p{i:08}" for i in range(profiles)]
    buckets = np.array([bucket_of(WORKSPACE, campaign.campaign_id, p) for p in pids])
    arm_names = np.array([campaign.split.arm_of(int(b)) for b in buckets])
    assigned_us = start_us + rng.integers(0, ASSIGNING_DAYS * 86_400 * us, profiles)
    assigned_text = _times(assigned_us, backend)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    cid, ws = campaign.campaign_id, WORKSPACE
    rows["ms_assignments"] = [
        (ws, cid, pids[i], str(arm_names[i]), int(buckets[i]), assigned_text[i])
        for i in range(profiles)
    ]
    contacted = np.flatnonzero(arm_names != HOLDOUT)
    # Sends: one per contacted subject, five minutes after its assignment.
    sent_text = _times(assigned_us[contacted] + 300 * us, backend)
    rows["ms_exposures"] = [
        (ws, cid, pids[i], "sent", "email", sent_text[k], f"s{i}")
        for k, i in enumerate(contacted.tolist())
    ]
    engagement = round(0.2 * events)
    who = rng.choice(contacted, engagement)
    kind = np.where(rng.random(engagement) < 0.7, "opened", "clicked")
    at = _times(assigned_us[who] + rng.integers(600 * us, 3 * 86_400 * us, engagement), backend)
    rows["ms_exposures"] += [
        (ws, cid, pids[i], str(kind[k]), "email", at[k], f"e{k}")
        for k, i in enumerate(who.tolist())
    ]
    touches = round(0.01 * events)
    who = rng.integers(0, profiles, touches)
    sources = np.array(["google", "wechat", "newsletter", "partner", ""])
    source = sources[rng.integers(0, len(sources), touches)]
    at = _times(assigned_us[who] + rng.integers(0, 5 * 86_400 * us, touches), backend)
    rows["ms_touches"] = [
        (ws, pids[i], str(source[k]), "cpc" if source[k] == "google" else "email", at[k], f"t{k}")
        for k, i in enumerate(who.tolist())
    ]
    # Conversions: 45% in the 28-day pre-period, 5% after assignment (inside the 7-day window
    # mostly, weighted by arm: about a third of the subjects convert there), 50% older history
    # that the report's query must skip.
    conversions = max(0, events - len(rows["ms_exposures"]) - touches)
    kinds = rng.choice(3, conversions, p=[0.45, 0.05, 0.5])
    pre = kinds == 0
    post = kinds == 1
    other = kinds == 2
    who = np.empty(conversions, dtype=np.int64)
    who[pre | other] = rng.integers(0, profiles, int((pre | other).sum()))
    weight = np.vectorize(IN_WINDOW_WEIGHT.__getitem__)(arm_names).astype(np.float64)
    who[post] = rng.choice(profiles, int(post.sum()), p=weight / weight.sum())
    conv_us = np.empty(conversions, dtype=np.int64)
    pre_us = int(PRE_PERIOD.total_seconds()) * us
    conv_us[pre] = start_us - rng.integers(1, pre_us, int(pre.sum()))
    conv_us[post] = assigned_us[who[post]] + rng.integers(0, 9 * 86_400 * us, int(post.sum()))
    conv_us[other] = start_us - pre_us - rng.integers(1, 180 * 86_400 * us, int(other.sum()))
    revenue = np.round(rng.gamma(2.0, 30.0, conversions), 2).tolist()
    items = rng.integers(1, 6, conversions).tolist()
    at = _times(conv_us, backend)
    rows["ms_conversions"] = [
        (
            ws,
            pids[i],
            "Order Completed",
            at[k],
            revenue[k],
            f'{{"revenue": {revenue[k]}, "items": {items[k]}}}',
            f"c{k}",
        )
        for k, i in enumerate(who.tolist())
    ]
    counts = {name: len(table) for name, table in rows.items()}
    counts["events"] = counts["ms_exposures"] + counts["ms_touches"] + counts["ms_conversions"]
    counts["sends"] = len(contacted)
    counts["opens_and_clicks"] = engagement
    return ReportData(rows, counts)


COLUMNS = {
    "ms_assignments": (
        "workspace_id",
        "campaign_id",
        "profile_id",
        "arm_id",
        "bucket",
        "assigned_at",
    ),
    "ms_exposures": (
        "workspace_id",
        "campaign_id",
        "profile_id",
        "kind",
        "channel",
        "occurred_at",
        "message_id",
    ),
    "ms_touches": ("workspace_id", "profile_id", "source", "medium", "occurred_at", "message_id"),
    "ms_conversions": (
        "workspace_id",
        "profile_id",
        "event",
        "occurred_at",
        "revenue",
        "amounts",
        "message_id",
    ),
}


def bulk_insert(database: Database, data: ReportData, chunk: int = 100_000) -> float:
    started = time.perf_counter()
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, rows in data.rows.items():
            columns = COLUMNS[table]
            if database.is_postgresql:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for begin in range(0, len(rows), chunk):
                        block = "".join(
                            "\t".join(map(str, row)) + "\n" for row in rows[begin : begin + chunk]
                        )
                        copy.write(block)
            else:
                cursor.execute("BEGIN")
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )
                cursor.execute("COMMIT")
        if database.is_postgresql:
            # VACUUM sets the hint bits and the visibility map that the first reader of freshly
            # copied rows would otherwise write, so every timed report reads the same table.
            raw.commit()
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            cursor.execute("VACUUM ANALYZE")
            raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        else:
            cursor.execute("ANALYZE")
        cursor.close()
    finally:
        raw.close()
    return time.perf_counter() - started


# 2b. Timing build_report in a subprocess -----------------------------------------------------


def _head_report_module() -> types.ModuleType:
    """report.py as committed at git HEAD, loaded under another name (the 'before')."""
    source = subprocess.run(
        ["git", "--no-optional-locks", "show", f"HEAD:{REPORT_PY}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = "precis_measurement._report_at_head"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    exec(compile(source, f"HEAD:{REPORT_PY}", "exec"), module.__dict__)
    return module


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class StageTimer:
    """Self time of the report's stages: each wrapped function's time minus its wrapped
    callees'."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._stack: list[float] = []

    def wrap(self, module: types.ModuleType, name: str, stage: str) -> None:
        inner = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(0.0)
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                total = time.perf_counter() - started
                children = self._stack.pop()
                self.seconds[stage] = self.seconds.get(stage, 0.0) + total - children
                self.calls[stage] = self.calls.get(stage, 0) + 1
                if self._stack:
                    self._stack[-1] += total

        setattr(module, name, timed)


STAGES = (
    ("load_subjects", "load subjects (SQL and per-subject arrays)"),
    ("_overlaps", "overlaps with other campaigns"),
    ("_attribution", "attribution journeys"),
    ("outcomes", "outcome vectors"),
    ("_compare", "analyses (stats.analyze per metric)"),
    ("_impacts", "incrementality (self)"),
    ("_cumulative", "daily cumulative lift (self)"),
)


def report_child(url: str, campaign_id: str, as_of: str, implementation: str, stages: bool) -> None:
    """In a fresh process: one build_report, its wall time and peak RSS (printed as JSON)."""
    if implementation == "head":
        module = _head_report_module()
    else:
        import precis_measurement.report as module
    database = Database(url)
    campaign = Campaigns(database).get(WORKSPACE, campaign_id)
    when = datetime.fromisoformat(as_of)
    timer = StageTimer()
    if stages:
        for name, stage in STAGES:
            timer.wrap(module, name, stage)
    rss_before = _rss_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")  # resets VmHWM
        hwm_reset = True
    except OSError:
        hwm_reset = False
    started = time.perf_counter()
    report = module.build_report(database, campaign, when, 0.95)
    seconds = time.perf_counter() - started
    peak = _rss_kib("VmHWM") if hwm_reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    database.dispose()
    result: dict[str, Any] = {
        "implementation": implementation,
        "seconds": round(seconds, 3),
        "rss_before_mib": round(rss_before / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "peak_rss_above_start_mib": round((peak - rss_before) / 1024, 1),
        "report": json_format.MessageToDict(report),
    }
    if stages:
        accounted = sum(timer.seconds.values())
        result["stage_seconds"] = {k: round(v, 3) for k, v in timer.seconds.items()}
        result["stage_seconds"]["rest of build_report"] = round(seconds - accounted, 3)
        result["stage_calls"] = timer.calls
    sys.stdout.write(json.dumps(result) + "\n")


def run_report_child(
    url: str, campaign_id: str, as_of: datetime, implementation: str, *, stages: bool = False
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "tests.bench.bench_measurement",
        "--report-child",
        url,
        campaign_id,
        as_of.isoformat(),
        implementation,
    ]
    if stages:
        command.append("--stages")
    done = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"report subprocess failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _report_summary(report: dict[str, Any]) -> dict[str, Any]:
    arms = {
        a["armId"]: {
            "subjects": int(a.get("subjects", 0)),
            "sends": int(a.get("sends", 0)),
            "converters": int(a.get("converters", 0)),
            "conversions": int(a.get("conversions", 0)),
            "conversion_rate": round(a.get("conversionRate", 0.0), 5),
        }
        for a in report.get("arms", [])
    }
    lifts = [
        {
            "arm": lf["arm"],
            "metric": lf["metric"],
            "relative_lift": round(lf.get("relativeLift", {}).get("value", 0.0), 4),
            "p_value": lf.get("pValue", 0.0),
        }
        for lf in report.get("lifts", [])
    ]
    return {
        "arms": arms,
        "lifts": lifts,
        "cumulative_points": len(report.get("cumulativeLift", [])),
        "attribution": "attribution" in report,
        "warnings": report.get("warnings", []),
    }


def measure_report(backend: str, sizes: Sizes, tmp: Path, output: Output) -> dict[str, Any]:
    with fresh_database(backend, tmp, "report") as database:
        campaign = create_campaign(database, start=START, now=NOW)
        started = time.perf_counter()
        data = report_data(campaign, sizes.profiles, sizes.events, backend)
        generate_seconds = time.perf_counter() - started
        insert_seconds = bulk_insert(database, data)
        counts = data.counts
        del data
        output(
            f"  {backend}: {counts['ms_assignments']:,} assignments and {counts['events']:,} "
            f"events generated in {generate_seconds:.1f} s, inserted in {insert_seconds:.1f} s"
        )
        url = database.url
        runs: dict[str, dict[str, Any]] = {}
        implementations = ["head", "working_tree"] if sizes.compare_head else ["working_tree"]
        for implementation in implementations:
            runs[implementation] = run_report_child(url, campaign.campaign_id, NOW, implementation)
            r = runs[implementation]
            output(
                f"  {backend} build_report ({implementation}): {r['seconds']} s, peak RSS "
                f"+{r['peak_rss_above_start_mib']} MiB"
            )
        staged = run_report_child(url, campaign.campaign_id, NOW, "working_tree", stages=True)
        output(f"  {backend} stages: {staged['stage_seconds']}")
    report = runs["working_tree"].pop("report")
    identical = None
    if "head" in runs:
        identical = runs["head"].pop("report") == report
        if not identical:
            raise AssertionError(f"{backend}: the working tree's report differs from HEAD's")
    same_staged = staged.pop("report") == report
    result: dict[str, Any] = {
        "database": backend,
        "rows": counts,
        "generate_seconds": round(generate_seconds, 1),
        "bulk_insert_seconds": round(insert_seconds, 1),
        "bulk_insert_rows_per_second": round(
            (counts["events"] + counts["ms_assignments"]) / insert_seconds
        ),
        "build_report": runs,
        "reports_identical_head_vs_working_tree": identical,
        "stages": {
            "seconds": staged["seconds"],
            "stage_seconds": staged["stage_seconds"],
            "stage_calls": staged["stage_calls"],
            "report_identical": same_staged,
        },
        "report": _report_summary(report),
    }
    if "head" in runs:
        result["speedup_head_over_working_tree"] = round(
            runs["head"]["seconds"] / runs["working_tree"]["seconds"], 2
        )
    return result


# Running -----------------------------------------------------------------------------------


def run(
    sizes: Sizes,
    backends: Sequence[str],
    output: Output = print,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every measurement; ``checkpoint`` gets the results so far after each one (a long run
    that is stopped keeps what it measured)."""
    began = time.perf_counter()

    def done() -> None:
        if checkpoint is not None:
            checkpoint({**result, "complete": False, "machine": machine})

    machine = machine_facts()
    machine["database"] = ", ".join(
        "SQLite (a file)" if b == "sqlite" else "PostgreSQL (127.0.0.1)" for b in backends
    )
    result: dict[str, Any] = {"sizes": asdict(sizes)}
    output(f"assignment: bucket_of + arm_of for {sizes.hash_profiles:,} profiles ...")
    result["assignment_in_process"] = measure_hashing(sizes.hash_profiles)
    output(f"  {result['assignment_in_process']['assignments_per_second']:,} per second")
    done()
    result["enrollment"] = []
    result["report"] = []
    with tempfile.TemporaryDirectory(prefix="precis-ms-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for backend in backends:
            output(f"enrollment of {sizes.enroll_members:,} members on {backend} ...")
            row = measure_enrollment(backend, sizes.enroll_members, tmp)
            result["enrollment"].append(row)
            done()
            output(
                f"  {row['enroll_seconds']} s: {row['assignments_logged_per_second']:,} "
                f"assignments logged per second (paging alone {row['paging_only_seconds']} s)"
            )
        for backend in backends:
            output(
                f"report of {sizes.profiles:,} subjects and {sizes.events:,} events on "
                f"{backend} ..."
            )
            result["report"].append(measure_report(backend, sizes, tmp, output))
            done()
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    result["total_seconds"] = round(time.perf_counter() - began, 1)
    result["complete"] = True
    result["machine"] = machine
    return result


def summary_line(result: dict[str, Any]) -> str:
    parts = [
        f"assignment {result['assignment_in_process']['assignments_per_second']:,}/s in process"
    ]
    for row in result["enrollment"]:
        parts.append(f"enrollment on {row['database']} {row['assignments_logged_per_second']:,}/s")
    for row in result["report"]:
        runs = row["build_report"]
        text_ = f"report on {row['database']} {runs['working_tree']['seconds']} s"
        if "head" in runs:
            text_ += f" (HEAD {runs['head']['seconds']} s)"
        parts.append(text_)
    return "measurement: " + "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_measurement", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK}")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--no-head", action="store_true", help="skip timing HEAD's report.py")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "bench")
    parser.add_argument("--report-child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report_child:
        report_child(*args.report_child, stages=args.stages)
        return None
    sizes = QUICK if args.quick else Sizes()
    if args.no_head:
        sizes = Sizes(**{**asdict(sizes), "compare_head": False})
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    mode = "quick" if args.quick else "full"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "measurement.json"

    def write(partial: dict[str, Any]) -> None:
        path.write_text(json.dumps({"mode": mode, **partial}, indent=2) + "\n", encoding="utf-8")

    result = run(sizes, backends, checkpoint=write)
    result["mode"] = mode
    write(result)
    print(f"{summary_line(result)}. Wrote {path}")
    return result


if __name__ == "__main__":
    random.seed(0)
    main()
