"""Rule AST -> one SQLAlchemy Core SELECT of the matching profile ids of a workspace.

The statement is dialect-neutral: JSON access goes through the constructs below, which render
json_type/json_extract on SQLite and json_typeof/->> on PostgreSQL with the same meaning. Every
atomic condition compiles to an expression that is never NULL, so NOT is the complement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from precis_segmentation.rules import (
    AllOf,
    AnyOf,
    Condition,
    ConsentCondition,
    EventCondition,
    FieldCondition,
    Not,
    ScoreCondition,
    SegmentCondition,
    TagCondition,
    relative_cutoff,
    threshold_holds,
)
from precis_segmentation.store import (
    PROMOTED_NUMERIC_PROPERTIES,
    seg_consent,
    seg_event_facts,
    seg_memberships,
    seg_profile_tags,
    seg_profiles,
    seg_scores,
    utc,
)

# ---- JSON access, one construct per JSON type ------------------------------------------------
# Each takes the document column and a key. Keys are validated names ([A-Za-z_][A-Za-z0-9_]*),
# rendered as SQL literals through literal_column so they are part of the statement cache key.


class _JsonAccess(FunctionElement[Any]):
    inherit_cache = True

    def __init__(self, document: ColumnElement[Any], key: str) -> None:
        super().__init__(document, literal_column(f"'{key}'"), literal_column(f"'$.{key}'"))


class JsonNumber(_JsonAccess):
    """doc[key] as a double when it is a JSON number (not a boolean), else NULL."""

    inherit_cache = True
    type = Float()


class JsonString(_JsonAccess):
    """doc[key] when it is a JSON string, else NULL; ordered by code point on both databases."""

    inherit_cache = True
    type = String()


class JsonBoolean(_JsonAccess):
    """doc[key] when it is JSON true or false, else NULL."""

    inherit_cache = True
    type = Boolean()


class JsonPresent(_JsonAccess):
    """Whether doc has key with a value other than JSON null (never NULL itself)."""

    inherit_cache = True
    type = Boolean()


def _parts(element: _JsonAccess, compiler: SQLCompiler, **kw: Any) -> tuple[str, str, str]:
    document, key, path = (compiler.process(c, **kw) for c in element.clauses)
    return document, key, path


@compiles(JsonNumber, "postgresql")
def _number_pg(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _ = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN json_typeof({doc} -> {key}) = 'number' "
        f"THEN CAST({doc} ->> {key} AS DOUBLE PRECISION) END)"
    )


@compiles(JsonNumber, "sqlite")
def _number_sqlite(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    doc, _, path = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN json_type({doc}, {path}) IN ('integer', 'real') "
        f"THEN CAST(json_extract({doc}, {path}) AS REAL) END)"
    )


@compiles(JsonString, "postgresql")
def _string_pg(element: JsonString, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _ = _parts(element, compiler, **kw)
    # COLLATE "C": byte order of UTF-8, which is code point order, as in Python and SQLite.
    return (
        f"(CASE WHEN json_typeof({doc} -> {key}) = 'string' "
        f'THEN ({doc} ->> {key}) END) COLLATE "C"'
    )


@compiles(JsonString, "sqlite")
def _string_sqlite(element: JsonString, compiler: SQLCompiler, **kw: Any) -> str:
    doc, _, path = _parts(element, compiler, **kw)
    return f"(CASE WHEN json_type({doc}, {path}) = 'text' THEN json_extract({doc}, {path}) END)"


@compiles(JsonBoolean, "postgresql")
def _boolean_pg(element: JsonBoolean, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _ = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN json_typeof({doc} -> {key}) = 'boolean' "
        f"THEN CAST({doc} ->> {key} AS BOOLEAN) END)"
    )


@compiles(JsonBoolean, "sqlite")
def _boolean_sqlite(element: JsonBoolean, compiler: SQLCompiler, **kw: Any) -> str:
    doc, _, path = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN json_type({doc}, {path}) IN ('true', 'false') "
        f"THEN json_extract({doc}, {path}) END)"
    )


@compiles(JsonPresent, "postgresql")
def _present_pg(element: JsonPresent, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _ = _parts(element, compiler, **kw)
    return f"(COALESCE(json_typeof({doc} -> {key}) <> 'null', false))"


@compiles(JsonPresent, "sqlite")
def _present_sqlite(element: JsonPresent, compiler: SQLCompiler, **kw: Any) -> str:
    doc, _, path = _parts(element, compiler, **kw)
    return f"(COALESCE(json_type({doc}, {path}) <> 'null', 0))"


class Contains(FunctionElement[bool]):
    """Whether the first string holds the second (case-sensitive, no wildcards)."""

    inherit_cache = True
    type = Boolean()


@compiles(Contains, "postgresql")
def _contains_pg(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(strpos({haystack}, {needle}) > 0)"


@compiles(Contains, "sqlite")
def _contains_sqlite(element: Contains, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


# ---- the compiler ---------------------------------------------------------------------------


def compile_rule(rule: Condition, *, workspace_id: str, now: datetime) -> Select[tuple[str]]:
    """The profile ids of `workspace_id` that match `rule` at `now` (ordered).

    `now` is a parameter, not the database clock, so a result can be reproduced."""
    compiler = _Compiler(workspace_id=workspace_id, now=utc(now))
    return (
        select(seg_profiles.c.profile_id)
        .where(seg_profiles.c.workspace_id == workspace_id, compiler.condition(rule))
        .order_by(seg_profiles.c.profile_id)
    )


def _never_null(expression: ColumnElement[Any]) -> ColumnElement[bool]:
    return func.coalesce(expression, false(), type_=Boolean)


class _Compiler:
    def __init__(self, *, workspace_id: str, now: datetime) -> None:
        self.workspace_id = workspace_id
        self.now = now

    def condition(self, rule: Condition) -> ColumnElement[bool]:
        if isinstance(rule, AllOf):
            return and_(*(self.condition(c) for c in rule.conditions))
        if isinstance(rule, AnyOf):
            return or_(*(self.condition(c) for c in rule.conditions))
        if isinstance(rule, Not):
            return not_(self.condition(rule.condition))
        if isinstance(rule, FieldCondition):
            document = seg_profiles.c.traits if rule.source == "traits" else seg_profiles.c.computed
            return self.field(document, rule)
        if isinstance(rule, TagCondition):
            return self.tags(rule)
        if isinstance(rule, EventCondition):
            return self.event(rule)
        if isinstance(rule, ConsentCondition):
            allowed = select(seg_consent.c.profile_id).where(
                seg_consent.c.workspace_id == self.workspace_id,
                seg_consent.c.purpose == rule.purpose,
                seg_consent.c.allowed.is_(true()),
            )
            return seg_profiles.c.profile_id.in_(allowed)
        if isinstance(rule, ScoreCondition):
            scored = select(seg_scores.c.profile_id).where(
                seg_scores.c.workspace_id == self.workspace_id,
                seg_scores.c.model_id == rule.model_id,
                _operate(seg_scores.c.score, rule.op, literal(rule.value, Float)),
            )
            return seg_profiles.c.profile_id.in_(scored)
        if isinstance(rule, SegmentCondition):
            members = select(seg_memberships.c.profile_id).where(
                seg_memberships.c.workspace_id == self.workspace_id,
                seg_memberships.c.segment_id == rule.segment_id,
            )
            return seg_profiles.c.profile_id.in_(members)
        raise TypeError(f"not a condition: {rule!r}")

    def field(self, document: ColumnElement[Any], rule: FieldCondition) -> ColumnElement[bool]:
        op, value, key = rule.op, rule.value, rule.name
        if op == "exists":
            present = JsonPresent(document, key)
            return present if value else not_(present)
        if op == "in":
            return or_(*(self.compare(document, key, "=", v) for v in value))
        if op == "between":
            low, high = value
            return and_(
                self.compare(document, key, ">=", low), self.compare(document, key, "<=", high)
            )
        if op == "contains":
            return _never_null(Contains(JsonString(document, key), literal(value, String)))
        if op == "within_last_days":
            text = JsonString(document, key)
            return _never_null(
                and_(
                    text >= literal(relative_cutoff(self.now, value), String),
                    text <= literal(relative_cutoff(self.now, 0), String),
                )
            )
        if op == "more_than_days_ago":
            text = JsonString(document, key)
            return _never_null(text < literal(relative_cutoff(self.now, value), String))
        return self.compare(document, key, op, value)

    def compare(
        self, document: ColumnElement[Any], key: str, op: str, value: Any
    ) -> ColumnElement[bool]:
        if isinstance(value, bool):
            # Parsing allows only = and != on booleans.
            flag = JsonBoolean(document, key)
            return _never_null(flag == value if op == "=" else flag != value)
        if isinstance(value, str):
            return _never_null(_operate(JsonString(document, key), op, literal(value, String)))
        return _never_null(_operate(JsonNumber(document, key), op, literal(float(value), Float)))

    def tags(self, rule: TagCondition) -> ColumnElement[bool]:
        tagged = select(seg_profile_tags.c.profile_id).where(
            seg_profile_tags.c.workspace_id == self.workspace_id
        )
        if rule.op == "exists":
            has_any = seg_profiles.c.profile_id.in_(tagged)
            return has_any if rule.value else not_(has_any)
        wanted = [rule.value] if rule.op == "contains" else list(rule.value)
        return seg_profiles.c.profile_id.in_(tagged.where(seg_profile_tags.c.tag.in_(wanted)))

    def event(self, rule: EventCondition) -> ColumnElement[bool]:
        facts = seg_event_facts.c
        where = [
            facts.workspace_id == self.workspace_id,
            facts.event == rule.name,
            facts.occurred_at <= self.now,
        ]
        if rule.window is not None:
            if rule.window.within_days is not None:
                where.append(
                    facts.occurred_at >= self.now - timedelta(days=rule.window.within_days)
                )
            else:
                assert rule.window.start is not None and rule.window.end is not None
                where.append(facts.occurred_at >= rule.window.start)
                where.append(facts.occurred_at < rule.window.end)
        where.extend(self.field(facts.properties, f) for f in rule.where)
        measure: ColumnElement[Any]
        if rule.measure == "count":
            measure = func.count()
            threshold: ColumnElement[Any] = literal(int(rule.threshold))
        else:
            assert rule.sum_property is not None
            if rule.sum_property in PROMOTED_NUMERIC_PROPERTIES:
                summed: ColumnElement[Any] = facts[rule.sum_property]
            else:
                summed = JsonNumber(facts.properties, rule.sum_property)
            measure = func.coalesce(func.sum(summed), literal(0.0, Float), type_=Float)
            threshold = literal(rule.threshold, Float)
        grouped = select(facts.profile_id).where(*where).group_by(facts.profile_id)
        holds = _operate(measure, rule.op, threshold)
        if threshold_holds(rule.op, 0.0, rule.threshold):
            # Profiles without matching events have a count (sum) of 0 and match: take the
            # complement of the profiles whose events make the comparison fail.
            return seg_profiles.c.profile_id.not_in(grouped.having(not_(holds)))
        return seg_profiles.c.profile_id.in_(grouped.having(holds))


def _operate(left: ColumnElement[Any], op: str, right: ColumnElement[Any]) -> ColumnElement[bool]:
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
