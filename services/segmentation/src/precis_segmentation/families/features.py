"""Point-in-time behaviour features of profiles, aggregated in SQL from ``seg_event_facts``.

Everything is measured *as of a cutoff*: only facts with ``occurred_at < cutoff`` are read, so a
model trained on these features cannot see its own outcome window (see :mod:`.predictive`).
One GROUP BY statement per call (SQLAlchemy Core, the same on SQLite and PostgreSQL) returns the
raw aggregates per profile (counts, sums, first and last times); day counts are derived from
them in numpy, which keeps the SQL free of dialect-specific date arithmetic.

Built-in features (orders are facts of the order event, "Order Completed" by default):

=====================  ====================================================================
recency_days           days from the last order to the cutoff; a profile that never ordered
                       gets the days since its first event (time spent without ordering)
frequency              orders before the cutoff
monetary               revenue of those orders (the promoted ``revenue`` column; NULL = 0)
aov                    average order value, monetary / frequency (0 without orders)
orders_90d             orders in the 90 days before the cutoff
revenue_90d            revenue of those orders
events_30d             facts of any event in the 30 days before the cutoff (engagement)
tenure_days            days from the first fact of any kind to the cutoff
last_seen_days         days from the last fact of any kind to the cutoff
distinct_event_days    UTC calendar days with at least one fact (how habitual the profile is)
=====================  ====================================================================

The population is the workspace's profiles in ``seg_profiles`` with at least one fact before the
cutoff (optionally: with at least one order, or members of a segment). A profile with no fact
before the cutoff did not exist yet from the model's point of view and has no features.

Profile attributes (predictive and uplift models only, :func:`profile_features`):

=============================  ==============================================================
``traits.<path>``              a numeric trait (booleans are 1/0); missing or not a number: 0
``computed.<path>``            the same for a computed trait (RFM scores, predicted CLV, ...)
``traits.<path>=<value>``      1 when the trait equals ``value`` (compared as text; booleans
                               as ``true``/``false``), else 0; likewise ``computed.``
=============================  ==============================================================

They are read as the profile holds them *now*, not as of the cutoff (the read model keeps no
history of traits), so they suit attributes that the outcome does not change (age, region,
hair colour, acquisition channel); a trait set *because* of the outcome would leak it. Missing
values are 0 rather than imputed: a model sees "absent" and "0" alike, which is stated here
rather than hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Integer,
    and_,
    case,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from precis_common.errors import InvalidArgument
from precis_segmentation.store import seg_event_facts, seg_memberships, seg_profiles, utc

ATTRIBUTE_SOURCES = ("traits", "computed")
"""Profile documents a feature may read (``traits.<path>``, ``computed.<path>``)."""
ATTRIBUTE_CHUNK = 5000

ORDER_EVENT = "Order Completed"
"""The event whose facts are orders (``properties.revenue`` is promoted to ``revenue``)."""

FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "aov",
    "orders_90d",
    "revenue_90d",
    "events_30d",
    "tenure_days",
    "last_seen_days",
    "distinct_event_days",
)
"""Every built-in feature, in a stable order (the default set of the predictive models)."""

RFM_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")
"""The default set of clustering: recency, frequency and monetary."""

SKEWED_FEATURES: frozenset[str] = frozenset(
    {
        "frequency",
        "monetary",
        "aov",
        "orders_90d",
        "revenue_90d",
        "events_30d",
        "distinct_event_days",
    }
)
"""Counts and money: long right tails (a few customers buy 100x the median), so the scale-
sensitive methods (k-means, the predictive models' logistic regression) see them through log1p;
the lookalike's trees do not need it."""

DAY_SECONDS = 86_400.0

Progress = Callable[[float], None]
"""Called with the share of a long job done (0..1), for the job's status."""

FloatMatrix = NDArray[np.float64]
BoolVector = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FeatureMatrix:
    """Features of a population as of ``cutoff``: row i of ``values`` is ``profile_ids[i]``,
    column j is ``names[j]``. Rows are ordered by profile id, so equal inputs give equal bytes."""

    profile_ids: tuple[str, ...]
    names: tuple[str, ...]
    values: FloatMatrix
    cutoff: datetime

    def __len__(self) -> int:
        return len(self.profile_ids)

    def column(self, name: str) -> NDArray[np.float64]:
        return self.values[:, self.names.index(name)]


def log1p_nonnegative(values: FloatMatrix) -> FloatMatrix:
    """log1p with negatives clipped to 0 (counts and money are never negative; a refund-
    adjusted revenue might be). Module-level so that a fitted pipeline using it can be pickled.
    """
    return np.log1p(np.clip(values, 0.0, None))


def is_attribute(name: str) -> bool:
    """Whether a feature name reads a profile attribute (``traits.`` / ``computed.``)."""
    return name.split(".", 1)[0] in ATTRIBUTE_SOURCES and "." in name


def _attribute_problem(name: str) -> str | None:
    source, _, rest = name.partition(".")
    path, equals, value = rest.partition("=")
    if not path or any(not part for part in path.split(".")):
        return f"{source}.<name> needs a name (for example {source}.age)"
    if equals and not value:
        return f"{source}.<name>=<value> needs a value after '='"
    if len(name) > 200:
        return "at most 200 characters"
    return None


def validate_features(
    features: Sequence[str] | None,
    *,
    default: Sequence[str] = FEATURES,
    attributes: bool = False,
) -> tuple[str, ...]:
    """The requested feature names, checked; ``None`` or empty means ``default``.

    ``attributes`` also accepts profile attributes (``traits.age``, ``traits.region=West``; see
    the module docstring). Raises InvalidArgument on the field ``features[i]`` for an unknown
    name or a repeat.
    """
    if not features:
        return tuple(default)
    seen: set[str] = set()
    for index, name in enumerate(features):
        if attributes and is_attribute(name):
            problem = _attribute_problem(name)
            if problem:
                raise InvalidArgument.field(f"features[{index}]", problem)
        elif name not in FEATURES:
            also = ", traits.<name>, traits.<name>=<value>, computed.<name>" if attributes else ""
            raise InvalidArgument.field(
                f"features[{index}]",
                f"unknown feature {name!r} (expected one of: {', '.join(FEATURES)}{also})",
            )
        if name in seen:
            raise InvalidArgument.field(f"features[{index}]", f"feature {name!r} is repeated")
        seen.add(name)
    return tuple(features)


class _UtcDay(FunctionElement[Any]):
    """The UTC calendar day of a timestamp column, comparable for COUNT(DISTINCT ...)."""

    inherit_cache = True


@compiles(_UtcDay, "sqlite")
def _utc_day_sqlite(element: _UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text, already in UTC.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(_UtcDay, "postgresql")
def _utc_day_pg(element: _UtcDay, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz -> date would use the session time zone; pin it to UTC.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _revenue_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    revenue = func.coalesce(seg_event_facts.c.revenue, 0.0)
    return func.coalesce(func.sum(case((condition, revenue), else_=0.0)), 0.0)


def _aggregates_statement(
    *,
    workspace_id: str,
    cutoff: datetime,
    order_event: str,
    ordered_only: bool,
    segment_id: str | None,
) -> Any:
    facts = seg_event_facts.c
    is_order = facts.event == order_event
    recent_90 = facts.occurred_at >= cutoff - timedelta(days=90)
    recent_30 = facts.occurred_at >= cutoff - timedelta(days=30)
    last_order = func.max(case((is_order, facts.occurred_at)))
    statement = (
        select(
            facts.profile_id,
            type_coerce(func.min(facts.occurred_at), DateTime(timezone=True)).label("first_at"),
            type_coerce(func.max(facts.occurred_at), DateTime(timezone=True)).label("last_at"),
            type_coerce(last_order, DateTime(timezone=True)).label("last_order_at"),
            type_coerce(_count_if(is_order), Integer).label("orders"),
            type_coerce(_revenue_if(is_order), Float).label("revenue"),
            type_coerce(_count_if(and_(is_order, recent_90)), Integer).label("orders_90d"),
            type_coerce(_revenue_if(and_(is_order, recent_90)), Float).label("revenue_90d"),
            type_coerce(_count_if(recent_30), Integer).label("events_30d"),
            type_coerce(func.count(func.distinct(_UtcDay(facts.occurred_at))), Integer).label(
                "days"
            ),
        )
        .join(
            seg_profiles,
            and_(
                seg_profiles.c.workspace_id == facts.workspace_id,
                seg_profiles.c.profile_id == facts.profile_id,
            ),
        )
        .where(facts.workspace_id == workspace_id, facts.occurred_at < cutoff)
        .group_by(facts.profile_id)
        .order_by(facts.profile_id)
    )
    if ordered_only:
        statement = statement.having(func.sum(case((is_order, 1), else_=0)) > literal(0))
    if segment_id is not None:
        members = select(seg_memberships.c.profile_id).where(
            seg_memberships.c.workspace_id == workspace_id,
            seg_memberships.c.segment_id == segment_id,
        )
        statement = statement.where(facts.profile_id.in_(members))
    return statement


def _days_before(cutoff: datetime, moments: Sequence[datetime | None]) -> FloatMatrix:
    """Days from each moment to the cutoff (NaN for None); SQLite returns naive UTC."""
    out = np.full(len(moments), np.nan)
    for index, moment in enumerate(moments):
        if moment is not None:
            out[index] = (cutoff - utc(moment)).total_seconds() / DAY_SECONDS
    return out


def behaviour_features(
    session: Session,
    workspace_id: str,
    *,
    cutoff: datetime,
    features: Sequence[str] | None = None,
    order_event: str = ORDER_EVENT,
    ordered_only: bool = False,
    segment_id: str | None = None,
) -> FeatureMatrix:
    """The features of every profile with a fact before ``cutoff`` (see the module docstring).

    ``ordered_only`` keeps profiles with at least one order before the cutoff (clustering's
    population); ``segment_id`` keeps the segment's materialized members. Unknown feature names
    raise InvalidArgument on ``features[i]``.
    """
    names = validate_features(features)
    cutoff = utc(cutoff)
    rows = session.execute(
        _aggregates_statement(
            workspace_id=workspace_id,
            cutoff=cutoff,
            order_event=order_event,
            ordered_only=ordered_only,
            segment_id=segment_id,
        )
    ).all()
    profile_ids = tuple(str(row.profile_id) for row in rows)
    orders = np.array([row.orders for row in rows], dtype=np.float64)
    revenue = np.array([row.revenue for row in rows], dtype=np.float64)
    tenure = _days_before(cutoff, [row.first_at for row in rows])
    since_order = _days_before(cutoff, [row.last_order_at for row in rows])
    columns: dict[str, NDArray[np.float64]] = {
        "recency_days": np.where(np.isnan(since_order), tenure, since_order),
        "frequency": orders,
        "monetary": revenue,
        "aov": np.divide(revenue, orders, out=np.zeros_like(revenue), where=orders > 0),
        "orders_90d": np.array([row.orders_90d for row in rows], dtype=np.float64),
        "revenue_90d": np.array([row.revenue_90d for row in rows], dtype=np.float64),
        "events_30d": np.array([row.events_30d for row in rows], dtype=np.float64),
        "tenure_days": tenure,
        "last_seen_days": _days_before(cutoff, [row.last_at for row in rows]),
        "distinct_event_days": np.array([row.days for row in rows], dtype=np.float64),
    }
    values = (
        np.column_stack([columns[name] for name in names])
        if rows
        else np.zeros((0, len(names)), dtype=np.float64)
    )
    return FeatureMatrix(profile_ids, names, np.ascontiguousarray(values), cutoff)


def profiles_with_event(
    session: Session,
    workspace_id: str,
    *,
    start: datetime,
    end: datetime,
    event: str | None,
) -> frozenset[str]:
    """Profiles with a fact of ``event`` (any event when None) in ``[start, end)``."""
    facts = seg_event_facts.c
    statement = (
        select(facts.profile_id)
        .where(
            facts.workspace_id == workspace_id,
            facts.occurred_at >= utc(start),
            facts.occurred_at < utc(end),
        )
        .distinct()
    )
    if event is not None:
        statement = statement.where(facts.event == event)
    return frozenset(str(pid) for pid in session.execute(statement).scalars())


def event_labels(
    session: Session,
    workspace_id: str,
    profile_ids: Sequence[str],
    *,
    cutoff: datetime,
    horizon: timedelta,
    event: str | None,
) -> BoolVector:
    """Whether each profile has ``event`` (any event when None) in ``[cutoff, cutoff + horizon)``.

    The label window starts exactly where the features' window ends (features read
    ``occurred_at < cutoff``), so no fact is both a feature input and an outcome.
    """
    if horizon <= timedelta(0):
        raise InvalidArgument.field("horizon_days", "must be positive")
    cutoff = utc(cutoff)
    hits = profiles_with_event(
        session, workspace_id, start=cutoff, end=cutoff + horizon, event=event
    )
    return np.array([pid in hits for pid in profile_ids], dtype=np.bool_)


def _attribute_value(document: Any, name: str) -> float:
    """A profile attribute feature of one profile's traits or computed document."""
    path, equals, wanted = name.partition(".")[2].partition("=")
    value: Any = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if equals:
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))
        else:
            text = "" if value is None or isinstance(value, dict | list) else str(value)
        return 1.0 if text == wanted else 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and np.isfinite(value):
        return float(value)
    return 0.0


def attribute_features(
    session: Session, workspace_id: str, profile_ids: Sequence[str], names: Sequence[str]
) -> FloatMatrix:
    """Profile attribute features (``traits.`` / ``computed.`` names) of ``profile_ids``, row by
    row; a profile the read model does not hold gets 0 throughout."""
    values = np.zeros((len(profile_ids), len(names)), dtype=np.float64)
    if not names or not profile_ids:
        return values
    row_of = {pid: index for index, pid in enumerate(profile_ids)}
    p = seg_profiles.c
    for start in range(0, len(profile_ids), ATTRIBUTE_CHUNK):
        chunk = list(profile_ids[start : start + ATTRIBUTE_CHUNK])
        for row in session.execute(
            select(p.profile_id, p.traits, p.computed).where(
                p.workspace_id == workspace_id, p.profile_id.in_(chunk)
            )
        ):
            documents = {"traits": row.traits or {}, "computed": row.computed or {}}
            index = row_of[str(row.profile_id)]
            for column, name in enumerate(names):
                values[index, column] = _attribute_value(documents[name.split(".", 1)[0]], name)
    return values


def all_profile_ids(session: Session, workspace_id: str) -> tuple[str, ...]:
    """Every profile of the workspace in the read model, ordered by id."""
    p = seg_profiles.c
    return tuple(
        str(pid)
        for pid in session.execute(
            select(p.profile_id).where(p.workspace_id == workspace_id).order_by(p.profile_id)
        ).scalars()
    )


def profile_features(
    session: Session,
    workspace_id: str,
    *,
    cutoff: datetime,
    names: Sequence[str],
    order_event: str = ORDER_EVENT,
    profile_ids: Sequence[str] | None = None,
) -> FeatureMatrix:
    """Behaviour features and profile attributes (already validated ``names``) as of ``cutoff``.

    Without ``profile_ids`` the population is :func:`behaviour_features`' (profiles with a fact
    before the cutoff). With them, exactly those rows in that order: a profile without a fact
    before the cutoff has 0 for every behaviour feature (no orders, no time observed), which is
    what an uplift model needs for subjects a campaign reached before they did anything.
    """
    behaviour = [name for name in names if not is_attribute(name)]
    attributes = [name for name in names if is_attribute(name)]
    cutoff = utc(cutoff)
    if profile_ids is not None and not behaviour:  # attributes of given profiles: no events
        known = FeatureMatrix((), (), np.zeros((0, 0), dtype=np.float64), cutoff)
    else:
        known = behaviour_features(
            session,
            workspace_id,
            cutoff=cutoff,
            features=behaviour or FEATURES[:1],
            order_event=order_event,
        )
    if profile_ids is None:
        ids = known.profile_ids
        behaviour_values = known.values
    else:
        ids = tuple(profile_ids)
        behaviour_values = np.zeros((len(ids), len(known.names)), dtype=np.float64)
        row_of = {pid: index for index, pid in enumerate(known.profile_ids)}
        rows = [(i, row_of[pid]) for i, pid in enumerate(ids) if pid in row_of]
        if rows:
            target, source = (np.array(side) for side in zip(*rows, strict=True))
            behaviour_values[target] = known.values[source]
    columns: dict[str, NDArray[np.float64]] = {}
    if behaviour:
        columns.update({name: behaviour_values[:, j] for j, name in enumerate(known.names)})
    if attributes:
        extra = attribute_features(session, workspace_id, ids, attributes)
        columns.update({name: extra[:, j] for j, name in enumerate(attributes)})
    values = (
        np.column_stack([columns[name] for name in names])
        if ids
        else np.zeros((0, len(names)), dtype=np.float64)
    )
    return FeatureMatrix(ids, tuple(names), np.ascontiguousarray(values, dtype=np.float64), cutoff)
