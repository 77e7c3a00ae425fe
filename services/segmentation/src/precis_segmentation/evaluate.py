"""The rule language evaluated in plain Python over in-memory rows: the reference semantics that
the SQL compiler is tested against (and a way to explain a result without a database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
from precis_segmentation.store import utc


@dataclass(frozen=True)
class ProfileRow:
    profile_id: str
    traits: Mapping[str, Any] = field(default_factory=dict)
    computed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventRow:
    profile_id: str
    event: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Dataset:
    """One workspace's read model in memory."""

    profiles: list[ProfileRow] = field(default_factory=list)
    tags: dict[str, set[str]] = field(default_factory=dict)
    events: list[EventRow] = field(default_factory=list)
    # (profile_id, purpose) -> allowed; no entry means not allowed.
    consent: dict[tuple[str, str], bool] = field(default_factory=dict)
    memberships: dict[str, set[str]] = field(default_factory=dict)
    # (model_id, profile_id) -> score; no entry means not scored.
    scores: dict[tuple[str, str], float] = field(default_factory=dict)


def evaluate(rule: Condition, dataset: Dataset, *, now: datetime) -> set[str]:
    """The profile ids of the dataset that match the rule at `now`."""
    now = utc(now)
    events: dict[str, list[EventRow]] = {}
    for row in dataset.events:
        events.setdefault(row.profile_id, []).append(row)
    return {
        p.profile_id
        for p in dataset.profiles
        if _matches(rule, p, events.get(p.profile_id, []), dataset, now)
    }


def _matches(
    rule: Condition, profile: ProfileRow, events: list[EventRow], dataset: Dataset, now: datetime
) -> bool:
    if isinstance(rule, AllOf):
        return all(_matches(c, profile, events, dataset, now) for c in rule.conditions)
    if isinstance(rule, AnyOf):
        return any(_matches(c, profile, events, dataset, now) for c in rule.conditions)
    if isinstance(rule, Not):
        return not _matches(rule.condition, profile, events, dataset, now)
    if isinstance(rule, FieldCondition):
        document = profile.traits if rule.source == "traits" else profile.computed
        return field_matches(rule, document, now)
    if isinstance(rule, TagCondition):
        tags = dataset.tags.get(profile.profile_id, set())
        if rule.op == "exists":
            return bool(tags) == rule.value
        if rule.op == "contains":
            return rule.value in tags
        return any(t in tags for t in rule.value)
    if isinstance(rule, EventCondition):
        return _event_matches(rule, events, now)
    if isinstance(rule, ConsentCondition):
        return dataset.consent.get((profile.profile_id, rule.purpose), False)
    if isinstance(rule, SegmentCondition):
        return profile.profile_id in dataset.memberships.get(rule.segment_id, set())
    if isinstance(rule, ScoreCondition):
        score = dataset.scores.get((rule.model_id, profile.profile_id))
        return score is not None and threshold_holds(rule.op, score, rule.value)
    raise TypeError(f"not a condition: {rule!r}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _compare(stored: Any, op: str, literal: Any) -> bool:
    """A comparison holds only between values of the same JSON type (see README, Semantics)."""
    kind = _kind(literal)
    if _kind(stored) != kind:
        return False
    if kind == "number":
        return threshold_holds(op, float(stored), float(literal))
    if kind == "boolean":
        return (stored == literal) if op == "=" else (stored != literal)
    if op == "=":
        return bool(stored == literal)
    if op == "!=":
        return bool(stored != literal)
    if op == "<":
        return bool(stored < literal)
    if op == "<=":
        return bool(stored <= literal)
    if op == ">":
        return bool(stored > literal)
    return bool(stored >= literal)


def field_matches(rule: FieldCondition, document: Mapping[str, Any], now: datetime) -> bool:
    stored = document.get(rule.name) if isinstance(document, Mapping) else None
    op, value = rule.op, rule.value
    if op == "exists":
        return (stored is not None) == value
    if op == "in":
        return any(_compare(stored, "=", v) for v in value)
    if op == "between":
        return _compare(stored, ">=", value[0]) and _compare(stored, "<=", value[1])
    if op == "contains":
        return isinstance(stored, str) and value in stored
    if op == "within_last_days":
        return isinstance(stored, str) and (
            relative_cutoff(now, value) <= stored <= relative_cutoff(now, 0)
        )
    if op == "more_than_days_ago":
        return isinstance(stored, str) and stored < relative_cutoff(now, value)
    return _compare(stored, op, value)


def _event_matches(rule: EventCondition, events: list[EventRow], now: datetime) -> bool:
    matching = []
    for row in events:
        at = utc(row.occurred_at)
        if row.event != rule.name or at > now:
            continue
        window = rule.window
        if window is not None:
            if window.within_days is not None:
                if at < now - timedelta(days=window.within_days):
                    continue
            elif (
                window.start is not None
                and window.end is not None
                and not (window.start <= at < window.end)
            ):
                continue
        if all(field_matches(f, row.properties, now) for f in rule.where):
            matching.append(row)
    if rule.measure == "count":
        measure = float(len(matching))
    else:
        measure = 0.0
        for row in matching:
            value = row.properties.get(rule.sum_property or "")
            if isinstance(value, int | float) and not isinstance(value, bool):
                measure += float(value)
    return threshold_holds(rule.op, measure, rule.threshold)
