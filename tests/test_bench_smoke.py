"""The benchmarks (tests/bench, run by ``make bench``) on small sizes against the real processes:
every number they report is there and sane. No timing thresholds: a benchmark reports, it does
not judge, and this machine is shared."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from precis_common.testing import admin_url
from tests.bench import bench_privacy, bench_recommendation, bench_segmentation
from tests.bench.harness import machine_facts, percentile, running_suite
from tests.bench.run import Sizes, measure_clv, measure_suite, write_results

pytestmark = pytest.mark.e2e

SMALL = Sizes(
    ingest_events=210,
    batch_size=70,
    senders=2,
    freshness_rate=10.0,
    freshness_seconds=1.0,
    lookup_rate=40.0,
    lookup_seconds=1.0,
    clv_runs=1,
    clv_customers=500,
)


def quiet(_line: str) -> None:
    pass


def test_percentiles_are_observed_values_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([7.0], 1) == 7.0


def test_quick_benchmarks_report_sane_numbers(tmp_path: Path) -> None:
    with running_suite(tmp_path / "state") as suite:
        results = measure_suite(suite, SMALL, run_id="smoke", output=quiet)
    results["clv"] = measure_clv(SMALL, output=quiet)
    results.update(mode="quick", machine=machine_facts(), sizes=asdict(SMALL))

    ingest = results["ingest"]
    assert ingest["accepted"] == ingest["events"] > 0 and ingest["rejected"] == 0
    assert ingest["accepted_events_per_second"] >= ingest["applied_events_per_second"] > 0
    assert ingest["check"]["events_applied"] == ingest["events"]
    assert ingest["check"]["profiles"] == ingest["check"]["profiles_expected"] == ingest["users"]
    assert ingest["check"]["merged_profiles_seen_of_first_20"] == min(20, ingest["merges_expected"])

    freshness = results["freshness"]
    assert freshness["seen"] == freshness["events"] == 10
    fresh = freshness["accepted_to_profile"]
    assert 0 < fresh["p50_ms"] <= fresh["p95_ms"] <= fresh["max_ms"]

    lookup = results["lookup"]
    assert lookup["ok"] == lookup["requests"] == 40 and lookup["achieved_rate_per_second"] > 0
    latency = lookup["latency"]
    assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]

    clv = results["clv"]
    assert clv["customers"] == clv["profiles_scored"] == 500
    assert clv["fit_seconds_median"] > 0
    assert all(clv["bg_nbd"][k] > 0 for k in ("r", "alpha", "a", "b"))
    assert all(clv["gamma_gamma"][k] > 0 for k in ("p", "q", "gamma"))

    json_path, md_path = write_results(results, tmp_path / "out")
    assert json.loads(json_path.read_text(encoding="utf-8"))["lookup"] == lookup
    summary = md_path.read_text(encoding="utf-8")
    assert "| profile lookup at 40 req/s |" in summary and "## 4. CLV fit on CDNOW" in summary


def test_data_subject_request_benchmark_reports_sane_numbers(tmp_path: Path) -> None:
    # With the suite benchmark's committed results next to it, RESULTS.md gets section 5.
    shutil.copy(Path(bench_privacy.__file__).with_name("results.json"), tmp_path)
    sizes = ["--subjects", "2", "--events-per-subject", "20", "--background-events", "100"]
    bench_privacy.main([*sizes, "--out", str(tmp_path)])
    result = json.loads((tmp_path / "privacy.json").read_text(encoding="utf-8"))

    assert (result["subjects"], result["events_per_subject"], result["background_people"]) == (
        2,
        20,
        10,
    )
    assert result["load"]["events"] == 140 and result["load"]["consent_records"] == 12
    export, erasure = result["export"], result["erasure"]
    for latency in (export["latency"], export["server_latency"], erasure["latency"]):
        assert latency["count"] == 2 and 0 < latency["p50_ms"] <= latency["max_ms"]
    assert 0 < export["bytes"]["p50"] <= export["bytes"]["max"]
    assert set(export["bytes_by_service"]) == {"consent", "ingestion", "profile"}
    assert all(size["p50"] > 0 for size in export["bytes_by_service"].values())
    assert erasure["rows"]["p50"] > 20
    assert set(erasure["rows_by_service"]) == {"consent", "ingestion", "profile"}
    assert erasure["rows_by_service"]["ingestion"]["events"] == {"p50": 20, "max": 20}
    assert erasure["rows_by_service"]["consent"]["consent_entries"]["p50"] > 0
    [first, _] = result["per_subject"]
    assert first["export"]["contents"]["ingestion_events"] == 20
    assert first["export"]["contents"]["profile_events"] == 20
    checks = result["checks"]
    assert checks["erasures_verified"] == 2
    assert (checks["events_before"], checks["events_after"]) == (140, 100)
    assert checks["live_profiles_after"] == checks["live_profiles_before"] - 2 == 10
    assert result["machine"]["cpu_count"] > 0
    summary = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## 5. Data-subject requests: export and erasure" in summary
    assert "| export / erasure of a subject with 20 events, all services |" in summary


@pytest.mark.postgres
def test_segmentation_benchmark_reports_every_rule_and_freshness(tmp_path: Path) -> None:
    # With the suite benchmark's committed results next to it, RESULTS.md gets section 6.
    shutil.copy(Path(bench_segmentation.__file__).with_name("results.json"), tmp_path)
    sizes = ["--profiles", "2000", "--events", "20000", "--freshness-events", "3"]
    bench_segmentation.main([*sizes, "--repeats", "1", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "segmentation.json").read_text(encoding="utf-8"))

    evaluation = result["rule_evaluation"]
    assert evaluation["load"]["rows"]["seg_profiles"] == 2000
    assert evaluation["load"]["rows"]["seg_event_facts"] == 20000
    assert evaluation["load"]["rows"]["seg_consent"] > 0
    assert [r["key"] for r in evaluation["rules"]] == [r.key for r in bench_segmentation.RULES]
    for rule in evaluation["rules"]:
        # The run itself refuses a count or an id list on which ours and hand-written differ.
        assert 0 <= rule["members"] < 2000
        assert rule["materialize"]["entered"] == rule["members"]
        for measured in (rule["estimate"], rule["select_ids"]):
            assert measured["ours_ms"] > 0 and measured["hand_ms"] > 0 and measured["ratio"] > 0
            assert len(measured["ours_ms_all"]) == len(measured["hand_ms_all"]) == 1
        assert rule["plans"]["ours"] and rule["plans"]["hand"]
    assert sum(1 for rule in evaluation["rules"] if rule["members"]) >= 5

    fresh = result["freshness"]
    latency = fresh["accepted_to_membership_entered"]
    assert fresh["samples"] == latency["count"] == 3
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]
    assert result["machine"]["database"].startswith("PostgreSQL")
    summary = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## 6. Segmentation: rules against hand-written SQL" in summary
    assert "| event accepted -> `membership.entered` on the feed |" in summary


@pytest.mark.postgres
def test_segmentation_benchmark_refuses_a_hand_written_query_that_disagrees() -> None:
    right = bench_segmentation.RULES[0]
    wrong = replace(right, hand_sql=right.hand_sql.replace("BETWEEN 25 AND 34", "> 25"))
    with pytest.raises(bench_segmentation.CountMismatch, match="trait_equality_range"):
        bench_segmentation.measure_rules(admin_url(), 500, 1000, 1, 5, quiet, rules=[wrong])


@pytest.mark.timeout(900)
def test_recommendation_benchmark_reports_overhead_latency_and_memory(tmp_path: Path) -> None:
    result = bench_recommendation.main(["--quick", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "recommendation.json").read_text(encoding="utf-8")) == result
    fits = result["training"]["fits"]
    assert {(f["algorithm"], f["matrix"]) for f in fits} == {
        (a, m) for a in ("als", "bpr") for m in ("movielens_100k", "synthetic")
    }
    assert all(f["ours_s"] > 0 and f["implicit_direct_s"] > 0 and f["ratio"] > 0 for f in fits)
    job = result["training_job"]
    assert job["ratings"] == bench_recommendation.QUICK.ratings
    assert set(job["stage_seconds"]) == {
        "read",
        "split_and_matrix",
        "fit",
        "evaluate",
        "full_matrix",
        "refit",
    }
    memory = result["model_memory"]
    assert memory["bpr_synthetic"]["user_rows"] == bench_recommendation.QUICK.users
    assert memory["als_synthetic"]["user_rows"] == 0  # ALS keeps no user factors
    assert all(m["memory_bytes"] > 0 and m["load_peak_bytes"] > 0 for m in memory.values())
    serving = result["serving"]
    assert serving["ratings"] == bench_recommendation.QUICK.ratings
    for key in ("personalized_top10", "no_consent_fallback_top10", "similar_items_top10"):
        latency = serving[key]
        assert latency["count"] == bench_recommendation.QUICK.requests
        assert 0 < latency["p50_ms"] <= latency["p99_ms"]
    assert serving["freshness"]["accepted_to_personalized"]["count"] > 0
