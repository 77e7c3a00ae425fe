"""Property tests: on random small read models and random rules, the SQL the compiler produces
selects exactly the profiles the plain-Python evaluator selects, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segmentation_support import NOW, ReadModel

from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow, evaluate
from precis_segmentation.rules import parse_rule
from precis_segmentation.store import canonical_time

PROFILE_IDS = [f"p{i}" for i in range(6)]
KEYS = ["a", "b", "when"]
PROPERTY_KEYS = ["category", "revenue", "quantity", "points", "when"]
TAGS = ["vip", "mom", "new"]
PURPOSES = ["marketing_email", "personalization"]
SEGMENTS = ["s1", "s2"]
EVENTS = ["view", "purchase"]

# Numbers are multiples of 1/4, so sums are exact in binary floating point whatever the order
# the database adds them in (see README: sums are doubles).
numbers = st.integers(-12, 40).map(lambda q: q / 4 if q % 3 else q // 4)
strings = st.text(alphabet="aAbé", max_size=2)
# Times, windows and relative dates share a few day offsets and hours, so that events and dates
# fall exactly on window boundaries often.
DAYS = [-30, -7, -3, -1, 0, 1]
WINDOW_DAYS = [1, 3, 7, 30]
HOURS = [0, 5]
moments = st.builds(
    lambda days, hours: NOW + timedelta(days=days, hours=hours),
    st.sampled_from(DAYS),
    st.sampled_from(HOURS),
)
dates = moments.map(canonical_time)
scalars = st.one_of(numbers, strings, st.booleans(), dates)
stored = st.one_of(scalars, st.none(), st.just([1, "a"]), st.just({"x": 1}))
# "when" always holds a date, as last_seen does; "a" and "b" hold anything, or are missing.
documents = st.fixed_dictionaries({"when": dates}, optional={"a": stored, "b": stored})


@st.composite
def datasets(draw: st.DrawFn) -> Dataset:
    ids = draw(st.lists(st.sampled_from(PROFILE_IDS), unique=True, min_size=3, max_size=6))
    profiles = [ProfileRow(pid, draw(documents), draw(documents)) for pid in ids]
    tags = {pid: draw(st.sets(st.sampled_from(TAGS), max_size=2)) for pid in ids}
    owners = st.sampled_from([*ids, "ghost"])
    events = draw(
        st.lists(
            st.builds(
                EventRow,
                owners,
                st.sampled_from(EVENTS),
                moments,
                st.fixed_dictionaries(
                    {}, optional={key: dates if key == "when" else stored for key in PROPERTY_KEYS}
                ),
            ),
            min_size=3,
            max_size=16,
        )
    )
    consent = {
        (pid, purpose): allowed
        for pid in ids
        for purpose in PURPOSES
        if (allowed := draw(st.sampled_from([None, True, False]))) is not None
    }
    memberships = {s: draw(st.sets(st.sampled_from(PROFILE_IDS), max_size=4)) for s in SEGMENTS}
    return Dataset(profiles, tags, events, consent, memberships)


def _pair(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.lists(strategy, min_size=2, max_size=2).map(lambda pair: ("between", sorted(pair)))


# One branch per operator: hypothesis spreads its choices over the branches of one_of.
operands = st.one_of(
    st.tuples(st.sampled_from(["=", "!="]), scalars),
    st.tuples(st.sampled_from(["<", "<=", ">", ">="]), st.one_of(numbers, strings, dates)),
    st.tuples(st.just("in"), st.lists(scalars, min_size=1, max_size=3)),
    st.tuples(st.just("contains"), strings),
    st.tuples(st.just("exists"), st.booleans()),
    _pair(numbers),
    _pair(st.one_of(strings, dates)),
    st.tuples(st.just("within_last_days"), st.sampled_from(WINDOW_DAYS)),
    st.tuples(st.just("more_than_days_ago"), st.sampled_from([0, *WINDOW_DAYS])),
)


@st.composite
def field_conditions(draw: st.DrawFn, sources: tuple[str, ...]) -> dict[str, Any]:
    source = draw(st.sampled_from(sources))
    keys = PROPERTY_KEYS if source == "properties" else KEYS
    op, value = draw(operands)
    return {"field": f"{source}.{draw(st.sampled_from(keys))}", "op": op, "value": value}


@st.composite
def tag_conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["contains", "in", "exists"]))
    if op == "contains":
        value: Any = draw(st.sampled_from(TAGS))
    elif op == "in":
        value = draw(st.lists(st.sampled_from([*TAGS, "other"]), min_size=1, max_size=3))
    else:
        value = draw(st.booleans())
    return {"field": "tags", "op": op, "value": value}


@st.composite
def event_conditions(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": draw(st.sampled_from(EVENTS))}
    if draw(st.integers(0, 3)) == 0:
        spec["where"] = [draw(field_conditions(("properties",)))]
    measure = draw(st.sampled_from(["default", "count", "sum", "did_not"]))
    comparison = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    if measure == "count":
        op = draw(comparison)
        spec["count"] = {"op": op, "value": draw(st.integers(1 if op == "<" else 0, 4))}
    elif measure == "sum":
        spec["sum"] = {
            "property": draw(st.sampled_from(["revenue", "quantity", "points", "category"])),
            "op": draw(comparison),
            "value": draw(numbers),
        }
    elif measure == "did_not":
        spec["did_not"] = True
    window = draw(st.sampled_from(["none", "within_days", "between"]))
    if window == "within_days":
        spec["within_days"] = draw(st.sampled_from(WINDOW_DAYS))
    elif window == "between":
        start, end = sorted(
            draw(st.lists(st.sampled_from(DAYS[:-2]), min_size=2, max_size=2, unique=True))
        )
        spec["between"] = [
            (NOW + timedelta(days=start, hours=draw(st.sampled_from(HOURS)))).isoformat(),
            (NOW + timedelta(days=end, hours=draw(st.sampled_from(HOURS)))).isoformat(),
        ]
    return {"event": spec}


# Profile fields and events are where the semantics are subtle: they get more of the leaves.
leaves = st.one_of(
    field_conditions(("traits", "computed")),
    field_conditions(("traits", "computed")),
    tag_conditions(),
    event_conditions(),
    event_conditions(),
    st.sampled_from(
        [{"consent": p} for p in PURPOSES] + [{"segment": s} for s in [*SEGMENTS, "s_none"]]
    ),
)
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=5,
)


# 250 examples of 6 rules each: about 9 s on SQLite and 16 s on PostgreSQL (measured on 2 cores).
@settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    # The fixture's database is reused on purpose: every example clears and reloads its tables.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(dataset=datasets(), docs=st.lists(rules, min_size=6, max_size=6))
def test_sql_selects_what_the_evaluator_selects(
    read_model: ReadModel, dataset: Dataset, docs: list[dict[str, Any]]
) -> None:
    read_model.clear()
    read_model.load(dataset)
    for doc in docs:
        rule = parse_rule(doc)
        assert read_model.select(rule, now=NOW) == evaluate(rule, dataset, now=NOW), doc
