"""Segmentation at scale: rule evaluation on PostgreSQL over a synthetic read model (profiles,
event facts, tags, consent), each representative rule timed side by side with a hand-written SQL
query for the same rule (size estimate, SELECT of the ids, full materialization), and the
freshness of a membership: from an event accepted by the gateway to its `membership.entered`
entry on the segmentation service's membership_changes feed, with the whole suite running.

`python -m tests.bench.bench_segmentation [--profiles N] [--events N] [--freshness-events N]
[--repeats N] [--out DIR] [--quick]` writes segmentation.json into DIR (tests/bench by default),
refreshes DIR/RESULTS.md when DIR/results.json is there, and prints the summary.

The machine is shared: only ratios measured in the same run (ours / hand-written, alternating
which goes first) are meant to be compared, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import orjson
import psycopg
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from precis.common.v1 import feed_pb2, feed_pb2_grpc
from precis.common.v1 import types_pb2 as T
from precis.segmentation.v1 import segmentation_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2_grpc
from precis_common.db import Database, upgrade_database
from precis_common.feed import FeedWriter
from precis_common.grpc_client import workspace_metadata
from precis_common.testing import admin_url
from precis_devstack.suite import Suite
from precis_segmentation.app import MIGRATIONS
from precis_segmentation.compile import compile_rule
from precis_segmentation.rules import parse_rule
from precis_segmentation.segments import ENTERED, Memberships, NewSegment, SegmentStore
from precis_segmentation.store import (
    canonical_time,
    membership_changes,
    seg_memberships,
    seg_segments,
)

from .harness import (
    REPO_ROOT,
    CpuMeter,
    gateway_http,
    latency_summary,
    machine_facts,
    running_suite,
)
from .report import render_markdown

WORKSPACE = "bench"
# The rules are evaluated at a fixed `now`, so that a run can be reproduced exactly; the
# synthetic events lie in the two years before it.
NOW = datetime(2026, 11, 1, tzinfo=UTC)
HISTORY_DAYS = 730
ORDER, VIEW, OPEN = "Order Completed", "Product Viewed", "App Opened"
CITIES = (
    "Shanghai", "Beijing", "Shenzhen", "Guangzhou", "Chengdu", "Hangzhou", "Wuhan", "Xi'an",
    "Nanjing", "Tianjin", "Chongqing", "Suzhou", "Qingdao", "Dalian", "Xiamen", "Kunming",
    "Shenyang", "Harbin", "Changsha", "Zhengzhou",
)  # fmt: skip
RFM_CELLS = (
    "champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
    "about_to_sleep", "at_risk", "cant_lose", "hibernating", "lost",
)  # fmt: skip
TAGS = (("newsletter", 0.30), ("vip", 0.05), ("churned", 0.10), ("expecting", 0.03))
# The tables the loader fills with COPY; their secondary indexes are dropped before and built
# again after (with the definitions the migration created), as one would for a bulk load.
LOADED_TABLES = ("seg_event_facts", "seg_profiles", "seg_profile_tags", "seg_consent")
COPY_CHUNK = 50_000
Output = Callable[[str], None]


class CountMismatch(AssertionError):
    """The compiled rule and the hand-written query for it disagree: a bug in one of them."""


# The database -----------------------------------------------------------------------------


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database created for this run on the PostgreSQL server, dropped afterwards (as
    precis_common.testing does for test runs)."""
    name = f"precis_bench_seg_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def server_facts(conn: psycopg.Connection[Any]) -> dict[str, str]:
    facts = {"version": str(conn.execute("SHOW server_version").fetchone()[0])}  # type: ignore[index]
    for setting in (
        "shared_buffers",
        "work_mem",
        "effective_cache_size",
        "max_parallel_workers_per_gather",
        "jit",
        "random_page_cost",
    ):
        facts[setting] = str(conn.execute(f"SHOW {setting}").fetchone()[0])  # type: ignore[index]
    return facts


# The synthetic read model -----------------------------------------------------------------


@dataclass
class Population:
    """Per profile, what its events add up to: the computed traits are written from these, so
    that the profile documents agree with the facts as the real consumer would make them."""

    order_count: list[int]
    revenue: list[float]
    last_order_at: list[datetime | None]

    @classmethod
    def empty(cls, profiles: int) -> Population:
        return cls([0] * profiles, [0.0] * profiles, [None] * profiles)


def profile_id(i: int) -> str:
    return f"prof_{i:08d}"


def _copy_text(value: str) -> str:
    # COPY's text format: backslash, tab and newline must be escaped (JSON may hold them).
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def event_lines(profiles: int, events: int, seed: int, population: Population) -> Iterator[str]:
    """The event facts, in chunks of COPY text lines, in time order as a consumer would append
    them: 8 % orders (revenue, quantity), 20 % app opens, the rest product views. Activity is
    skewed: profile i gets events in proportion to about 1/sqrt(i), so a few profiles are very
    active and most are not."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=HISTORY_DAYS)
    step = HISTORY_DAYS * 86_400 / max(1, events)
    lines: list[str] = []
    for j in range(events):
        who = min(profiles - 1, int(profiles * rng.random() ** 2))
        at = start + timedelta(seconds=j * step + rng.random() * step)
        kind = rng.random()
        revenue = quantity = "\\N"
        if kind < 0.08:
            event = ORDER
            amount = round(rng.lognormvariate(3.9, 0.7), 2)
            count = 1 + int(rng.random() * 3)
            properties = (
                f'{{"revenue":{amount},"quantity":{count},"order_id":"o{j}","currency":"CNY"}}'
            )
            revenue, quantity = str(amount), str(float(count))
            population.order_count[who] += 1
            population.revenue[who] += amount
            population.last_order_at[who] = at
        elif kind < 0.28:
            event = OPEN
            properties = '{"platform":"ios"}' if kind < 0.18 else '{"platform":"android"}'
        else:
            event = VIEW
            properties = f'{{"sku":"sku-{int(rng.random() * 5000)}","price":{5 + j % 200}}}'
        lines.append(
            f"{WORKSPACE}\t{profile_id(who)}\t{event}\t{at.isoformat()}\t{properties}\t"
            f"{revenue}\t{quantity}\tm{j}\n"
        )
        if len(lines) >= COPY_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def profile_lines(profiles: int, seed: int, population: Population) -> Iterator[str]:
    rng = random.Random(seed + 1)
    updated = NOW.isoformat()
    lines: list[str] = []
    for i in range(profiles):
        traits: dict[str, Any] = {
            "city": CITIES[min(len(CITIES) - 1, int(len(CITIES) * rng.random() ** 1.5))],
            "age": 18 + int(rng.random() * 53),
            "gender": "female" if rng.random() < 0.55 else "male",
        }
        if rng.random() < 0.8:
            traits["email_domain"] = "example.com"
        computed: dict[str, Any] = {
            "order_count": population.order_count[i],
            "revenue": round(population.revenue[i], 2),
            "rfm_cell": RFM_CELLS[int(rng.random() * len(RFM_CELLS))],
        }
        last = population.last_order_at[i]
        if last is not None:
            computed["last_order_at"] = canonical_time(last)
        lines.append(
            f"{WORKSPACE}\t{profile_id(i)}\t{_copy_text(orjson.dumps(traits).decode())}\t"
            f"{_copy_text(orjson.dumps(computed).decode())}\t{updated}\n"
        )
        if len(lines) >= COPY_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def tag_lines(profiles: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed + 2)
    lines: list[str] = []
    for i in range(profiles):
        for tag, share in TAGS:
            if rng.random() < share:
                lines.append(f"{WORKSPACE}\t{profile_id(i)}\t{tag}\n")
        if len(lines) >= COPY_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def consent_lines(profiles: int, seed: int) -> Iterator[str]:
    """marketing_email: 40 % allowed, 30 % refused, 30 % never asked (no row); analytics: 90 %
    allowed."""
    rng = random.Random(seed + 3)
    lines: list[str] = []
    for i in range(profiles):
        pid = profile_id(i)
        draw = rng.random()
        if draw < 0.7:
            lines.append(f"{WORKSPACE}\t{pid}\tmarketing_email\t{'t' if draw < 0.4 else 'f'}\n")
        if rng.random() < 0.9:
            lines.append(f"{WORKSPACE}\t{pid}\tanalytics\tt\n")
        if len(lines) >= COPY_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def copy_rows(conn: psycopg.Connection[Any], statement: str, chunks: Iterator[str]) -> int:
    rows = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)
            rows += chunk.count("\n")
    return rows


def load(url: str, profiles: int, events: int, seed: int, output: Output) -> dict[str, Any]:
    """Migrates the segmentation schema and bulk-loads the read model with COPY; then VACUUM
    ANALYZE (autovacuum's work on a live database: statistics and the visibility map that
    index-only scans need)."""
    database = Database(url, pool_size=2)
    began = time.perf_counter()
    upgrade_database(database, MIGRATIONS)
    database.dispose()
    migrated = time.perf_counter() - began
    timings: dict[str, float] = {"migrate_seconds": round(migrated, 2)}
    counts: dict[str, int] = {}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = "
            "i.indexname WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s) AND "
            "NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)",
            [list(LOADED_TABLES)],
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')

        population = Population.empty(profiles)
        began = time.perf_counter()
        counts["seg_event_facts"] = copy_rows(
            conn,
            "COPY seg_event_facts (workspace_id, profile_id, event, occurred_at, properties, "
            "revenue, quantity, message_id) FROM STDIN",
            _progress(event_lines(profiles, events, seed, population), events, "events", output),
        )
        timings["copy_events_seconds"] = round(time.perf_counter() - began, 2)
        began = time.perf_counter()
        counts["seg_profiles"] = copy_rows(
            conn,
            "COPY seg_profiles (workspace_id, profile_id, traits, computed, updated_at) FROM STDIN",
            profile_lines(profiles, seed, population),
        )
        counts["seg_profile_tags"] = copy_rows(
            conn,
            "COPY seg_profile_tags (workspace_id, profile_id, tag) FROM STDIN",
            tag_lines(profiles, seed),
        )
        counts["seg_consent"] = copy_rows(
            conn,
            "COPY seg_consent (workspace_id, profile_id, purpose, allowed) FROM STDIN",
            consent_lines(profiles, seed),
        )
        timings["copy_profiles_tags_consent_seconds"] = round(time.perf_counter() - began, 2)
        output(f"  copied {counts}; building {len(indexes)} indexes ...")
        began = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        timings["index_seconds"] = round(time.perf_counter() - began, 2)
        began = time.perf_counter()
        for table in LOADED_TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        timings["vacuum_analyze_seconds"] = round(time.perf_counter() - began, 2)
        sizes = {
            table: int(
                conn.execute("SELECT pg_total_relation_size(%s)", [table]).fetchone()[0]  # type: ignore[index]
            )
            for table in LOADED_TABLES
        }
        postgres = server_facts(conn)
    return {
        "rows": counts,
        "bytes_with_indexes": sizes,
        "indexes_rebuilt": [name for name, _ in indexes],
        "profiles_with_orders": sum(1 for n in population.order_count if n),
        **timings,
        "postgres": postgres,
    }


def _progress(chunks: Iterator[str], total: int, what: str, output: Output) -> Iterator[str]:
    done, mark, began = 0, max(1, total // 10), time.perf_counter()
    next_mark = mark
    for chunk in chunks:
        yield chunk
        done += chunk.count("\n")
        if done >= next_mark:
            output(f"  {done:,} / {total:,} {what} ({time.perf_counter() - began:.0f} s)")
            next_mark += mark


# The rules and their hand-written twins ---------------------------------------------------


@dataclass(frozen=True)
class BenchRule:
    key: str
    description: str
    doc: dict[str, Any]
    # "FROM ... WHERE ..." over alias p (seg_profiles) with :ws, :now and :d<days> (14, 30, 90,
    # 365) bound; the hand-written count is SELECT count(*) and the ids SELECT p.profile_id of it.
    hand_sql: str

    def hand_count(self) -> str:
        return f"SELECT count(*) {self.hand_sql}"

    def hand_ids(self) -> str:
        return f"SELECT p.profile_id {self.hand_sql} ORDER BY p.profile_id"


def _within(days: int) -> dict[str, Any]:
    return {"within_days": days}


RULES = (
    BenchRule(
        "trait_equality_range",
        "traits.city = Shanghai and traits.age between 25 and 34",
        {
            "all": [
                {"field": "traits.city", "op": "=", "value": "Shanghai"},
                {"field": "traits.age", "op": "between", "value": [25, 34]},
            ]
        },
        "FROM seg_profiles p WHERE p.workspace_id = :ws AND p.traits ->> 'city' = 'Shanghai' "
        "AND (p.traits ->> 'age')::numeric BETWEEN 25 AND 34",
    ),
    BenchRule(
        "windowed_count",
        ">= 2 orders in the last 30 days",
        {"event": {"name": ORDER, "count": {"op": ">=", "value": 2}, **_within(30)}},
        "FROM seg_profiles p JOIN (SELECT f.profile_id FROM seg_event_facts f "
        "WHERE f.workspace_id = :ws AND f.event = 'Order Completed' "
        "AND f.occurred_at >= :d30 AND f.occurred_at <= :now "
        "GROUP BY f.profile_id HAVING count(*) >= 2) o ON o.profile_id = p.profile_id "
        "WHERE p.workspace_id = :ws",
    ),
    BenchRule(
        "windowed_sum",
        "revenue > 200 in the last 90 days",
        {
            "event": {
                "name": ORDER,
                "sum": {"property": "revenue", "op": ">", "value": 200},
                **_within(90),
            }
        },
        "FROM seg_profiles p JOIN (SELECT f.profile_id FROM seg_event_facts f "
        "WHERE f.workspace_id = :ws AND f.event = 'Order Completed' "
        "AND f.occurred_at >= :d90 AND f.occurred_at <= :now "
        "GROUP BY f.profile_id HAVING sum(f.revenue) > 200) o ON o.profile_id = p.profile_id "
        "WHERE p.workspace_id = :ws",
    ),
    BenchRule(
        "absence_and_ever",
        "ever ordered and no App Opened in the last 14 days",
        {
            "all": [
                {"event": {"name": ORDER}},
                {"event": {"name": OPEN, "did_not": True, **_within(14)}},
            ]
        },
        "FROM seg_profiles p WHERE p.workspace_id = :ws "
        "AND EXISTS (SELECT 1 FROM seg_event_facts f WHERE f.workspace_id = :ws "
        "AND f.profile_id = p.profile_id AND f.event = 'Order Completed' "
        "AND f.occurred_at <= :now) "
        "AND NOT EXISTS (SELECT 1 FROM seg_event_facts a WHERE a.workspace_id = :ws "
        "AND a.profile_id = p.profile_id AND a.event = 'App Opened' "
        "AND a.occurred_at >= :d14 AND a.occurred_at <= :now)",
    ),
    BenchRule(
        "tags_and_consent",
        "tagged vip or newsletter, and marketing_email allowed",
        {
            "all": [
                {"field": "tags", "op": "in", "value": ["vip", "newsletter"]},
                {"consent": "marketing_email"},
            ]
        },
        "FROM seg_profiles p WHERE p.workspace_id = :ws "
        "AND EXISTS (SELECT 1 FROM seg_profile_tags t WHERE t.workspace_id = :ws "
        "AND t.profile_id = p.profile_id AND t.tag IN ('vip', 'newsletter')) "
        "AND EXISTS (SELECT 1 FROM seg_consent c WHERE c.workspace_id = :ws "
        "AND c.profile_id = p.profile_id AND c.purpose = 'marketing_email' AND c.allowed)",
    ),
    BenchRule(
        "not_tagged_large",
        "not tagged newsletter (the excluded set is 30% of the profiles)",
        {"not": {"field": "tags", "op": "contains", "value": "newsletter"}},
        "FROM seg_profiles p WHERE p.workspace_id = :ws "
        "AND NOT EXISTS (SELECT 1 FROM seg_profile_tags t WHERE t.workspace_id = :ws "
        "AND t.profile_id = p.profile_id AND t.tag = 'newsletter')",
    ),
    BenchRule(
        "did_not_large",
        "no Product Viewed in the last 365 days (most profiles viewed something)",
        {"event": {"name": VIEW, "did_not": True, **_within(365)}},
        "FROM seg_profiles p WHERE p.workspace_id = :ws "
        "AND NOT EXISTS (SELECT 1 FROM seg_event_facts v WHERE v.workspace_id = :ws "
        "AND v.profile_id = p.profile_id AND v.event = 'Product Viewed' "
        "AND v.occurred_at >= :d365 AND v.occurred_at <= :now)",
    ),
    BenchRule(
        "nested",
        "(city in 3 or rfm champions/loyal) and not tagged churned and "
        "(>= 3 product views in 30 days or lifetime revenue > 500)",
        {
            "all": [
                {
                    "any": [
                        {
                            "field": "traits.city",
                            "op": "in",
                            "value": ["Shanghai", "Beijing", "Shenzhen"],
                        },
                        {
                            "field": "computed.rfm_cell",
                            "op": "in",
                            "value": ["champions", "loyal"],
                        },
                    ]
                },
                {"not": {"field": "tags", "op": "contains", "value": "churned"}},
                {
                    "any": [
                        {"event": {"name": VIEW, "count": {"op": ">=", "value": 3}, **_within(30)}},
                        {"field": "computed.revenue", "op": ">", "value": 500},
                    ]
                },
            ]
        },
        "FROM seg_profiles p LEFT JOIN (SELECT f.profile_id FROM seg_event_facts f "
        "WHERE f.workspace_id = :ws AND f.event = 'Product Viewed' "
        "AND f.occurred_at >= :d30 AND f.occurred_at <= :now "
        "GROUP BY f.profile_id HAVING count(*) >= 3) v ON v.profile_id = p.profile_id "
        "WHERE p.workspace_id = :ws "
        "AND (p.traits ->> 'city' IN ('Shanghai', 'Beijing', 'Shenzhen') "
        "OR p.computed ->> 'rfm_cell' IN ('champions', 'loyal')) "
        "AND NOT EXISTS (SELECT 1 FROM seg_profile_tags t WHERE t.workspace_id = :ws "
        "AND t.profile_id = p.profile_id AND t.tag = 'churned') "
        "AND (v.profile_id IS NOT NULL OR (p.computed ->> 'revenue')::float8 > 500)",
    ),
)


def hand_params() -> dict[str, Any]:
    return {
        "ws": WORKSPACE,
        "now": NOW,
        **{f"d{n}": NOW - timedelta(days=n) for n in (14, 30, 90, 365)},
    }


# Measuring rule evaluation ----------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _ratio(ours: float, hand: float) -> float | None:
    return round(ours / hand, 2) if hand > 0 else None


def _side_by_side(
    ours: Callable[[], Any], hand: Callable[[], Any], repeats: int
) -> tuple[list[float], list[float], Any, Any]:
    """Each function once to warm the caches (untimed), then `repeats` timed runs of each,
    alternating which goes first."""
    ours_value, hand_value = ours(), hand()
    ours_times: list[float] = []
    hand_times: list[float] = []
    for rep in range(repeats):
        order = ((ours, ours_times), (hand, hand_times))
        for fn, times in order if rep % 2 == 0 else reversed(order):
            seconds, _ = _timed(fn)
            times.append(seconds)
    return ours_times, hand_times, ours_value, hand_value


def _plan(database: Database, statement: Any, hand_sql: str, params: dict[str, Any]) -> Any:
    with database.read() as session:
        compiled = statement.compile(
            dialect=database.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        ours = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        hand = session.execute(text(f"EXPLAIN {hand_sql}"), params)
        return {"ours": [r[0] for r in ours], "hand": [r[0] for r in hand]}


def measure_rule(
    database: Database, store: SegmentStore, rule: BenchRule, repeats: int, output: Output
) -> dict[str, Any]:
    params = hand_params()

    def ours_estimate() -> int:
        # SegmentStore.estimate's statement, at the fixed `now`; parsing and compiling included.
        compiled = compile_rule(parse_rule(rule.doc), workspace_id=WORKSPACE, now=NOW)
        with database.read() as session:
            return int(
                session.execute(
                    select(func.count()).select_from(compiled.order_by(None).subquery())
                ).scalar_one()
            )

    def hand_estimate() -> int:
        with database.read() as session:
            return int(session.execute(text(rule.hand_count()), params).scalar_one())

    def ours_ids() -> list[str]:
        compiled = compile_rule(parse_rule(rule.doc), workspace_id=WORKSPACE, now=NOW)
        with database.read() as session:
            return list(session.execute(compiled).scalars())

    def hand_ids() -> list[str]:
        with database.read() as session:
            return list(session.execute(text(rule.hand_ids()), params).scalars())

    est_ours, est_hand, count_ours, count_hand = _side_by_side(
        ours_estimate, hand_estimate, repeats
    )
    if count_ours != count_hand:
        raise CountMismatch(
            f"{rule.key}: the compiled rule counts {count_ours:,}, the hand-written query "
            f"{count_hand:,}; rule {json.dumps(rule.doc)}"
        )
    sel_ours, sel_hand, ids_ours, ids_hand = _side_by_side(ours_ids, hand_ids, repeats)
    if ids_ours != ids_hand:
        only_ours = sorted(set(ids_ours) - set(ids_hand))[:5]
        only_hand = sorted(set(ids_hand) - set(ids_ours))[:5]
        raise CountMismatch(
            f"{rule.key}: the compiled rule selects {len(ids_ours):,} ids, the hand-written "
            f"query {len(ids_hand):,} (only ours, first: {only_ours}; only hand: {only_hand})"
        )
    if len(ids_ours) != count_ours:
        raise CountMismatch(f"{rule.key}: estimate {count_ours:,} but {len(ids_ours):,} ids")

    materialize: list[float] = []
    entered_counts: list[int] = []
    for rep in range(repeats):
        row, _ = store.create(
            WORKSPACE,
            NewSegment(
                name=f"bench {rule.key} {rep}",
                description=rule.description,
                rule_doc=rule.doc,
                refresh_interval_seconds=0,
                materialize=False,
            ),
        )
        # The RefreshSegment path: one write transaction, the feed's append lock, the rule's
        # ids, the difference with the (empty) membership, every entry written to
        # seg_memberships and to the membership_changes feed, commit.
        segment_id = str(row.segment_id)
        began = time.perf_counter()
        _, entered, _, _ = store.refresh(WORKSPACE, segment_id, full=True, now=NOW)
        seconds = time.perf_counter() - began
        materialize.append(seconds)
        entered_counts.append(entered)
        _drop_segment(database, segment_id)
    if any(n != count_ours for n in entered_counts):
        raise CountMismatch(f"{rule.key}: materialized {entered_counts}, expected {count_ours:,}")

    plan = _plan(
        database,
        select(func.count()).select_from(
            compile_rule(parse_rule(rule.doc), workspace_id=WORKSPACE, now=NOW)
            .order_by(None)
            .subquery()
        ),
        rule.hand_count(),
        params,
    )
    result = {
        "key": rule.key,
        "description": rule.description,
        "rule": rule.doc,
        "hand_written_sql": rule.hand_ids(),
        "members": count_ours,
        "estimate": _pair(est_ours, est_hand),
        "select_ids": _pair(sel_ours, sel_hand),
        "materialize": {
            "seconds_median": round(_median(materialize), 4),
            "seconds_all": [round(s, 4) for s in materialize],
            "entered": count_ours,
            # What writing the membership and its feed costs on top of the hand-written query.
            "ratio_to_hand_select": _ratio(_median(materialize), _median(sel_hand)),
        },
        "plans": plan,
    }
    output(
        f"  {rule.key}: {count_ours:,} members; estimate {result['estimate']['ours_ms']} ms vs "
        f"hand {result['estimate']['hand_ms']} ms (x{result['estimate']['ratio']}); ids "
        f"{result['select_ids']['ours_ms']} vs {result['select_ids']['hand_ms']} ms "
        f"(x{result['select_ids']['ratio']}); materialize "
        f"{result['materialize']['seconds_median'] * 1000:.0f} ms"
    )
    return result


def _pair(ours: Sequence[float], hand: Sequence[float]) -> dict[str, Any]:
    o, h = _median(ours), _median(hand)
    return {
        "ours_ms": round(o * 1000, 2),
        "hand_ms": round(h * 1000, 2),
        "ratio": _ratio(o, h),
        "ours_ms_all": [round(s * 1000, 2) for s in ours],
        "hand_ms_all": [round(s * 1000, 2) for s in hand],
    }


def _drop_segment(database: Database, segment_id: str) -> None:
    """Removes a benchmark segment with its members and feed entries (untimed, so that every
    materialization starts from an empty membership)."""
    with database.write() as session:
        for table in (seg_memberships, membership_changes, seg_segments):
            session.execute(
                delete(table).where(
                    table.c.workspace_id == WORKSPACE, table.c.segment_id == segment_id
                )
            )


def measure_rules(
    server_url: str,
    profiles: int,
    events: int,
    repeats: int,
    seed: int,
    output: Output,
    rules: Sequence[BenchRule] = RULES,
) -> dict[str, Any]:
    with postgres_database(server_url) as url:
        output(f"load: {profiles:,} profiles and {events:,} event facts into PostgreSQL ...")
        began = time.perf_counter()
        loaded = load(url, profiles, events, seed, output)
        loaded["total_seconds"] = round(time.perf_counter() - began, 2)
        output(
            f"  loaded in {loaded['total_seconds']:.0f} s (events COPY "
            f"{loaded['copy_events_seconds']:.0f} s, indexes {loaded['index_seconds']:.0f} s)"
        )
        database = Database(url, pool_size=2)
        store = SegmentStore(database, Memberships(FeedWriter(membership_changes)))
        try:
            began = time.perf_counter()
            measured = [measure_rule(database, store, rule, repeats, output) for rule in rules]
            seconds = time.perf_counter() - began
        finally:
            database.dispose()
    return {
        "profiles": profiles,
        "events": events,
        "repeats": repeats,
        "now": NOW.isoformat(),
        "load": loaded,
        "rules": measured,
        "measure_seconds": round(seconds, 1),
    }


# Freshness --------------------------------------------------------------------------------


@dataclass
class FreshnessProbe:
    suite: Suite
    http: httpx.Client
    segments: segmentation_pb2_grpc.SegmentationServiceStub
    feed: feed_pb2_grpc.FeedServiceStub
    metadata: tuple[tuple[str, str], ...]
    after_seq: int = 0

    def post(self, path: str, body: dict[str, Any]) -> float:
        """Sends one event; the perf_counter time of the 200 (the event accepted)."""
        response = self.http.post(path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
        return time.perf_counter()

    def create_segment(self, name: str, orders: int) -> str:
        rule = {"event": {"name": ORDER, "count": {"op": ">=", "value": orders}, **_within(30)}}
        return str(
            self.segments.CreateSegment(
                pb.CreateSegmentRequest(name=name, rule_json=orjson.dumps(rule), materialize=True),
                metadata=self.metadata,
            ).segment.segment_id
        )

    def profile_in(self, user_id: str, segment_id: str, timeout: float) -> str:
        """Polls ListProfileSegments until the user's profile is in the segment; its id."""
        deadline = time.monotonic() + timeout
        identifier = T.Identifier(type=T.IDENTIFIER_TYPE_USER_ID, value=user_id)
        while True:
            try:
                found = self.segments.ListProfileSegments(
                    pb.ListProfileSegmentsRequest(identifier=identifier), metadata=self.metadata
                )
                if any(s.segment_id == segment_id for s in found.segments):
                    return str(found.profile_id)
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"{user_id} not in {segment_id} within {timeout} s")
            time.sleep(0.02)

    def skip_to_end(self) -> None:
        while self.read(wait_ms=0):
            pass

    def read(self, wait_ms: int) -> list[feed_pb2.FeedEntry]:
        entries: list[feed_pb2.FeedEntry] = []
        for response in self.feed.ReadFeed(
            feed_pb2.ReadFeedRequest(
                feed="membership_changes",
                after_seq=self.after_seq,
                max_entries=1000,
                wait_ms=wait_ms,
            ),
            metadata=self.metadata,
            timeout=wait_ms / 1000 + 30,
        ):
            entries.extend(response.entries)
        if entries:
            self.after_seq = entries[-1].seq
        return entries

    def wait_entered(self, segment_id: str, profile: str, timeout: float) -> tuple[float, float]:
        """Long-polls the membership_changes feed until the profile's entry into the segment;
        (perf_counter time the answer carrying it arrived, wall time the entry was appended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.read(wait_ms=1000):
                change = pb.MembershipChange.FromString(entry.payload)
                if (
                    entry.kind == ENTERED
                    and change.segment_id == segment_id
                    and change.profile_id == profile
                ):
                    return time.perf_counter(), entry.created_at.ToDatetime(tzinfo=UTC).timestamp()
        raise TimeoutError(f"{profile} did not enter {segment_id} within {timeout} s")


def _order(user_id: str, n: int, run_id: str) -> dict[str, Any]:
    return {
        "event": ORDER,
        "user_id": user_id,
        "message_id": f"{run_id}-{user_id}-order-{n}",
        "properties": {"revenue": 40.0 + n, "quantity": 1, "order_id": f"{user_id}-{n}"},
    }


def measure_freshness(
    suite: Suite, samples: int, *, run_id: str, timeout: float = 30.0, output: Output = print
) -> dict[str, Any]:
    """For each sample a fresh user: an identify and a first order, awaited until the profile
    is in the "1+ orders in 30 days" segment (untimed), then the second order, timed from its
    200 at the gateway to its `membership.entered` entry into "2+ orders in 30 days" on the
    membership_changes feed (read by long polling, which answers as soon as it is appended)."""
    port = suite.processes["segmentation"].port
    with (
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
        gateway_http(suite, connections=4) as http,
    ):
        probe = FreshnessProbe(
            suite,
            http,
            segmentation_pb2_grpc.SegmentationServiceStub(channel),
            feed_pb2_grpc.FeedServiceStub(channel),
            workspace_metadata(suite.workspace_id),
        )
        once = probe.create_segment(f"{run_id}: 1+ orders in 30 days", 1)
        twice = probe.create_segment(f"{run_id}: 2+ orders in 30 days", 2)
        probe.skip_to_end()
        cpu = CpuMeter([p.pid for p in suite.processes.values()])
        to_read: list[float] = []
        to_appended: list[float] = []
        requests: list[float] = []
        for i in range(samples):
            user = f"{run_id}-fresh-{i}"
            probe.post(
                "/v1/identify",
                {
                    "user_id": user,
                    "message_id": f"{run_id}-{user}-identify",
                    "traits": {"email": f"{user}@example.com", "city": CITIES[i % len(CITIES)]},
                },
            )
            probe.post("/v1/track", _order(user, 1, run_id))
            profile = probe.profile_in(user, once, timeout)
            sent = time.perf_counter()
            accepted = probe.post("/v1/track", _order(user, 2, run_id))
            accepted_wall = time.time()
            seen, appended_wall = probe.wait_entered(twice, profile, timeout)
            requests.append(accepted - sent)
            to_read.append(seen - accepted)
            to_appended.append(max(0.0, appended_wall - accepted_wall))
        used = cpu.read()
    summary = latency_summary(to_read)
    output(
        f"  freshness over {samples} samples: p50 {summary['p50_ms']} ms, p95 "
        f"{summary['p95_ms']} ms, max {summary['max_ms']} ms"
    )
    return {
        "samples": samples,
        "segment_rule": "Order Completed count >= 2 within 30 days (materialized)",
        "accepted_to_membership_entered": summary,
        # The entry's created_at (the segmentation service's clock, same machine) minus the wall
        # time of the 200: without the feed read that brought the entry to the reader.
        "accepted_to_appended": latency_summary(to_appended),
        "track_request": latency_summary(requests),
        "cpu": used,
    }


# The run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    profiles: int = 1_000_000
    events: int = 10_000_000
    freshness_samples: int = 50
    repeats: int = 3


QUICK = Sizes(profiles=20_000, events=200_000, freshness_samples=5, repeats=3)


def run(
    sizes: Sizes,
    *,
    server_url: str,
    seed: int = 5,
    state_dir: Path | None = None,
    output: Output = print,
) -> dict[str, Any]:
    machine = machine_facts()
    began = time.perf_counter()
    output(f"freshness: {sizes.freshness_samples} samples through the whole suite ...")
    run_id = f"seg{uuid.uuid4().hex[:6]}"
    with running_suite(state_dir) as suite:
        freshness = measure_freshness(suite, sizes.freshness_samples, run_id=run_id, output=output)
    rules = measure_rules(server_url, sizes.profiles, sizes.events, sizes.repeats, seed, output)
    machine["database"] = (
        f"PostgreSQL {rules['load']['postgres']['version']} on 127.0.0.1 for rule evaluation; "
        "the suite's SQLite files for freshness"
    )
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return {
        "sizes": {
            "profiles": sizes.profiles,
            "events": sizes.events,
            "freshness_samples": sizes.freshness_samples,
            "repeats": sizes.repeats,
        },
        "seed": seed,
        "rule_evaluation": rules,
        "freshness": freshness,
        "total_seconds": round(time.perf_counter() - began, 1),
        "machine": machine,
    }


def write_results(result: dict[str, Any], out_dir: Path) -> Path:
    """segmentation.json into `out_dir`; RESULTS.md there re-rendered with it (and with
    privacy.json when present) when results.json is there too."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "segmentation.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    suite_results = out_dir / "results.json"
    if suite_results.exists():
        results = json.loads(suite_results.read_text(encoding="utf-8"))
        privacy_path = out_dir / "privacy.json"
        privacy = (
            json.loads(privacy_path.read_text(encoding="utf-8")) if privacy_path.exists() else None
        )
        (out_dir / "RESULTS.md").write_text(
            render_markdown(results, privacy=privacy, segmentation=result), encoding="utf-8"
        )
    return path


def summary_line(result: dict[str, Any]) -> str:
    rules = result["rule_evaluation"]
    ratios = ", ".join(
        f"{r['key']} x{r['estimate']['ratio']}/x{r['select_ids']['ratio']}" for r in rules["rules"]
    )
    fresh = result["freshness"]["accepted_to_membership_entered"]
    return (
        f"segmentation on {rules['profiles']:,} profiles / {rules['events']:,} events: ours / "
        f"hand-written (estimate/ids) {ratios}; freshness p50 {fresh['p50_ms']} ms, p95 "
        f"{fresh['p95_ms']} ms, max {fresh['max_ms']} ms"
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_segmentation", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK}")
    parser.add_argument("--profiles", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--freshness-events", type=int, help="freshness samples")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--postgres-url", default=admin_url(), help="server to create a db on")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "bench")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Sizes()
    sizes = Sizes(
        profiles=args.profiles or base.profiles,
        events=args.events if args.events is not None else base.events,
        freshness_samples=args.freshness_events or base.freshness_samples,
        repeats=args.repeats or base.repeats,
    )
    result = run(sizes, server_url=args.postgres_url, seed=args.seed)
    path = write_results(result, args.out)
    print(f"{summary_line(result)}. Wrote {path}")
    return result


if __name__ == "__main__":
    main()
