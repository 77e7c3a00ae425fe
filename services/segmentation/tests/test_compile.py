"""Every operator compiled to SQL and run on SQLite and PostgreSQL, against hand-written
expectations (each also checked against the Python evaluator)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from segmentation_support import NOW, ReadModel, run_both

from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow, evaluate
from precis_segmentation.rules import parse_rule


def days_ago(days: float) -> Any:
    return NOW - timedelta(days=days)


DATASET = Dataset(
    profiles=[
        ProfileRow(
            "alice",
            {"city": "Shanghai", "age": 34, "newsletter": True, "stage": "newborn"},
            {
                "order_count": 5,
                "revenue": 420.5,
                "rfm_cell": "champions",
                "first_seen": "2025-01-10T00:00:00Z",
                "last_seen": "2026-11-25T08:00:00Z",
            },
        ),
        ProfileRow(
            "bob",
            {"city": "Beijing", "age": "34", "newsletter": False},
            {
                "order_count": 1,
                "revenue": 20,
                "rfm_cell": "at_risk",
                "first_seen": "2026-07-30T00:00:00Z",
                "last_seen": "2026-08-01T00:00:00Z",
            },
        ),
        ProfileRow(
            "chen",
            {"city": "shanghai", "age": 27.5, "newsletter": None},
            {"order_count": 0, "last_seen": "2026-11-28T11:00:00Z"},
        ),
        ProfileRow("dana", {}, {}),
        ProfileRow(
            "eve",
            {"city": "Shenzhen", "age": 41},
            # last seen exactly 30 days before NOW: inside "within the last 30 days".
            {
                "order_count": 12,
                "revenue": 1999,
                "rfm_cell": "loyal",
                "last_seen": "2026-10-29T12:00:00Z",
            },
        ),
    ],
    tags={"alice": {"vip", "mom"}, "bob": {"mom"}, "eve": {"vip"}},
    events=[
        EventRow(
            "alice", "purchase", days_ago(1), {"revenue": 100, "category": "diapers", "quantity": 2}
        ),
        EventRow("alice", "purchase", days_ago(10), {"revenue": 50.5, "category": "formula"}),
        EventRow("alice", "purchase", days_ago(45), {"revenue": 270, "category": "diapers"}),
        EventRow("alice", "view", days_ago(1), {}),
        EventRow("bob", "purchase", days_ago(100), {"revenue": 20, "category": "toys"}),
        EventRow("bob", "view", days_ago(3), {"category": "diapers"}),
        EventRow("chen", "view", days_ago(2), {}),
        # After NOW: never counted at NOW.
        EventRow("eve", "purchase", days_ago(-1), {"revenue": 500}),
        # A revenue that is not a number adds nothing to a sum.
        EventRow("eve", "purchase", days_ago(20), {"revenue": "n/a", "category": "stroller"}),
        EventRow(
            "eve", "purchase", days_ago(5), {"revenue": 1000, "category": "stroller", "points": 7}
        ),
        # Events of a profile the read model does not hold are never members.
        EventRow("ghost", "purchase", days_ago(1), {"revenue": 5}),
    ],
    consent={
        ("alice", "marketing_email"): True,
        ("bob", "marketing_email"): False,
        ("chen", "marketing_sms"): True,
    },
    memberships={"s_vip": {"alice", "eve"}},
    # A model's output (propensity, similarity, cluster index); unscored profiles match nothing.
    scores={("pm_1", "alice"): 0.9, ("pm_1", "bob"): 0.2, ("pm_1", "chen"): 0.5},
)

EVERYONE = {"alice", "bob", "chen", "dana", "eve"}


def f(name: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": name, "op": op, "value": value}


def purchase(**spec: Any) -> dict[str, Any]:
    return {"event": {"name": "purchase", **spec}}


CASES = [
    ({"score": {"model": "pm_1", "op": ">=", "value": 0.5}}, {"alice", "chen"}),
    ({"score": {"model": "pm_1", "op": "<", "value": 0.5}}, {"bob"}),
    ({"score": {"model": "pm_2", "op": ">=", "value": 0}}, set()),
    ({"not": {"score": {"model": "pm_1", "op": ">=", "value": 0.5}}}, {"bob", "dana", "eve"}),
    # comparisons: only values of the literal's JSON type take part
    (f("traits.city", "=", "Shanghai"), {"alice"}),
    (f("traits.city", "!=", "Shanghai"), {"bob", "chen", "eve"}),
    (f("traits.age", "=", 34), {"alice"}),
    (f("traits.age", "=", "34"), {"bob"}),
    (f("traits.age", "!=", 34), {"chen", "eve"}),
    (f("traits.age", "<", 34), {"chen"}),
    (f("traits.age", "<=", 34), {"alice", "chen"}),
    (f("traits.age", ">", 34), {"eve"}),
    (f("traits.age", ">=", 34.0), {"alice", "eve"}),
    # strings order by code point: "Beijing" < "Shanghai" < "Shenzhen" < "shanghai"
    (f("traits.city", "<", "Shanghai"), {"bob"}),
    (f("traits.city", ">", "Shanghai"), {"chen", "eve"}),
    (f("traits.newsletter", "=", True), {"alice"}),
    (f("traits.newsletter", "=", False), {"bob"}),
    (f("traits.newsletter", "!=", True), {"bob"}),
    (f("traits.age", "in", [27.5, "34"]), {"bob", "chen"}),
    (f("traits.city", "contains", "hai"), {"alice", "chen"}),
    (f("traits.city", "contains", "Shang"), {"alice"}),
    (f("traits.newsletter", "exists", True), {"alice", "bob"}),
    (f("traits.newsletter", "exists", False), {"chen", "dana", "eve"}),
    (f("traits.age", "between", [27.5, 34]), {"alice", "chen"}),
    (f("traits.city", "between", ["A", "Sh"]), {"bob"}),
    (f("computed.revenue", ">", 400), {"alice", "eve"}),
    (f("computed.rfm_cell", "in", ["champions", "loyal"]), {"alice", "eve"}),
    # relative dates on canonical UTC strings
    (f("computed.last_seen", "within_last_days", 30), {"alice", "chen", "eve"}),
    (f("computed.last_seen", "more_than_days_ago", 30), {"bob"}),
    (f("computed.first_seen", "more_than_days_ago", 365), {"alice"}),
    (f("computed.first_seen", "within_last_days", 365), {"bob"}),
    # tags
    (f("tags", "contains", "vip"), {"alice", "eve"}),
    (f("tags", "in", ["mom", "expecting"]), {"alice", "bob"}),
    (f("tags", "exists", True), {"alice", "bob", "eve"}),
    (f("tags", "exists", False), {"chen", "dana"}),
    # events: count (default: at least one), windows, absence
    (purchase(), {"alice", "bob", "eve"}),
    (purchase(within_days=30), {"alice", "eve"}),
    (purchase(within_days=30, did_not=True), {"bob", "chen", "dana"}),
    (purchase(did_not=True), {"chen", "dana"}),
    (purchase(within_days=30, count={"op": ">=", "value": 2}), {"alice", "eve"}),
    (purchase(count={"op": ">=", "value": 3}), {"alice"}),
    (purchase(count={"op": "=", "value": 1}), {"bob"}),
    (purchase(count={"op": "<=", "value": 1}), {"bob", "chen", "dana"}),
    (purchase(count={"op": "<", "value": 2}), {"bob", "chen", "dana"}),
    (purchase(count={"op": "!=", "value": 2}), {"alice", "bob", "chen", "dana"}),
    (purchase(count={"op": ">", "value": 0}), {"alice", "bob", "eve"}),
    (purchase(between=["2026-10-01", "2026-11-20"]), {"alice", "eve"}),
    # windows are half-open, [start, end): alice bought at 11-18T12:00Z, eve at 11-23T12:00Z
    (purchase(between=["2026-11-01T00:00:00+08:00", "2026-11-18T12:00:00Z"]), {"eve"}),
    (purchase(between=["2026-11-18T12:00:01Z", "2026-11-23T12:00:00Z"]), set()),
    (purchase(between=["2026-11-18T20:00:00+08:00", "2026-11-23T12:00:01Z"]), {"alice", "eve"}),
    # sums: of a promoted column (revenue, quantity) or of any numeric property
    (
        purchase(within_days=30, sum={"property": "revenue", "op": ">=", "value": 150}),
        {"alice", "eve"},
    ),
    (purchase(within_days=30, sum={"property": "revenue", "op": "=", "value": 150.5}), {"alice"}),
    (purchase(sum={"property": "revenue", "op": ">", "value": 420}), {"alice", "eve"}),
    (purchase(sum={"property": "revenue", "op": "<", "value": 100}), {"bob", "chen", "dana"}),
    (purchase(sum={"property": "points", "op": ">=", "value": 7}), {"eve"}),
    (
        purchase(sum={"property": "points", "op": "<=", "value": 0}),
        {"alice", "bob", "chen", "dana"},
    ),
    (purchase(sum={"property": "quantity", "op": "=", "value": 2}), {"alice"}),
    # property filters
    (purchase(where=[f("properties.category", "=", "diapers")]), {"alice"}),
    (
        {"event": {"name": "view", "where": [f("properties.category", "=", "diapers")]}},
        {"bob"},
    ),
    (purchase(where=[f("properties.category", "in", ["stroller", "toys"])]), {"bob", "eve"}),
    (purchase(within_days=30, where=[f("properties.revenue", ">", 60)]), {"alice", "eve"}),
    (
        purchase(
            where=[f("properties.category", "contains", "er"), f("properties.revenue", "<", 200)],
            count={"op": ">=", "value": 1},
        ),
        {"alice"},
    ),
    (
        {"event": {"name": "view", "where": [f("properties.category", "exists", False)]}},
        {"alice", "chen"},
    ),
    # consent and segments
    ({"consent": "marketing_email"}, {"alice"}),
    ({"not": {"consent": "marketing_email"}}, {"bob", "chen", "dana", "eve"}),
    ({"segment": "s_vip"}, {"alice", "eve"}),
    ({"segment": "s_empty"}, set()),
    # combinators
    ({"all": [f("tags", "contains", "mom"), {"not": purchase(within_days=30)}]}, {"bob"}),
    ({"any": [f("traits.age", ">", 40), {"consent": "marketing_sms"}]}, {"chen", "eve"}),
    ({"not": f("traits.age", ">", 30)}, {"bob", "chen", "dana"}),
    ({"not": {"not": f("traits.age", ">", 30)}}, {"alice", "eve"}),
    (
        {
            "any": [
                {
                    "all": [
                        {"segment": "s_vip"},
                        purchase(
                            within_days=7, sum={"property": "revenue", "op": ">=", "value": 500}
                        ),
                    ]
                },
                {
                    "all": [
                        f("computed.order_count", "<", 1),
                        {"event": {"name": "view", "within_days": 7}},
                    ]
                },
            ]
        },
        {"eve", "chen"},
    ),
]


@pytest.fixture
def loaded(read_model: ReadModel) -> ReadModel:
    read_model.load(DATASET)
    # The same people in another workspace, plus one more: never visible from ws_test.
    other = Dataset(
        profiles=[*DATASET.profiles, ProfileRow("zed", {"age": 50}, {})], tags={"zed": {"vip"}}
    )
    read_model.load(other, workspace_id="ws_other")
    return read_model


@pytest.mark.parametrize(("doc", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_every_operator_on_both_databases(loaded: ReadModel, doc: Any, expected: set[str]) -> None:
    assert run_both(loaded, doc, DATASET) == expected


def test_not_is_the_complement_within_the_workspace(loaded: ReadModel) -> None:
    for doc, expected in CASES:
        assert run_both(loaded, {"not": doc}, DATASET) == EVERYONE - expected


def test_now_is_a_parameter_not_the_database_clock(loaded: ReadModel) -> None:
    doc = purchase(within_days=3)
    assert run_both(loaded, doc, DATASET, now=NOW) == {"alice"}
    # Two days later eve's purchase (a day after NOW) has happened; alice's is 3 days old.
    assert run_both(loaded, doc, DATASET, now=NOW + timedelta(days=2)) == {"alice", "eve"}
    assert run_both(loaded, doc, DATASET, now=NOW + timedelta(days=30)) == set()


def test_other_workspaces_are_invisible(loaded: ReadModel) -> None:
    rule = parse_rule(f("traits.age", ">", 45))
    assert loaded.select(rule) == set()
    assert loaded.select(rule, workspace_id="ws_other") == {"zed"}
    assert evaluate(rule, DATASET, now=NOW) == set()
