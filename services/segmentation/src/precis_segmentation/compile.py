"""Rule AST -> one SQLAlchemy Core SELECT of the matching profile ids of a workspace.

The statement is dialect-neutral: JSON access goes through the constructs below, which render
json_type/json_extract on SQLite and jsonb_typeof/->> on PostgreSQL (the documents are JSONB
there, store.DOCUMENT) with the same meaning. Every
atomic condition compiles to an expression that is never NULL, so NOT is the complement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    exists,
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


class JsonEquals(FunctionElement[bool]):
    """doc[key] equals a scalar of the same JSON type (never NULL). On PostgreSQL one jsonb
    comparison, `doc -> key = '<json>'::jsonb`, which is typed (a string never equals a number)
    and numeric for numbers, instead of a type test plus an extraction of the key; on SQLite the
    type test and the comparison, as the other constructs do.

    Everything that varies is a clause (the values are bound parameters, the JSON type a literal
    column), so the statement cache key covers it."""

    inherit_cache = True
    type = Boolean()

    def __init__(self, document: ColumnElement[Any], key: str, value: Any) -> None:
        if isinstance(value, bool):
            kind, typed = "boolean", literal(value, Boolean)
        elif isinstance(value, str):
            kind, typed = "string", literal(value, String)
        else:
            kind, typed = "number", literal(float(value), Float)
        super().__init__(
            document,
            literal_column(f"'{key}'"),
            literal_column(f"'$.{key}'"),
            literal_column(f"'{kind}'"),
            literal(orjson.dumps(value).decode(), String),
            typed,
        )


@compiles(JsonEquals, "postgresql")
def _equals_pg(element: JsonEquals, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _, _, value, _ = (compiler.process(c, **kw) for c in element.clauses)
    return f"(COALESCE({doc} -> {key} = CAST({value} AS JSONB), false))"


_SQLITE_TYPES = {
    "'boolean'": "('true', 'false')",
    "'string'": "('text')",
    "'number'": "('integer', 'real')",
}


@compiles(JsonEquals, "sqlite")
def _equals_sqlite(element: JsonEquals, compiler: SQLCompiler, **kw: Any) -> str:
    doc, _, path, kind, _, typed = (compiler.process(c, **kw) for c in element.clauses)
    extracted = f"json_extract({doc}, {path})"
    if kind == "'number'":
        extracted = f"CAST({extracted} AS REAL)"
    return (
        f"(COALESCE(CASE WHEN json_type({doc}, {path}) IN {_SQLITE_TYPES[kind]} "
        f"THEN {extracted} = {typed} END, 0))"
    )


def _parts(element: _JsonAccess, compiler: SQLCompiler, **kw: Any) -> tuple[str, str, str]:
    document, key, path = (compiler.process(c, **kw) for c in element.clauses)
    return document, key, path


@compiles(JsonNumber, "postgresql")
def _number_pg(element: JsonNumber, compiler: SQLCompiler, **kw: Any) -> str:
    doc, key, _ = _parts(element, compiler, **kw)
    return (
        f"(CASE WHEN jsonb_typeof({doc} -> {key}) = 'number' "
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
        f"(CASE WHEN jsonb_typeof({doc} -> {key}) = 'string' "
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
        f"(CASE WHEN jsonb_typeof({doc} -> {key}) = 'boolean' "
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
    return f"(COALESCE(jsonb_typeof({doc} -> {key}) <> 'null', false))"


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
            if isinstance(rule.condition, EventCondition):
                return self.event(rule.condition, negate=True)
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
            return _member_of(allowed)
        if isinstance(rule, ScoreCondition):
            scored = select(seg_scores.c.profile_id).where(
                seg_scores.c.workspace_id == self.workspace_id,
                seg_scores.c.model_id == rule.model_id,
                _operate(seg_scores.c.score, rule.op, literal(rule.value, Float)),
            )
            return _member_of(scored)
        if isinstance(rule, SegmentCondition):
            members = select(seg_memberships.c.profile_id).where(
                seg_memberships.c.workspace_id == self.workspace_id,
                seg_memberships.c.segment_id == rule.segment_id,
            )
            return _member_of(members)
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
        if op == "=":
            return JsonEquals(document, key, value)
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
            has_any = _member_of(tagged)
            return has_any if rule.value else not_(has_any)
        wanted = [rule.value] if rule.op == "contains" else list(rule.value)
        return _member_of(tagged.where(seg_profile_tags.c.tag.in_(wanted)))

    def event(self, rule: EventCondition, negate: bool = False) -> ColumnElement[bool]:
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
        matching = select(facts.profile_id).where(*where)
        if rule.measure == "count" and _is_did(rule.op, rule.threshold):
            # "Did" (count >= 1) and "did not" (count < 1) need no counting: any matching event.
            did = _member_of(matching)
            return did if threshold_holds(rule.op, 1.0, rule.threshold) != negate else not_(did)
        grouped = matching.group_by(facts.profile_id)
        holds = _operate(measure, rule.op, threshold)
        if threshold_holds(rule.op, 0.0, rule.threshold):
            # Profiles without matching events have a count (sum) of 0 and match: take the
            # complement of the profiles whose events make the comparison fail.
            failing = _among(grouped.having(not_(holds)))
            return failing if negate else not_(failing)
        if negate:
            return not_(_among(grouped.having(holds)))
        return seg_profiles.c.profile_id.in_(grouped.having(holds))


def _member_of(profile_ids: Select[Any]) -> ColumnElement[bool]:
    """The profile is among `profile_ids`, a plain SELECT of profile ids from one table, as the
    correlated EXISTS (SELECT 1 FROM <table> WHERE <its conditions> AND profile_id = p.profile_id).

    Not `profile_id IN (...)`: NOT IN must allow for NULLs, so PostgreSQL runs it as a hashed
    subplan only while the ids fit in work_mem and past that rescans them for every profile (a
    `not` over 300k tagged profiles of 1M ran for minutes). EXISTS and NOT EXISTS become semi- and
    anti-joins under AND, and index probes (every table has profile_id in an index) under OR."""
    return exists(
        profile_ids.with_only_columns(literal(1), maintain_column_froms=True).where(
            profile_ids.selected_columns.profile_id == seg_profiles.c.profile_id
        )
    )


def _among(grouped: Select[Any]) -> ColumnElement[bool]:
    """The profile is among the ids of a grouped SELECT: EXISTS over it as a derived table, so
    that its negation is an anti-join too (see _member_of). Positive grouped conditions stay
    `IN (...)`, a hashed semi-join that evaluates the grouping once."""
    ids = grouped.subquery()
    return exists(
        select(literal(1)).select_from(ids).where(ids.c.profile_id == seg_profiles.c.profile_id)
    )


def _is_did(op: str, threshold: float) -> bool:
    """Whether a count comparison only asks if there is any matching event (count >= 1, > 0,
    and their negations < 1, <= 0, = 0)."""
    return all(threshold_holds(op, float(n), threshold) == (n >= 1) for n in (0, 1, 2, 3)) or all(
        threshold_holds(op, float(n), threshold) == (n == 0) for n in (0, 1, 2, 3)
    )


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
