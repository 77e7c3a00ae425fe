"""The measurement benchmark (tests/bench/bench_measurement.py) on tiny sizes, SQLite only: every
number it reports is there and sane, and the report it times is the campaign it built. No timing
thresholds: a benchmark reports, it does not judge, and this machine is shared."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench import bench_measurement
from tests.bench.bench_measurement import Sizes

TINY = Sizes(hash_profiles=2000, enroll_members=3000, profiles=3000, events=30_000)


def quiet(_line: str) -> None:
    pass


def test_the_measurement_benchmark_reports_sane_numbers(tmp_path: Path) -> None:
    checkpoints: list[dict[str, object]] = []
    result = bench_measurement.run(TINY, ["sqlite"], output=quiet, checkpoint=checkpoints.append)
    assert result["complete"] is True and checkpoints and checkpoints[-1]["complete"] is False

    hashing = result["assignment_in_process"]
    assert hashing["profiles"] == 2000 and hashing["assignments_per_second"] > 0
    # 10% holdout, two arms of 45%: the observed shares are near them.
    assert abs(hashing["shares"]["holdout"] - 0.1) < 0.03
    assert abs(hashing["shares"]["a"] - 0.45) < 0.05

    [enrollment] = result["enrollment"]
    assert enrollment["database"] == "sqlite" and enrollment["members"] == 3000
    assert enrollment["assignments_logged_per_second"] > 0
    assert enrollment["paging_only_seconds"] > 0 and enrollment["second_pass_seconds"] > 0

    [report] = result["report"]
    rows = report["rows"]
    assert rows["ms_assignments"] == 3000
    assert (
        rows["events"]
        == 30_000
        == rows["ms_exposures"] + rows["ms_touches"] + rows["ms_conversions"]
    )
    assert report["bulk_insert_seconds"] > 0 and report["bulk_insert_rows_per_second"] > 0
    runs = report["build_report"]
    assert set(runs) == {"head", "working_tree"}
    assert report["reports_identical_head_vs_working_tree"] is True
    for run in runs.values():
        assert run["seconds"] > 0 and run["peak_rss_mib"] > 0 and "report" not in run
    stages = report["stages"]
    assert stages["report_identical"] is True
    assert set(stages["stage_seconds"]) >= {
        "load subjects (SQL and per-subject arrays)",
        "analyses (stats.analyze per metric)",
        "rest of build_report",
    }
    assert stages["stage_calls"]["load subjects (SQL and per-subject arrays)"] == 1

    # The report is of the campaign that was built: every subject counted, the contacted sent to.
    arms = report["report"]["arms"]
    assert sum(a["subjects"] for a in arms.values()) == 3000
    assert arms["holdout"]["sends"] == 0
    assert arms["a"]["sends"] + arms["b"]["sends"] == rows["sends"]
    assert arms["a"]["sends"] == arms["a"]["subjects"]
    assert all(0 < a["conversion_rate"] < 1 for a in arms.values())
    assert len(report["report"]["lifts"]) == 6  # 2 arms x 3 metrics
    assert report["report"]["cumulative_points"] > 0 and report["report"]["attribution"]

    machine = result["machine"]
    assert machine["cpu_count"] and "SQLite" in machine["database"]
    path = tmp_path / "measurement.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["report"][0]["rows"] == rows
