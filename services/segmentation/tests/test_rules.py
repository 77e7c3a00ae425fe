"""Validation of rule documents: every refusal names the JSON path and the reason."""

from __future__ import annotations

from typing import Any

import pytest

from precis_segmentation.rules import (
    AllOf,
    Condition,
    EventCondition,
    FieldCondition,
    Limits,
    Not,
    RuleInvalid,
    SegmentCondition,
    TagCondition,
    Window,
    parse_rule,
)

AGE = {"field": "traits.age", "op": ">=", "value": 18}
PURCHASE = {"event": {"name": "purchase"}}


def refusal(doc: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(RuleInvalid) as caught:
        parse_rule(doc, **kwargs)
    return [(p.path, p.reason) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("doc", "path", "reason"),
    [
        pytest.param(
            {"all": [AGE, PURCHASE, {"event": {"name": "purchase", "within_days": -3}}]},
            "$.all[2].event.within_days",
            "negative number of days",
            id="negative-window",
        ),
        pytest.param(
            {"event": {"name": "purchase", "within_days": 0}},
            "$.event.within_days",
            "impossible window",
            id="empty-window",
        ),
        pytest.param(
            {"event": {"name": "purchase", "within_days": 2.5}},
            "$.event.within_days",
            "whole number",
            id="fractional-window",
        ),
        pytest.param(
            {"event": {"name": "purchase", "within_days": "30"}},
            "$.event.within_days",
            "not string",
            id="window-as-string",
        ),
        pytest.param(
            {"event": {"name": "purchase", "between": ["2026-03-01", "2026-02-01"]}},
            "$.event.between",
            "start is not before end",
            id="start-after-end",
        ),
        pytest.param(
            {"event": {"name": "purchase", "between": ["2026-02-30", "2026-03-01"]}},
            "$.event.between[0]",
            "not an ISO-8601 date",
            id="bad-date",
        ),
        pytest.param(
            {"event": {"name": "purchase", "between": ["2026-02-01"]}},
            "$.event.between",
            "[start, end]",
            id="one-bound",
        ),
        pytest.param(
            {
                "event": {
                    "name": "purchase",
                    "within_days": 3,
                    "between": ["2026-01-01", "2026-02-01"],
                }
            },
            "$.event",
            "exclude each other",
            id="two-windows",
        ),
        pytest.param(
            {"field": "traits.age", "op": "=", "value": 1, "extra": 1},
            "$.extra",
            "unknown field",
            id="unknown-field",
        ),
        pytest.param(
            {"event": {"name": "purchase", "when": "yesterday"}},
            "$.event.when",
            "unknown field",
            id="unknown-event-field",
        ),
        pytest.param(
            {"field": "colour", "op": "=", "value": "red"},
            "$.field",
            "unknown field 'colour'",
            id="unknown-source",
        ),
        pytest.param(
            {"field": "traits.first name", "op": "=", "value": "x"},
            "$.field",
            "letters, digits or _",
            id="bad-field-name",
        ),
        pytest.param(
            {"field": "traits.age", "op": "like", "value": 1},
            "$.op",
            "unknown operator 'like'",
            id="unknown-operator",
        ),
        pytest.param(
            {"field": "traits.age", "value": 1},
            "$.op",
            "is required",
            id="missing-operator",
        ),
        pytest.param(
            {"field": "traits.vip", "op": ">", "value": True},
            "$.value",
            "no order",
            id="ordering-booleans",
        ),
        pytest.param(
            {"field": "traits.age", "op": "=", "value": [1]},
            "$.value",
            "not array",
            id="array-literal",
        ),
        pytest.param(
            {"field": "traits.age", "op": "=", "value": None},
            "$.value",
            "not null",
            id="null-literal",
        ),
        pytest.param(
            {"field": "traits.city", "op": "in", "value": "Shanghai"},
            "$.value",
            "array of values",
            id="in-not-array",
        ),
        pytest.param(
            {"field": "traits.city", "op": "in", "value": []},
            "$.value",
            "at least one value",
            id="in-empty",
        ),
        pytest.param(
            {"field": "traits.city", "op": "in", "value": ["a", {"b": 1}]},
            "$.value[1]",
            "not object",
            id="in-object-item",
        ),
        pytest.param(
            {"field": "traits.age", "op": "between", "value": [40, 18]},
            "$.value",
            "impossible range",
            id="between-reversed",
        ),
        pytest.param(
            {"field": "traits.age", "op": "between", "value": [18, "40"]},
            "$.value",
            "both be numbers or both be strings",
            id="between-mixed",
        ),
        pytest.param(
            {"field": "traits.name", "op": "contains", "value": 3},
            "$.value",
            "contains takes a string",
            id="contains-number",
        ),
        pytest.param(
            {"field": "traits.email", "op": "exists", "value": "yes"},
            "$.value",
            "true or false",
            id="exists-string",
        ),
        pytest.param(
            {"field": "computed.last_seen", "op": "within_last_days", "value": -1},
            "$.value",
            "negative number of days",
            id="relative-negative",
        ),
        pytest.param(
            {"field": "tags", "op": ">", "value": "vip"},
            "$.op",
            "expected one of: contains, in, exists",
            id="tags-ordering",
        ),
        pytest.param(
            {"field": "tags", "op": "in", "value": ["vip", 3]},
            "$.value[1]",
            "must be a string",
            id="tags-number",
        ),
        pytest.param(
            {"event": {"within_days": 3}},
            "$.event.name",
            "is required",
            id="event-without-name",
        ),
        pytest.param(
            {"event": {"name": "purchase", "count": {"op": ">=", "value": 2}, "did_not": True}},
            "$.event",
            "exclude each other",
            id="count-and-did-not",
        ),
        pytest.param(
            {"event": {"name": "purchase", "count": {"op": ">=", "value": -1}}},
            "$.event.count.value",
            "never negative",
            id="negative-count",
        ),
        pytest.param(
            {"event": {"name": "purchase", "count": {"op": "<", "value": 0}}},
            "$.event.count",
            "never below 0",
            id="count-below-zero",
        ),
        pytest.param(
            {"event": {"name": "purchase", "count": {"op": "~", "value": 1}}},
            "$.event.count.op",
            "unknown operator",
            id="count-operator",
        ),
        pytest.param(
            {
                "event": {
                    "name": "purchase",
                    "sum": {"property": "revenue", "op": ">=", "value": "100"},
                }
            },
            "$.event.sum.value",
            "must be a number",
            id="sum-string",
        ),
        pytest.param(
            {"event": {"name": "purchase", "sum": {"op": ">=", "value": 100}}},
            "$.event.sum.property",
            "is required",
            id="sum-without-property",
        ),
        pytest.param(
            {"event": {"name": "purchase", "did_not": False}},
            "$.event.did_not",
            "must be true",
            id="did-not-false",
        ),
        pytest.param(
            {
                "event": {
                    "name": "purchase",
                    "where": [{"field": "traits.age", "op": "=", "value": 1}],
                }
            },
            "$.event.where[0].field",
            "expected properties.<name>",
            id="filter-on-trait",
        ),
        pytest.param(
            {"event": {"name": "purchase", "where": {"field": "properties.sku"}}},
            "$.event.where",
            "array of property filters",
            id="where-not-array",
        ),
        pytest.param(
            {"any": [{"consent": "spam"}]},
            "$.any[0].consent",
            "unknown purpose",
            id="unknown-purpose",
        ),
        pytest.param(
            {"segment": "no spaces allowed"},
            "$.segment",
            "segment id",
            id="bad-segment-id",
        ),
        pytest.param({"not": [AGE]}, "$.not", "condition object, not array", id="not-array"),
        pytest.param({"all": []}, "$.all", "at least one condition", id="empty-all"),
        pytest.param({"any": AGE}, "$.any", "array of conditions", id="any-object"),
        pytest.param(
            {"all": [AGE], "not": AGE},
            "$",
            "exactly one of",
            id="two-kinds",
        ),
        pytest.param({"size": 3}, "$", "needs one of", id="no-kind"),
        pytest.param([AGE], "$", "not array", id="top-level-array"),
        pytest.param(
            {
                "all": [
                    {"all": [{"all": [{"all": [{"all": [{"all": [{"all": [{"all": [AGE]}]}]}]}]}]}]}
                ]
            },
            "$.all[0].all[0].all[0].all[0].all[0].all[0].all[0].all[0]",
            "too expensive: nested deeper than 8 levels",
            id="too-deep",
        ),
        pytest.param(
            {"any": [AGE] * 70},
            "$.any[63]",
            "too expensive: more than 64 conditions",
            id="too-many-conditions",
        ),
        pytest.param(
            {"any": [PURCHASE] * 17},
            "$.any[16].event",
            "too expensive: more than 16 event conditions",
            id="too-many-events",
        ),
        pytest.param(
            {"field": "traits.city", "op": "in", "value": [str(i) for i in range(1001)]},
            "$.value",
            "too expensive: more than 1000 values",
            id="in-too-long",
        ),
    ],
)
def test_refusals_name_the_path_and_the_reason(doc: Any, path: str, reason: str) -> None:
    problems = refusal(doc)
    assert any(p == path and reason in r for p, r in problems), problems


def test_every_problem_of_a_document_is_reported() -> None:
    problems = refusal(
        {
            "all": [
                {"field": "traits.age", "op": "<", "value": True},
                {"event": {"name": "purchase", "within_days": -1, "colour": 1}},
            ]
        }
    )
    assert [p for p, _ in problems] == [
        "$.all[0].value",
        "$.all[1].event.colour",
        "$.all[1].event.within_days",
    ]


def test_a_rule_that_refers_to_its_own_segment_is_refused() -> None:
    doc = {"all": [AGE, {"not": {"segment": "s_a"}}]}
    assert refusal(doc, segment_id="s_a") == [
        ("$.all[1].not.segment", "cycle: segment s_a refers to itself")
    ]


def test_a_cycle_through_other_segments_is_refused_with_the_chain() -> None:
    rules: dict[str, Condition] = {
        "s_b": parse_rule({"any": [AGE, {"segment": "s_c"}]}),
        "s_c": parse_rule({"segment": "s_a"}),
        "s_d": parse_rule(AGE),
    }
    doc = {"all": [{"segment": "s_d"}, {"segment": "s_b"}]}
    assert refusal(doc, segment_id="s_a", resolve=rules.get) == [
        ("$.all[1].segment", "cycle: s_a -> s_b -> s_c -> s_a")
    ]
    # The same references without the way back are fine.
    assert parse_rule(doc, segment_id="s_x", resolve=rules.get)


def test_references_to_unknown_segments_are_refused() -> None:
    assert refusal({"segment": "s_gone"}, segment_id="s_a", resolve=lambda _: None) == [
        ("$.segment", "unknown segment s_gone")
    ]


def test_limits_are_the_callers_to_choose() -> None:
    doc = {"any": [AGE, AGE, AGE]}
    assert refusal(doc, limits=Limits(max_conditions=3))[0][1].startswith("too expensive")
    assert parse_rule(doc, limits=Limits(max_conditions=4))


def test_a_valid_rule_becomes_a_typed_tree() -> None:
    rule = parse_rule(
        {
            "all": [
                {"field": "computed.order_count", "op": ">=", "value": 2},
                {"field": "tags", "op": "in", "value": ["vip", "mom", "vip"]},
                {
                    "not": {
                        "event": {
                            "name": "purchase",
                            "where": [
                                {"field": "properties.category", "op": "=", "value": "diapers"}
                            ],
                            "sum": {"property": "revenue", "op": ">", "value": 100},
                            "between": ["2026-01-01", "2026-02-01T08:00:00+08:00"],
                        }
                    }
                },
                {"segment": "s_vip"},
            ]
        }
    )
    assert isinstance(rule, AllOf)
    order_count, tags, absent, member = rule.conditions
    assert order_count == FieldCondition("computed", "order_count", ">=", 2.0)
    assert tags == TagCondition("in", ("vip", "mom"))
    assert isinstance(absent, Not) and isinstance(absent.condition, EventCondition)
    event = absent.condition
    assert (event.measure, event.sum_property, event.op, event.threshold) == (
        "sum",
        "revenue",
        ">",
        100.0,
    )
    assert event.where == (FieldCondition("properties", "category", "=", "diapers"),)
    assert event.window is not None and event.window.start is not None
    assert event.window.start.isoformat() == "2026-01-01T00:00:00+00:00"
    assert event.window == Window(start=event.window.start, end=event.window.end)
    assert (
        event.window.end is not None and event.window.end.isoformat() == "2026-02-01T00:00:00+00:00"
    )
    assert member == SegmentCondition("s_vip")


def test_did_not_is_a_count_of_zero() -> None:
    rule = parse_rule({"event": {"name": "app_open", "did_not": True, "within_days": 14}})
    assert isinstance(rule, EventCondition)
    assert (rule.measure, rule.op, rule.threshold, rule.window) == (
        "count",
        "=",
        0.0,
        Window(within_days=14),
    )


def test_in_keeps_values_of_different_types_apart() -> None:
    # In Python True == 1 == 1.0; in the rule language a boolean is not a number.
    rule = parse_rule({"field": "traits.flag", "op": "in", "value": [1, True, 1.0, "1", True]})
    assert rule == FieldCondition("traits", "flag", "in", (1.0, True, "1"))
