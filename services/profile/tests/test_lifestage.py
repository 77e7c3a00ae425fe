"""Life stage from due dates and birth dates: the default rule, configured rules, bad input."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from precis_common.errors import InvalidArgument
from precis_profile.lifestage import (
    DEFAULT_RULE,
    NONE,
    Basis,
    LifeStage,
    LifeStageRule,
    Stage,
    life_stage,
    validate_child_dates,
)

TODAY = date(2026, 3, 1)


def stage_of(*, due: date | None = None, births: tuple[date, ...] = (), on: date = TODAY) -> str:
    return life_stage(due_date=due, birth_dates=births, as_of=on).stage


def days(n: int) -> timedelta:
    return timedelta(days=n)


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


# ---- the default rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "stage"),
    [
        (0, "newborn"),
        (182, "newborn"),
        (183, "infant"),
        (364, "infant"),
        (365, "toddler"),
        (1095, "toddler"),
        (1096, "preschool"),
        (2191, "preschool"),
        (2192, NONE),
        (17 * 365, NONE),
    ],
)
def test_default_stages_by_the_child_age_in_days(age: int, stage: str) -> None:
    result = life_stage(due_date=None, birth_dates=[TODAY - days(age)], as_of=TODAY)
    assert result == LifeStage(stage, age, Basis.BIRTH_DATE, TODAY - days(age))


@pytest.mark.parametrize("ahead", [1, 40, 280, 315])
def test_a_due_date_ahead_means_expecting(ahead: int) -> None:
    result = life_stage(due_date=TODAY + days(ahead), birth_dates=[], as_of=TODAY)
    assert result == LifeStage("expecting", -ahead, Basis.DUE_DATE, TODAY + days(ahead))


def test_no_dates_means_no_stage() -> None:
    assert life_stage(due_date=None, birth_dates=[], as_of=TODAY) == LifeStage(NONE)


def test_the_youngest_child_decides() -> None:
    births = (TODAY - days(1000), TODAY - days(30), TODAY - days(400))
    result = life_stage(due_date=None, birth_dates=births, as_of=TODAY)
    assert (result.stage, result.reference_date) == ("newborn", TODAY - days(30))


def test_a_pregnancy_outranks_older_children() -> None:
    assert stage_of(due=TODAY + days(100), births=(TODAY - days(700),)) == "expecting"


def test_a_birth_near_the_due_date_is_that_pregnancy() -> None:
    # Born five weeks early: the baby is a newborn even though the due date is still ahead.
    result = life_stage(due_date=TODAY + days(25), birth_dates=[TODAY - days(10)], as_of=TODAY)
    assert (result.stage, result.basis, result.age_days) == ("newborn", Basis.BIRTH_DATE, 10)
    # Born ten days late, reported after: the age counts from the real birth.
    late = life_stage(due_date=TODAY - days(200), birth_dates=[TODAY - days(190)], as_of=TODAY)
    assert (late.stage, late.age_days) == ("infant", 190)


def test_a_passed_due_date_stands_in_for_the_birth() -> None:
    result = life_stage(due_date=TODAY - days(20), birth_dates=[], as_of=TODAY)
    assert result == LifeStage("newborn", 20, Basis.ESTIMATED_FROM_DUE_DATE, TODAY - days(20))
    strict = LifeStageRule(DEFAULT_RULE.stages, infer_birth_from_due_date=False)
    assert life_stage(due_date=TODAY - days(20), birth_dates=[], as_of=TODAY, rule=strict) == (
        LifeStage(NONE)
    )
    # A due date that is due today is no longer a pregnancy.
    assert stage_of(due=TODAY) == "newborn"


def test_an_old_due_date_unrelated_to_a_later_birth_is_an_older_child() -> None:
    # Due 3 years ago, no birth reported for it; a second child born 2 months ago.
    births = (TODAY - days(60),)
    assert stage_of(due=TODAY - days(3 * 365), births=births) == "newborn"


# ---- bad input ----------------------------------------------------------------------------


def test_a_due_date_more_than_45_weeks_ahead_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="45 weeks") as refused:
        life_stage(due_date=TODAY + days(316), birth_dates=[], as_of=TODAY)
    assert fields(refused) == ["due_date"]


def test_a_birth_in_the_future_is_refused_naming_which() -> None:
    with pytest.raises(InvalidArgument, match="future") as refused:
        life_stage(due_date=None, birth_dates=[TODAY, TODAY + days(1)], as_of=TODAY)
    assert fields(refused) == ["birth_dates[1]"]


def test_every_absurd_date_is_named_at_once_when_it_arrives() -> None:
    with pytest.raises(InvalidArgument) as refused:
        validate_child_dates(
            due_date=TODAY + days(400),
            birth_dates=[TODAY - days(10), date(2007, 1, 1), TODAY + days(3)],
            as_of=TODAY,
        )
    assert fields(refused) == ["due_date", "birth_dates[1]", "birth_dates[2]"]
    with pytest.raises(InvalidArgument) as old_due:
        validate_child_dates(due_date=date(2000, 5, 1), birth_dates=[], as_of=TODAY)
    assert fields(old_due) == ["due_date"]
    validate_child_dates(due_date=TODAY + days(315), birth_dates=[date(2008, 3, 1)], as_of=TODAY)


def test_a_stored_child_that_grows_past_18_is_no_stage_not_an_error() -> None:
    assert stage_of(births=(date(2000, 1, 1),)) == NONE


def test_the_18_year_limit_on_29_february() -> None:
    leap = date(2024, 2, 29)
    validate_child_dates(due_date=None, birth_dates=[date(2006, 2, 28)], as_of=leap)
    with pytest.raises(InvalidArgument):
        validate_child_dates(due_date=None, birth_dates=[date(2006, 2, 27)], as_of=leap)


@pytest.mark.parametrize(
    ("due", "births", "as_of", "field"),
    [
        (None, (), datetime(2026, 3, 1, 8), "as_of"),
        (datetime(2026, 5, 1, 8), (), TODAY, "due_date"),
        (None, (TODAY, datetime(2026, 1, 1, 8)), TODAY, "birth_dates[1]"),
    ],
)
def test_datetimes_are_refused_where_a_calendar_date_is_due(
    due: date | None, births: tuple[date, ...], as_of: date, field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        life_stage(due_date=due, birth_dates=births, as_of=as_of)
    assert fields(refused) == [field]


# ---- configured rules ---------------------------------------------------------------------


def test_a_configured_rule_is_used() -> None:
    rule = LifeStageRule.from_config(
        [
            {"name": "pregnant", "min_age_days": -280, "max_age_days": 0},
            {"name": "baby", "min_age_days": 0, "max_age_days": 730},
            {"name": "kid", "min_age_days": 730, "max_age_days": 4380},
        ]
    )
    born = [TODAY - days(1000)]
    assert life_stage(due_date=None, birth_dates=born, as_of=TODAY, rule=rule).stage == "kid"
    far = life_stage(due_date=TODAY + days(300), birth_dates=[], as_of=TODAY, rule=rule)
    assert (far.stage, far.age_days) == (NONE, -300)  # accepted, but before the first stage


@pytest.mark.parametrize(
    ("stages", "field", "reason"),
    [
        ([], "stages", "at least one"),
        ([("a", 0, 10), ("b", 5, 20)], "stages[1].min_age_days", "overlaps"),
        ([("a", 0, 10), ("b", 12, 20)], "stages[1].min_age_days", "gap"),
        ([("a", 0, 10), ("b", 10, 20), ("a", 20, 30)], "stages[2].name", "twice"),
        ([("a", 0, 10), ("none", 10, 20)], "stages[1].name", "reserved"),
        ([("", 0, 10)], "stages[0].name", "empty"),
        ([("a", 0, 10), ("b", 10, 10), ("c", 10, 20)], "stages[1].max_age_days", "greater"),
    ],
)
def test_an_invalid_rule_is_refused_naming_the_field(
    stages: list[tuple[str, int, int]], field: str, reason: str
) -> None:
    with pytest.raises(InvalidArgument, match=reason) as refused:
        LifeStageRule(tuple(Stage(*s) for s in stages))
    assert fields(refused) == [field]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"name": 3, "min_age_days": 0, "max_age_days": 10}, "stages[0].name"),
        ({"name": "a", "min_age_days": "0", "max_age_days": 10}, "stages[0].min_age_days"),
        ({"name": "a", "min_age_days": 0, "max_age_days": True}, "stages[0].max_age_days"),
        ({"name": "a", "min_age_days": 0}, "stages[0].max_age_days"),
    ],
)
def test_malformed_configuration_is_refused_naming_the_field(
    item: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        LifeStageRule.from_config([item])
    assert fields(refused) == [field]


# ---- properties ---------------------------------------------------------------------------


@st.composite
def rules(draw: st.DrawFn) -> LifeStageRule:
    cuts = draw(st.lists(st.integers(-400, 7000), min_size=2, max_size=8, unique=True))
    cuts.sort()
    names = draw(
        st.lists(
            st.text("abcdefgh", min_size=1, max_size=6).filter(lambda n: n != NONE),
            min_size=len(cuts) - 1,
            max_size=len(cuts) - 1,
            unique=True,
        )
    )
    stages = tuple(Stage(n, lo, hi) for n, lo, hi in zip(names, cuts, cuts[1:], strict=False))
    return LifeStageRule(stages, infer_birth_from_due_date=draw(st.booleans()))


def progress(result: LifeStage, rule: LifeStageRule) -> int:
    """How far along the stages a result is: before the first, a stage's index, or past all."""
    names = [s.name for s in rule.stages]
    if result.stage != NONE:
        return names.index(result.stage)
    if result.age_days is not None and result.age_days < rule.stages[0].min_age_days:
        return -1
    return len(names)


DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    start=DAYS,
    due_offset=st.one_of(st.none(), st.integers(-6570, 315)),
    birth_offsets=st.lists(st.integers(0, 6570), max_size=4),
    steps=st.lists(st.integers(0, 400), min_size=1, max_size=25),
    rule=st.one_of(st.just(DEFAULT_RULE), rules()),
)
def test_as_time_passes_a_stage_never_goes_back(
    start: date,
    due_offset: int | None,
    birth_offsets: list[int],
    steps: list[int],
    rule: LifeStageRule,
) -> None:
    due = None if due_offset is None else start + days(due_offset)
    births = [start - days(b) for b in birth_offsets]
    validate_child_dates(due_date=due, birth_dates=births, as_of=start)  # valid when sent
    day = start
    previous = progress(life_stage(due_date=due, birth_dates=births, as_of=day, rule=rule), rule)
    for step in steps:
        day += days(step)
        # never raises later: a stored trait does not start failing as time passes
        now = progress(life_stage(due_date=due, birth_dates=births, as_of=day, rule=rule), rule)
        assert now >= previous, (day, due, births)
        previous = now


@given(births=st.lists(st.integers(0, 6000), min_size=1, max_size=5), rule=rules())
def test_only_the_youngest_birth_date_matters_without_a_due_date(
    births: list[int], rule: LifeStageRule
) -> None:
    dates = [TODAY - days(b) for b in births]
    everyone = life_stage(due_date=None, birth_dates=dates, as_of=TODAY, rule=rule)
    youngest = life_stage(due_date=None, birth_dates=[max(dates)], as_of=TODAY, rule=rule)
    assert everyone == youngest
    assert everyone.age_days == min(births)


@given(rule=rules(), age=st.integers(-500, 8000))
def test_every_age_falls_in_at_most_one_stage_of_a_valid_rule(
    rule: LifeStageRule, age: int
) -> None:
    covering = [s.name for s in rule.stages if s.min_age_days <= age < s.max_age_days]
    inside = rule.stages[0].min_age_days <= age < rule.stages[-1].max_age_days
    assert covering == ([rule.stage_for_age(age)] if inside else [])
    assert rule.stage_for_age(age) == (covering[0] if covering else NONE)


@given(rule=rules(), data=st.data())
def test_moving_one_boundary_breaks_contiguity_and_is_named(
    rule: LifeStageRule, data: st.DataObject
) -> None:
    assume(len(rule.stages) >= 2)
    index = data.draw(st.integers(1, len(rule.stages) - 1))
    shift = data.draw(st.integers(-3, 3).filter(lambda s: s != 0))
    stages = list(rule.stages)
    moved = stages[index]
    assume(moved.min_age_days + shift < moved.max_age_days)
    stages[index] = Stage(moved.name, moved.min_age_days + shift, moved.max_age_days)
    with pytest.raises(InvalidArgument) as refused:
        LifeStageRule(tuple(stages))
    assert f"stages[{index}].min_age_days" in fields(refused)
