"""Rule-based tags (标签): a small condition language over a profile's traits and computed traits.

A rule is JSON, either a condition

    {"trait": "computed.rfm.cell", "op": "in", "value": ["champions", "loyal"]}

or a combination: ``{"all": [rule, ...]}``, ``{"any": [rule, ...]}``, ``{"not": rule}``. A path
starts with ``computed.`` (the computed traits a profile shows: ``computed.order_count``,
``computed.rfm.cell``, ``computed.predicted_clv.clv``, ...) or ``traits.`` (identify traits;
dots walk into objects). Operators: eq, ne, gt, gte, lt, lte, in, not_in, exists, not_exists.

Decisions, written down here because marketers will rely on them:
  - a path that leads nowhere (missing trait, null) makes every comparison false, ``ne`` and
    ``not_in`` included: "revenue != 0" should not tag profiles that have no revenue at all.
    ``not_exists`` is how to ask for the missing ones;
  - ordering operators compare numbers with numbers and strings with strings (ISO dates order
    correctly as strings); anything else is false rather than an error, because one profile's
    odd trait must not break a tag for the whole workspace. Booleans are not numbers here;
  - a rule is limited in size (depth 6, 50 conditions, 100 values in a list) so that evaluating
    it for every profile at every change stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from precis_common.errors import InvalidArgument, Violation

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "exists", "not_exists")
ROOTS = ("computed", "traits")
MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_LIST_VALUES = 100
MAX_PATH = 200


@dataclass(frozen=True, slots=True)
class Condition:
    path: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Combination:
    kind: str  # all, any, not
    parts: tuple[Rule, ...]


Rule = Condition | Combination


def parse_rule(doc: Any, field: str = "rule") -> Rule:
    """The rule in `doc`, or InvalidArgument naming every offending field."""
    violations: list[Violation] = []
    count = [0]
    rule = _parse(doc, field, 1, violations, count)
    if count[0] > MAX_CONDITIONS:
        violations.append(Violation(field, f"has {count[0]} conditions; at most {MAX_CONDITIONS}"))
    if violations or rule is None:
        raise InvalidArgument(
            "; ".join(f"{v.field}: {v.description}" for v in violations) or f"{field}: invalid",
            violations,
        )
    return rule


def _parse(
    doc: Any, field: str, depth: int, violations: list[Violation], count: list[int]
) -> Rule | None:
    if depth > MAX_DEPTH:
        violations.append(Violation(field, f"nests deeper than {MAX_DEPTH} levels"))
        return None
    if not isinstance(doc, dict):
        violations.append(Violation(field, "must be a JSON object"))
        return None
    combinators = [k for k in ("all", "any", "not") if k in doc]
    if combinators:
        if len(doc) != 1:
            violations.append(
                Violation(field, "a combination has exactly one key: all, any or not")
            )
            return None
        kind = combinators[0]
        inner = doc[kind]
        if kind == "not":
            part = _parse(inner, f"{field}.not", depth + 1, violations, count)
            return Combination("not", (part,)) if part is not None else None
        if not isinstance(inner, list) or not inner:
            violations.append(Violation(f"{field}.{kind}", "must be a non-empty list of rules"))
            return None
        parts = [
            _parse(item, f"{field}.{kind}[{i}]", depth + 1, violations, count)
            for i, item in enumerate(inner)
        ]
        if any(p is None for p in parts):
            return None
        return Combination(kind, tuple(p for p in parts if p is not None))
    count[0] += 1
    unknown = sorted(set(doc) - {"trait", "op", "value"})
    if unknown:
        violations.append(
            Violation(field, f"unknown keys {unknown}; a condition has trait, op and value")
        )
    path = doc.get("trait")
    parts_ok = True
    if not isinstance(path, str) or not path:
        violations.append(
            Violation(f"{field}.trait", "is required: computed.<name> or traits.<name>")
        )
        parts_ok = False
    elif len(path) > MAX_PATH:
        violations.append(Violation(f"{field}.trait", f"must be at most {MAX_PATH} characters"))
        parts_ok = False
    else:
        segments = tuple(path.split("."))
        if segments[0] not in ROOTS or len(segments) < 2 or not all(segments):
            violations.append(
                Violation(f"{field}.trait", "must be computed.<name> or traits.<name>")
            )
            parts_ok = False
    op = doc.get("op")
    if op not in OPS:
        violations.append(Violation(f"{field}.op", f"must be one of {', '.join(OPS)}"))
        return None
    value = doc.get("value")
    if op in ("exists", "not_exists"):
        if "value" in doc:
            violations.append(Violation(f"{field}.value", f"must be absent for {op}"))
    elif "value" not in doc or value is None:
        violations.append(Violation(f"{field}.value", f"is required for {op}"))
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            violations.append(Violation(f"{field}.value", f"must be a non-empty list for {op}"))
        elif len(value) > MAX_LIST_VALUES:
            violations.append(
                Violation(f"{field}.value", f"must have at most {MAX_LIST_VALUES} values")
            )
        elif not all(_scalar(v) for v in value):
            violations.append(Violation(f"{field}.value", "must hold strings, numbers or booleans"))
    elif not _scalar(value):
        violations.append(Violation(f"{field}.value", "must be a string, number or boolean"))
    elif op in ("gt", "gte", "lt", "lte") and isinstance(value, bool):
        violations.append(Violation(f"{field}.value", f"must be a number or a string for {op}"))
    if not parts_ok:
        return None
    assert isinstance(path, str)
    return Condition(tuple(path.split(".")), op, value)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def rule_to_json(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, Condition):
        doc: dict[str, Any] = {"trait": ".".join(rule.path), "op": rule.op}
        if rule.op not in ("exists", "not_exists"):
            doc["value"] = rule.value
        return doc
    if rule.kind == "not":
        return {"not": rule_to_json(rule.parts[0])}
    return {rule.kind: [rule_to_json(p) for p in rule.parts]}


_MISSING = object()


def _lookup(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = doc
    for segment in path:
        if not isinstance(value, Mapping) or segment not in value:
            return _MISSING
        value = value[segment]
    return _MISSING if value is None else value


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return (isinstance(a, int | float) and isinstance(b, int | float)) or (
        isinstance(a, str) and isinstance(b, str)
    )


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False  # true is not 1
    return bool(a == b)


def matches(rule: Rule, doc: Mapping[str, Any]) -> bool:
    """Whether a profile, given as {"computed": {...}, "traits": {...}}, matches the rule."""
    if isinstance(rule, Combination):
        if rule.kind == "all":
            return all(matches(p, doc) for p in rule.parts)
        if rule.kind == "any":
            return any(matches(p, doc) for p in rule.parts)
        return not matches(rule.parts[0], doc)
    actual = _lookup(doc, rule.path)
    if rule.op == "exists":
        return actual is not _MISSING
    if rule.op == "not_exists":
        return actual is _MISSING
    if actual is _MISSING:
        return False
    expected = rule.value
    match rule.op:
        case "eq":
            return _equal(actual, expected)
        case "ne":
            return not _equal(actual, expected)
        case "in":
            return any(_equal(actual, v) for v in expected)
        case "not_in":
            return not any(_equal(actual, v) for v in expected)
    if not _comparable(actual, expected):
        return False
    match rule.op:
        case "gt":
            return bool(actual > expected)
        case "gte":
            return bool(actual >= expected)
        case "lt":
            return bool(actual < expected)
        case _:
            return bool(actual <= expected)
