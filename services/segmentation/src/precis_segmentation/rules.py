"""The segment rule language: JSON parsed and validated into a typed AST (see README.md).

Every problem found is reported with the JSON path of the offending value (`$.all[2].event.
within_days`) and the reason; parsing collects all problems of a document before refusing it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeAlias, cast

from precis_segmentation.store import canonical_time

# A JSON scalar a condition compares with. bool is checked before int everywhere: in Python
# True is an int, in the rule language it is not a number.
Scalar: TypeAlias = str | float | bool

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
ORDERINGS = ("<", "<=", ">", ">=")
FIELD_OPERATORS = (
    *COMPARISONS,
    "in",
    "contains",
    "exists",
    "between",
    "within_last_days",
    "more_than_days_ago",
)
TAG_OPERATORS = ("contains", "in", "exists")
FieldSource = Literal["traits", "computed", "properties"]

# Consent purposes of the platform (ARCHITECTURE.md, consent).
PURPOSES = (
    "analytics",
    "personalization",
    "marketing_email",
    "marketing_sms",
    "marketing_push",
    "ads_targeting",
    "third_party_sharing",
    "cross_border_transfer",
    "sensitive_data",
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_SEGMENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
MAX_WINDOW_DAYS = 36_600  # a century: anything longer is a mistake, not a window
MAX_STRING = 1_000


@dataclass(frozen=True)
class Limits:
    """What a rule may cost. A rule past a limit is refused as too expensive."""

    max_depth: int = 8
    max_conditions: int = 64
    max_event_conditions: int = 16
    max_in_values: int = 1_000
    max_property_filters: int = 16


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class RuleInvalid(ValueError):
    """A rule refused, with every problem found (path and reason)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


# ---- the AST ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldCondition:
    """A test of one value of a profile (`traits.x`, `computed.x`) or of an event
    (`properties.x`). `value` depends on `op`: a Scalar for comparisons and contains, a tuple of
    Scalars for in, a (low, high) pair for between, a bool for exists, whole days for the
    relative date operators."""

    source: FieldSource
    name: str
    op: str
    value: Any


@dataclass(frozen=True)
class TagCondition:
    """`contains`: has the tag; `in`: has any of the tags; `exists`: has any tag (or none)."""

    op: Literal["contains", "in", "exists"]
    value: Any


@dataclass(frozen=True)
class Window:
    """Events with start <= occurred_at < end; `within_days` counts back from `now`."""

    within_days: int | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class EventCondition:
    """The count of a profile's matching events, or the sum of one numeric property over them,
    compared with a threshold. Events after `now` never count."""

    name: str
    where: tuple[FieldCondition, ...]
    measure: Literal["count", "sum"]
    sum_property: str | None
    op: str
    threshold: float
    window: Window | None


@dataclass(frozen=True)
class ConsentCondition:
    purpose: str


@dataclass(frozen=True)
class SegmentCondition:
    segment_id: str


@dataclass(frozen=True)
class ScoreCondition:
    """A model's output for the profile (a predictive score, a lookalike similarity, a cluster
    index) compared with a number; a profile the model has not scored matches nothing."""

    model_id: str
    op: str
    value: float


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


Condition: TypeAlias = (
    FieldCondition
    | TagCondition
    | EventCondition
    | ConsentCondition
    | SegmentCondition
    | ScoreCondition
    | AllOf
    | AnyOf
    | Not
)


def walk(condition: Condition) -> Iterator[Condition]:
    """Every condition of a rule, the rule first."""
    yield condition
    if isinstance(condition, AllOf | AnyOf):
        for child in condition.conditions:
            yield from walk(child)
    elif isinstance(condition, Not):
        yield from walk(condition.condition)


def segment_references(condition: Condition) -> set[str]:
    return {c.segment_id for c in walk(condition) if isinstance(c, SegmentCondition)}


# Given a segment id, the rule of that segment, or None when there is no such segment.
SegmentResolver = Callable[[str], "Condition | None"]
# Whether a model id names a model of the workspace whose scores rules may use.
ModelResolver = Callable[[str], bool]


def threshold_holds(op: str, left: float, right: float) -> bool:
    """The comparison operators on numbers, as both the evaluator and the compiler read them."""
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    raise ValueError(f"not a comparison: {op}")


# ---- parsing ------------------------------------------------------------------------------


@dataclass
class _Parser:
    limits: Limits
    problems: list[Problem] = field(default_factory=list)
    conditions: int = 0
    events: int = 0
    too_expensive: bool = False
    segment_paths: list[tuple[str, str]] = field(default_factory=list)
    model_paths: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def object(self, doc: Any, path: str, allowed: tuple[str, ...]) -> bool:
        if not isinstance(doc, dict):
            self.fail(path, f"must be an object, not {_json_type(doc)}")
            return False
        for key in doc:
            if key not in allowed:
                self.fail(f"{path}.{key}", f"unknown field (expected one of: {', '.join(allowed)})")
        return True

    # -- conditions --

    def condition(self, doc: Any, path: str, depth: int) -> Condition | None:
        if depth > self.limits.max_depth:
            if not self.too_expensive:
                self.fail(path, f"too expensive: nested deeper than {self.limits.max_depth} levels")
                self.too_expensive = True
            return None
        self.conditions += 1
        if self.conditions == self.limits.max_conditions + 1:
            self.fail(path, f"too expensive: more than {self.limits.max_conditions} conditions")
        if not isinstance(doc, dict):
            self.fail(path, f"must be a condition object, not {_json_type(doc)}")
            return None
        kinds = [
            k
            for k in ("all", "any", "not", "field", "event", "consent", "segment", "score")
            if k in doc
        ]
        if len(kinds) != 1:
            if kinds:
                reason = (
                    "a condition has exactly one of all, any, not, field, event, consent, "
                    f"segment, score (found {', '.join(kinds)})"
                )
            else:
                reason = (
                    "a condition needs one of all, any, not, field, event, consent, segment, score"
                )
            self.fail(path, reason)
            return None
        kind = kinds[0]
        if kind in ("all", "any"):
            if not self.object(doc, path, (kind,)):
                return None
            items = doc[kind]
            if not isinstance(items, list):
                self.fail(
                    f"{path}.{kind}", f"must be an array of conditions, not {_json_type(items)}"
                )
                return None
            if not items:
                self.fail(f"{path}.{kind}", "must hold at least one condition")
                return None
            children = [
                self.condition(item, f"{path}.{kind}[{i}]", depth + 1)
                for i, item in enumerate(items)
            ]
            parsed = tuple(c for c in children if c is not None)
            if len(parsed) != len(children):
                return None
            return AllOf(parsed) if kind == "all" else AnyOf(parsed)
        if kind == "not":
            if not self.object(doc, path, ("not",)):
                return None
            inner = self.condition(doc["not"], f"{path}.not", depth + 1)
            return None if inner is None else Not(inner)
        if kind == "field":
            return self.field_condition(doc, path, ("traits", "computed", "tags"))
        if kind == "event":
            if not self.object(doc, path, ("event",)):
                return None
            return self.event_condition(doc["event"], f"{path}.event")
        if kind == "consent":
            if not self.object(doc, path, ("consent",)):
                return None
            purpose = doc["consent"]
            if not isinstance(purpose, str):
                self.fail(f"{path}.consent", f"must be a purpose name, not {_json_type(purpose)}")
                return None
            if purpose not in PURPOSES:
                self.fail(
                    f"{path}.consent", f"unknown purpose (expected one of: {', '.join(PURPOSES)})"
                )
                return None
            return ConsentCondition(purpose)
        if kind == "score":
            if not self.object(doc, path, ("score",)):
                return None
            return self.score_condition(doc["score"], f"{path}.score")
        if not self.object(doc, path, ("segment",)):
            return None
        segment_id = doc["segment"]
        if not isinstance(segment_id, str) or not _SEGMENT_ID.match(segment_id):
            self.fail(f"{path}.segment", "must be a segment id (1-64 letters, digits, _ . : -)")
            return None
        self.segment_paths.append((segment_id, f"{path}.segment"))
        return SegmentCondition(segment_id)

    def field_condition(
        self, doc: dict[str, Any], path: str, sources: tuple[str, ...]
    ) -> FieldCondition | TagCondition | None:
        if not self.object(doc, path, ("field", "op", "value")):
            return None
        ok = True
        for key in ("op", "value"):
            if key not in doc:
                self.fail(f"{path}.{key}", "is required")
                ok = False
        name = doc["field"]
        source, field_name = self.field_name(name, f"{path}.field", sources)
        op = doc.get("op")
        allowed_ops = TAG_OPERATORS if source == "tags" else FIELD_OPERATORS
        if "op" in doc and op not in allowed_ops:
            self.fail(
                f"{path}.op", f"unknown operator {op!r} (expected one of: {', '.join(allowed_ops)})"
            )
            ok = False
        if not ok or source is None:
            return None
        operator = str(op)
        value = self.operand(operator, doc["value"], f"{path}.value", tags=source == "tags")
        if value is None:
            return None
        if source == "tags":
            return TagCondition(cast(Literal["contains", "in", "exists"], operator), value)
        assert field_name is not None
        return FieldCondition(cast(FieldSource, source), field_name, operator, value)

    def field_name(
        self, name: Any, path: str, sources: tuple[str, ...]
    ) -> tuple[str | None, str | None]:
        expected = ", ".join(f"{s}.<name>" if s != "tags" else s for s in sources)
        if not isinstance(name, str):
            self.fail(path, f"must be a string ({expected}), not {_json_type(name)}")
            return None, None
        if name == "tags" and "tags" in sources:
            return "tags", None
        source, dot, rest = name.partition(".")
        if not dot or source not in sources or source == "tags":
            self.fail(path, f"unknown field {name!r} (expected {expected})")
            return None, None
        if not _NAME.match(rest):
            self.fail(path, "a field name is 1-64 letters, digits or _, not starting with a digit")
            return None, None
        return source, rest

    def operand(self, op: str, value: Any, path: str, *, tags: bool) -> Any:
        if op == "exists":
            if not isinstance(value, bool):
                self.fail(path, f"exists takes true or false, not {_json_type(value)}")
                return None
            return value
        if op in ("within_last_days", "more_than_days_ago"):
            days = self.whole_number(value, path)
            if days is None:
                return None
            if op == "within_last_days" and days < 1:
                self.fail(path, "impossible window: within the last 0 days matches nothing")
                return None
            if days > MAX_WINDOW_DAYS:
                self.fail(path, f"impossible window: more than {MAX_WINDOW_DAYS} days")
                return None
            return days
        if op == "in":
            if not isinstance(value, list):
                self.fail(path, f"in takes an array of values, not {_json_type(value)}")
                return None
            if not value:
                self.fail(path, "in takes at least one value")
                return None
            if len(value) > self.limits.max_in_values:
                self.fail(path, f"too expensive: more than {self.limits.max_in_values} values")
                return None
            items = [self.scalar(v, f"{path}[{i}]", strings_only=tags) for i, v in enumerate(value)]
            if any(v is None for v in items):
                return None
            # Deduplicated by type and value: True == 1.0 in Python, not in the rule language.
            unique = {(type(v), v): v for v in items}
            return tuple(unique.values())
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                self.fail(path, "between takes [low, high]")
                return None
            low = self.scalar(value[0], f"{path}[0]", no_bool=True)
            high = self.scalar(value[1], f"{path}[1]", no_bool=True)
            if low is None or high is None:
                return None
            if isinstance(low, str) != isinstance(high, str):
                self.fail(path, "low and high must both be numbers or both be strings")
                return None
            if low > high:  # type: ignore[operator]
                self.fail(path, "impossible range: low is greater than high")
                return None
            return (low, high)
        if op == "contains":
            if not isinstance(value, str):
                self.fail(path, f"contains takes a string, not {_json_type(value)}")
                return None
            return self.scalar(value, path)
        # = != < <= > >=
        return self.scalar(value, path, no_bool=op in ORDERINGS)

    def scalar(
        self, value: Any, path: str, *, no_bool: bool = False, strings_only: bool = False
    ) -> Scalar | None:
        if isinstance(value, str):
            if len(value) > MAX_STRING:
                self.fail(path, f"string longer than {MAX_STRING} characters")
                return None
            if "\x00" in value:
                self.fail(path, "string holds a NUL character")
                return None
            return value
        if strings_only:
            self.fail(path, f"must be a string, not {_json_type(value)}")
            return None
        if isinstance(value, bool):
            if no_bool:
                self.fail(path, "true and false have no order: use = or !=")
                return None
            return value
        if isinstance(value, int | float):
            number = float(value)
            if not math.isfinite(number) or abs(number) > 1e15:
                self.fail(path, "numbers must be finite and within ±1e15")
                return None
            return number
        self.fail(path, f"must be a string, number or boolean, not {_json_type(value)}")
        return None

    def whole_number(self, value: Any, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"must be a whole number of days, not {_json_type(value)}")
            return None
        if isinstance(value, float) and not value.is_integer():
            self.fail(path, "must be a whole number of days")
            return None
        if value < 0:
            self.fail(path, "impossible window: negative number of days")
            return None
        return int(value)

    # -- events --

    def event_condition(self, doc: Any, path: str) -> EventCondition | None:
        self.events += 1
        if self.events == self.limits.max_event_conditions + 1:
            self.fail(
                path,
                f"too expensive: more than {self.limits.max_event_conditions} event conditions",
            )
        allowed = ("name", "where", "count", "sum", "did_not", "within_days", "between")
        if not self.object(doc, path, allowed):
            return None
        ok = len(self.problems)
        name = doc.get("name")
        if "name" not in doc:
            self.fail(f"{path}.name", "is required")
        elif not isinstance(name, str) or not name or len(name) > 128:
            self.fail(f"{path}.name", "must be an event name (a string of 1-128 characters)")
        where: list[FieldCondition] = []
        if "where" in doc:
            filters = doc["where"]
            if not isinstance(filters, list):
                self.fail(
                    f"{path}.where",
                    f"must be an array of property filters, not {_json_type(filters)}",
                )
            elif len(filters) > self.limits.max_property_filters:
                self.fail(
                    f"{path}.where",
                    f"too expensive: more than {self.limits.max_property_filters} property filters",
                )
            else:
                for i, item in enumerate(filters):
                    fpath = f"{path}.where[{i}]"
                    if not isinstance(item, dict):
                        self.fail(
                            fpath, f"must be a property filter object, not {_json_type(item)}"
                        )
                        continue
                    if "field" not in item:
                        self.fail(f"{fpath}.field", "is required")
                        continue
                    parsed = self.field_condition(item, fpath, ("properties",))
                    if isinstance(parsed, FieldCondition):
                        where.append(parsed)
        measures = [k for k in ("count", "sum", "did_not") if k in doc]
        measure: Literal["count", "sum"] = "count"
        sum_property: str | None = None
        op, threshold = ">=", 1.0
        if len(measures) > 1:
            self.fail(
                path, f"count, sum and did_not exclude each other (found {', '.join(measures)})"
            )
        elif measures == ["did_not"]:
            if doc["did_not"] is not True:
                self.fail(f"{path}.did_not", 'must be true (leave it out for "did")')
            op, threshold = "=", 0.0
        elif measures == ["count"]:
            spec = doc["count"]
            if self.object(spec, f"{path}.count", ("op", "value")):
                parsed_t = self.threshold(spec, f"{path}.count", whole=True)
                if parsed_t is not None:
                    op, threshold = parsed_t
        elif measures == ["sum"]:
            measure = "sum"
            spec = doc["sum"]
            if self.object(spec, f"{path}.sum", ("property", "op", "value")):
                prop = spec.get("property")
                if "property" not in spec:
                    self.fail(f"{path}.sum.property", "is required")
                elif not isinstance(prop, str) or not _NAME.match(prop):
                    self.fail(
                        f"{path}.sum.property", "must be a property name (letters, digits, _)"
                    )
                else:
                    sum_property = prop
                parsed_t = self.threshold(spec, f"{path}.sum", whole=False)
                if parsed_t is not None:
                    op, threshold = parsed_t
        window = self.window(doc, path)
        if len(self.problems) != ok:
            return None
        return EventCondition(
            name=name,
            where=tuple(where),
            measure=measure,
            sum_property=sum_property,
            op=op,
            threshold=threshold,
            window=window,
        )

    def threshold(
        self, spec: dict[str, Any], path: str, *, whole: bool
    ) -> tuple[str, float] | None:
        op = spec.get("op")
        ok = True
        if "op" not in spec:
            self.fail(f"{path}.op", "is required")
            ok = False
        elif op not in COMPARISONS:
            self.fail(
                f"{path}.op", f"unknown operator {op!r} (expected one of: {', '.join(COMPARISONS)})"
            )
            ok = False
        if "value" not in spec:
            self.fail(f"{path}.value", "is required")
            return None
        value = spec["value"]
        if whole:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and not value.is_integer())
            ):
                self.fail(
                    f"{path}.value", f"must be a whole number of events, not {_json_type(value)}"
                )
                return None
            if value < 0:
                self.fail(f"{path}.value", "impossible: a count is never negative")
                return None
            if value > 1e9:
                self.fail(f"{path}.value", "must be at most 1e9")
                return None
            if ok and op == "<" and value == 0:
                self.fail(path, "impossible: a count is never below 0")
                return None
        else:
            number = self.scalar(value, f"{path}.value", no_bool=True)
            if number is None:
                return None
            if isinstance(number, str):
                self.fail(f"{path}.value", "must be a number, not string")
                return None
            value = number
        return (str(op), float(value)) if ok else None

    def window(self, doc: dict[str, Any], path: str) -> Window | None:
        if "within_days" in doc and "between" in doc:
            self.fail(path, "within_days and between exclude each other")
            return None
        if "within_days" in doc:
            days = self.whole_number(doc["within_days"], f"{path}.within_days")
            if days is None:
                return None
            if days < 1:
                self.fail(
                    f"{path}.within_days", "impossible window: the last 0 days hold no events"
                )
                return None
            if days > MAX_WINDOW_DAYS:
                self.fail(
                    f"{path}.within_days", f"impossible window: more than {MAX_WINDOW_DAYS} days"
                )
                return None
            return Window(within_days=days)
        if "between" in doc:
            bounds = doc["between"]
            bpath = f"{path}.between"
            if not isinstance(bounds, list) or len(bounds) != 2:
                self.fail(bpath, "between takes [start, end] as ISO-8601 dates or times")
                return None
            start = self.moment(bounds[0], f"{bpath}[0]")
            end = self.moment(bounds[1], f"{bpath}[1]")
            if start is None or end is None:
                return None
            if start >= end:
                self.fail(bpath, "impossible window: start is not before end")
                return None
            return Window(start=start, end=end)
        return None

    def moment(self, value: Any, path: str) -> datetime | None:
        if not isinstance(value, str):
            self.fail(path, f"must be an ISO-8601 date or time, not {_json_type(value)}")
            return None
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                return datetime(day.year, day.month, day.day, tzinfo=UTC)
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.fail(path, f"not an ISO-8601 date or time: {value!r}")
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def score_condition(self, doc: Any, path: str) -> ScoreCondition | None:
        if not isinstance(doc, dict):
            self.fail(path, f"must be an object with model, op and value, not {_json_type(doc)}")
            return None
        if not self.object(doc, path, ("model", "op", "value")):
            return None
        missing = [k for k in ("model", "op", "value") if k not in doc]
        if missing:
            self.fail(path, f"missing {', '.join(missing)}")
            return None
        model_id, op, value = doc["model"], doc["op"], doc["value"]
        ok = True
        if not isinstance(model_id, str) or not _SEGMENT_ID.match(model_id):
            self.fail(f"{path}.model", "must be a model id (1-64 letters, digits, _ . : -)")
            ok = False
        if op not in COMPARISONS:
            self.fail(f"{path}.op", f"must be one of {', '.join(COMPARISONS)}")
            ok = False
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e15:
            self.fail(f"{path}.value", "must be a number (at most 1e15 in size)")
            ok = False
        if not ok:
            return None
        self.model_paths.append((model_id, f"{path}.model"))
        return ScoreCondition(model_id, op, float(value))

    def check_models(self, known: ModelResolver | None) -> None:
        if known is None:
            return
        for model_id, path in self.model_paths:
            if not known(model_id):
                self.fail(path, f"unknown model {model_id} (or it has no scores yet)")

    # -- segment references --

    def check_references(self, segment_id: str | None, resolve: SegmentResolver | None) -> None:
        for referenced, path in self.segment_paths:
            if referenced == segment_id:
                self.fail(path, f"cycle: segment {segment_id} refers to itself")
                continue
            if resolve is None:
                continue
            chain = self._find(referenced, segment_id, resolve, [referenced], set())
            if chain is None:
                self.fail(path, f"unknown segment {referenced}")
            elif chain:
                self.fail(path, f"cycle: {' -> '.join([str(segment_id), *chain])}")

    def _find(
        self,
        current: str,
        target: str | None,
        resolve: SegmentResolver,
        chain: list[str],
        seen: set[str],
    ) -> list[str] | None:
        """None: `current` does not exist; []: no way back to target; else the cycle's chain."""
        rule = resolve(current)
        if rule is None:
            return None
        seen.add(current)
        for nxt in sorted(segment_references(rule)):
            if nxt == target:
                return [*chain, nxt]
            if nxt in seen:
                continue
            found = self._find(nxt, target, resolve, [*chain, nxt], seen)
            if found:
                return found
        return []


def parse_rule(
    doc: Any,
    *,
    segment_id: str | None = None,
    resolve: SegmentResolver | None = None,
    limits: Limits | None = None,
    models: ModelResolver | None = None,
) -> Condition:
    """Validate a rule document (already decoded from JSON) and return its AST.

    `segment_id` is the segment the rule defines (None for an unsaved rule); `resolve` returns
    the parsed rule of another segment, so references to unknown segments and cycles through
    other segments are refused. Raises RuleInvalid with every problem found."""
    parser = _Parser(limits or Limits())
    rule = parser.condition(doc, "$", 1)
    if not parser.problems:
        parser.check_references(segment_id, resolve)
        parser.check_models(models)
    if parser.problems or rule is None:
        raise RuleInvalid(parser.problems or [Problem("$", "not a rule")])
    return rule


def relative_cutoff(now: datetime, days: int) -> str:
    """The canonical time `days` before `now`, which date-valued fields are compared with."""
    return canonical_time(now - timedelta(days=days))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
