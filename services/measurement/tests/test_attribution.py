"""Multi-touch attribution: every model on journeys worked out by hand, the Markov chain against
closed-form absorption probabilities, Shapley values exact and sampled, and properties that hold
for any journeys (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from precis_measurement.attribution import (
    AttributionModel,
    AttributionResult,
    ChannelCredit,
    Journey,
    Touchpoint,
    compute_attribution,
    markov_chain,
    removal_effects,
)

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
M = AttributionModel


def _journey(
    touches: list[tuple[str, float]],
    converted: bool,
    revenue: float = 0.0,
    conversion_day: float | None = None,
) -> Journey:
    return Journey(
        touchpoints=tuple(Touchpoint(c, DAY0 + timedelta(days=d)) for c, d in touches),
        converted=converted,
        revenue=revenue,
        conversion_time=None if conversion_day is None else DAY0 + timedelta(days=conversion_day),
    )


def _by_channel(result: AttributionResult, model: AttributionModel) -> dict[str, ChannelCredit]:
    (attribution,) = [r for r in result.results if r.model is model]
    return {c.channel: c for c in attribution.credits}


def _conversions(result: AttributionResult, model: AttributionModel) -> dict[str, float]:
    return {c: credit.conversions for c, credit in _by_channel(result, model).items()}


def _revenue(result: AttributionResult, model: AttributionModel) -> dict[str, float]:
    return {c: credit.revenue for c, credit in _by_channel(result, model).items()}


# The worked example (days after DAY0):
#   J1 email@0 -> search@4 -> display@6, converted @8, revenue 100
#   J2 search@0 -> email@2, converted @2, revenue 50
#   J3 display@0, not converted
#   J4 no touches, converted, revenue 20   (in the totals, credited by no model)
#   J5 email@0, converted @0, revenue 30
# Totals: 5 journeys, 4 conversions, revenue 200; attributed: 3 conversions, revenue 180.
EXAMPLE = [
    _journey([("email", 0), ("search", 4), ("display", 6)], True, 100.0, 8),
    _journey([("search", 0), ("email", 2)], True, 50.0, 2),
    _journey([("display", 0)], False),
    _journey([], True, 20.0),
    _journey([("email", 0)], True, 30.0, 0),
]


def _example(**kwargs: object) -> AttributionResult:
    return compute_attribution(EXAMPLE, half_life=timedelta(days=2), **kwargs)  # type: ignore[arg-type]


def test_totals_count_touchless_journeys_but_only_touched_ones_are_attributed() -> None:
    result = _example()
    assert (result.journeys, result.conversions, result.revenue) == (5, 4, 200.0)
    assert (result.attributed_conversions, result.attributed_revenue) == (3, 180.0)
    assert [r.model for r in result.results] == list(AttributionModel)


def test_first_and_last_touch() -> None:
    result = _example()
    # First touches of converted journeys: J1 email, J2 search, J5 email.
    assert _conversions(result, M.FIRST_TOUCH) == {"email": 2, "search": 1, "display": 0}
    assert _revenue(result, M.FIRST_TOUCH) == {"email": 130, "search": 50, "display": 0}
    # Last touches: J1 display, J2 email, J5 email.
    assert _conversions(result, M.LAST_TOUCH) == {"email": 2, "display": 1, "search": 0}
    assert _revenue(result, M.LAST_TOUCH) == {"email": 80, "display": 100, "search": 0}
    credits = [c.channel for c in result.results[0].credits]
    assert credits == ["email", "search", "display"]  # largest first
    assert _by_channel(result, M.FIRST_TOUCH)["email"].share == pytest.approx(2 / 3)


def test_linear() -> None:
    # J1 gives 1/3 to each of its three touches, J2 1/2 to each, J5 1 to email:
    # email 1/3 + 1/2 + 1 = 11/6, search 1/3 + 1/2 = 5/6, display 1/3 (sum 3).
    # Revenue: email 100/3 + 25 + 30, search 100/3 + 25, display 100/3.
    result = _example()
    assert _conversions(result, M.LINEAR) == pytest.approx(
        {"email": 11 / 6, "search": 5 / 6, "display": 1 / 3}
    )
    assert _revenue(result, M.LINEAR) == pytest.approx(
        {"email": 100 / 3 + 55, "search": 100 / 3 + 25, "display": 100 / 3}
    )


def test_time_decay() -> None:
    # Half-life 2 days. J1 ages 8, 4, 2 days -> 2^-4, 2^-2, 2^-1 = 1/16, 4/16, 8/16, normalized
    # 1/13, 4/13, 8/13. J2 ages 2, 0 -> 1/2, 1 -> 1/3, 2/3. J5: email 1.
    # email 1/13 + 2/3 + 1 = 68/39, search 4/13 + 1/3 = 25/39, display 8/13 = 24/39 (sum 3).
    result = _example()
    assert _conversions(result, M.TIME_DECAY) == pytest.approx(
        {"email": 68 / 39, "search": 25 / 39, "display": 24 / 39}
    )
    assert _revenue(result, M.TIME_DECAY) == pytest.approx(
        {"email": 100 / 13 + 100 / 3 + 30, "search": 400 / 13 + 50 / 3, "display": 800 / 13}
    )


def test_position_based() -> None:
    # 40/40: J1 email 0.4, search 0.2 (the middle), display 0.4; J2 (two touches) 0.5 / 0.5;
    # J5 (one touch) email 1. email 1.9, search 0.7, display 0.4.
    result = _example()
    assert _conversions(result, M.POSITION_BASED) == pytest.approx(
        {"email": 1.9, "search": 0.7, "display": 0.4}
    )
    # 30/50: J1 email 0.3, search 0.2, display 0.5; J2 in the ratio 30:50 -> search 0.375,
    # email 0.625; J5 email 1. email 1.925, search 0.575, display 0.5.
    skewed = _example(first_touch_weight=0.3, last_touch_weight=0.5)
    assert _conversions(skewed, M.POSITION_BASED) == pytest.approx(
        {"email": 1.925, "search": 0.575, "display": 0.5}
    )
    # Both ends 0: two touches split equally, three or more give everything to the middle.
    middle = _example(first_touch_weight=0.0, last_touch_weight=0.0)
    assert _conversions(middle, M.POSITION_BASED) == pytest.approx(
        {"email": 1.5, "search": 1.5, "display": 0.0}
    )


def test_markov_worked_example() -> None:
    # Paths (J4 has no touches and is left out):
    #   start->email->search->display->conv, start->search->email->conv, start->display->null,
    #   start->email->conv.
    # start: email 1/2, search 1/4, display 1/4. email: search 1/3, conv 2/3.
    # search: display 1/2, email 1/2. display: conv 1/2, null 1/2.
    # Conversion probabilities x from each state (email and search form a cycle):
    #   x_d = 1/2; x_s = x_d/2 + x_e/2 = 1/4 + x_e/2; x_e = x_s/3 + 2/3 -> (5/6) x_e = 3/4,
    #   x_e = 9/10, x_s = 7/10. P = 9/20 + 7/40 + 1/8 = 3/4.
    # Without email: x_e = 0, x_s = 1/4, P = 1/16 + 1/8 = 3/16 -> removal effect 1 - 1/4 = 3/4.
    # Without search: x_e = 2/3, P = 1/3 + 1/8 = 11/24 -> 1 - 11/18 = 7/18.
    # Without display: x_e = x_e/6 + 2/3 -> 4/5, x_s = 2/5, P = 2/5 + 1/10 = 1/2 -> 1/3.
    # Sum 53/36. Credits of 3 conversions: email 81/53, search 42/53, display 36/53.
    chain = markov_chain(EXAMPLE)
    assert chain.conversion_probability() == pytest.approx(3 / 4)
    assert removal_effects(EXAMPLE) == pytest.approx(
        {"email": 3 / 4, "search": 7 / 18, "display": 1 / 3}
    )
    result = _example()
    assert _conversions(result, M.MARKOV) == pytest.approx(
        {"email": 81 / 53, "search": 42 / 53, "display": 36 / 53}
    )
    assert _revenue(result, M.MARKOV) == pytest.approx(
        {"email": 180 * 27 / 53, "search": 180 * 14 / 53, "display": 180 * 12 / 53}
    )
    markov = _by_channel(result, M.MARKOV)
    assert markov["search"].removal_effect == pytest.approx(7 / 18)
    assert _by_channel(result, M.LINEAR)["search"].removal_effect == 0.0


def test_markov_with_a_loop_has_a_geometric_series_answer() -> None:
    # A -> B -> A -> conv, B -> null, A -> null.
    # start: A 2/3, B 1/3. A: B 1/3, conv 1/3, null 1/3. B: A 1/2, null 1/2.
    # x_A = 1/3 + x_B/3, x_B = x_A/2 -> x_A = (1/3) / (1 - 1/6) = 2/5 (the series
    # 1/3 * sum (1/6)^k), x_B = 1/5. P = 2/3 * 2/5 + 1/3 * 1/5 = 1/3.
    # Without A nothing converts: effect 1. Without B: x_A = 1/3, P = 2/9, effect 1/3.
    # One conversion: A 1 / (4/3) = 3/4, B 1/4.
    journeys = [
        _journey([("A", 0), ("B", 1), ("A", 2)], True, 10.0, 3),
        _journey([("B", 0)], False),
        _journey([("A", 0)], False),
    ]
    assert markov_chain(journeys).conversion_probability() == pytest.approx(1 / 3)
    assert markov_chain(journeys).conversion_probability(without="B") == pytest.approx(2 / 9)
    assert removal_effects(journeys) == pytest.approx({"A": 1.0, "B": 1 / 3})
    result = compute_attribution(journeys, models=[M.MARKOV])
    assert _conversions(result, M.MARKOV) == pytest.approx({"A": 0.75, "B": 0.25})
    assert _revenue(result, M.MARKOV) == pytest.approx({"A": 7.5, "B": 2.5})


def test_markov_can_credit_a_channel_that_never_converted() -> None:
    # Memorylessness: C only appears in a journey that did not convert, but C -> B and B -> conv
    # were both seen, so the chain has a converting path through C.
    # start: A 1/2, C 1/2. C: B 1. B: conv 1/2, null 1/2. A: B 1. P = 1/2.
    # Without C: P = 1/2 * 1/2 = 1/4, effect 1/2 (so do A and B: 1/2 and 1).
    journeys = [
        _journey([("A", 0), ("B", 1)], True, conversion_day=1),
        _journey([("C", 0), ("B", 1)], False),
    ]
    assert removal_effects(journeys) == pytest.approx({"A": 0.5, "B": 1.0, "C": 0.5})
    result = compute_attribution(journeys)
    for model in AttributionModel:
        if model is not M.MARKOV:
            assert _conversions(result, model)["C"] == 0.0, model
    assert _conversions(result, M.MARKOV)["C"] == pytest.approx(0.25)


def test_shapley_by_hand() -> None:
    # Converting channel sets: {e, s, d} (J1), {s, e} (J2), {e} (J5). v(S) counts the converted
    # journeys whose set is inside S: v(e) = 1, v(s) = v(d) = 0, v(e,s) = 2, v(e,d) = 1,
    # v(s,d) = 0, v(e,s,d) = 3. With weights 1/3 (|S| = 0 or 2) and 1/6 (|S| = 1):
    #   phi_d = 1/3 (v(esd) - v(es)) = 1/3 (every other marginal is 0)
    #   phi_s = 1/6 (v(es) - v(e)) + 1/3 (v(esd) - v(ed)) = 1/6 + 2/3 = 5/6
    #   phi_e = 3 - 1/3 - 5/6 = 11/6 (efficiency), which is also the equal split per journey.
    result = _example()
    assert _conversions(result, M.SHAPLEY) == pytest.approx(
        {"email": 11 / 6, "search": 5 / 6, "display": 1 / 3}
    )
    assert _revenue(result, M.SHAPLEY) == pytest.approx(
        {"email": 100 / 3 + 55, "search": 100 / 3 + 25, "display": 100 / 3}
    )


def test_shapley_is_sampled_beyond_twelve_channels() -> None:
    # 14 channels: journey i touches channels i and i+1 (mod 14) and converts with revenue i.
    # The exact value for this game is the equal split: each channel 1/2 + 1/2 = 1.
    channels = [f"ch{i:02d}" for i in range(14)]
    journeys = [
        _journey([(channels[i], 0), (channels[(i + 1) % 14], 1)], True, float(i), 2)
        for i in range(14)
    ]
    journeys.append(_journey([(channels[0], 0)], False))
    first = compute_attribution(journeys, models=[M.SHAPLEY], seed=5, shapley_permutations=500)
    again = compute_attribution(journeys, models=[M.SHAPLEY], seed=5, shapley_permutations=500)
    assert first == again
    conversions = _conversions(first, M.SHAPLEY)
    assert sum(conversions.values()) == pytest.approx(14.0)
    assert sum(_revenue(first, M.SHAPLEY).values()) == pytest.approx(sum(range(14)))
    # Each journey's conversion goes to one of its two channels with probability 1/2 per order:
    # with 500 orders the standard error per channel is about sqrt(2 * 0.25 / 500) = 0.032.
    assert all(abs(v - 1.0) < 0.15 for v in conversions.values()), conversions
    other = compute_attribution(journeys, models=[M.SHAPLEY], seed=6, shapley_permutations=500)
    assert _conversions(other, M.SHAPLEY) != conversions


def test_touch_order_is_taken_from_the_times() -> None:
    shuffled = Journey(
        touchpoints=(
            Touchpoint("display", DAY0 + timedelta(days=6)),
            Touchpoint("email", DAY0),
            Touchpoint("search", DAY0 + timedelta(days=4)),
        ),
        converted=True,
        revenue=100.0,
        conversion_time=DAY0 + timedelta(days=8),
    )
    assert compute_attribution([shuffled]) == compute_attribution([EXAMPLE[0]])


def test_time_decay_without_conversion_time_and_with_very_old_touches() -> None:
    # No conversion time: the last touch stands in (ages 1000 and 0 days, half-life 1 day):
    # the old touch's weight 2^-1000 is negligible but the row still sums to 1.
    old = _journey([("print", 0), ("email", 1000)], True, 10.0)
    result = compute_attribution([old], models=[M.TIME_DECAY], half_life=timedelta(days=1))
    assert _conversions(result, M.TIME_DECAY) == pytest.approx({"email": 1.0, "print": 0.0})
    # Every touch far older than the half-life: weights are relative, nothing underflows.
    ancient = _journey([("print", 0), ("email", 1)], True, 10.0, 5000)
    result = compute_attribution([ancient], models=[M.TIME_DECAY], half_life=timedelta(days=1))
    assert _conversions(result, M.TIME_DECAY) == pytest.approx({"print": 1 / 3, "email": 2 / 3})


def test_nothing_to_attribute() -> None:
    empty = compute_attribution([])
    assert (empty.journeys, empty.conversions, empty.revenue) == (0, 0, 0.0)
    assert all(r.credits == () for r in empty.results)
    no_conversion = compute_attribution([_journey([("email", 0)], False), _journey([], False)])
    for attribution in no_conversion.results:
        (credit,) = attribution.credits
        assert (credit.channel, credit.conversions, credit.share, credit.removal_effect) == (
            "email",
            0.0,
            0.0,
            0.0,
        )


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="half_life"):
        compute_attribution(EXAMPLE, half_life=timedelta(0))
    with pytest.raises(ValueError, match="must not exceed 1"):
        compute_attribution(EXAMPLE, first_touch_weight=0.7, last_touch_weight=0.4)
    with pytest.raises(ValueError, match=r"in 0\.\.1"):
        compute_attribution(EXAMPLE, first_touch_weight=-0.1)
    with pytest.raises(ValueError, match="revenue"):
        compute_attribution([_journey([("email", 0)], True, -5.0)])
    with pytest.raises(ValueError, match="permutations"):
        compute_attribution(EXAMPLE, shapley_permutations=0)


# --- properties -----------------------------------------------------------------------------

CHANNELS = ["email", "search", "display", "social", "sms"]

journeys_strategy = st.lists(
    st.builds(
        lambda touches, converted, revenue, lag: _journey(
            [(c, float(i)) for i, c in enumerate(touches)],
            converted,
            revenue if converted else 0.0,
            None if lag is None else len(touches) + lag,
        ),
        st.lists(st.sampled_from(CHANNELS), max_size=6),
        st.booleans(),
        st.sampled_from([0.0, 10.0, 99.5]),
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=30.0)),
    ),
    max_size=25,
)


def _models_check(journeys: list[Journey], result: AttributionResult) -> None:
    for attribution in result.results:
        credits = attribution.credits
        assert all(c.conversions >= 0.0 and c.revenue >= 0.0 for c in credits)
        assert sum(c.conversions for c in credits) == pytest.approx(
            result.attributed_conversions, abs=1e-9
        )
        assert sum(c.revenue for c in credits) == pytest.approx(result.attributed_revenue, abs=1e-7)
        if result.attributed_conversions:
            assert sum(c.share for c in credits) == pytest.approx(1.0)


@settings(max_examples=80, deadline=None)
@given(journeys_strategy)
def test_credits_sum_to_the_attributed_conversions_and_revenue(journeys: list[Journey]) -> None:
    result = compute_attribution(journeys)
    _models_check(journeys, result)
    assert result.attributed_conversions == sum(
        1 for j in journeys if j.converted and j.touchpoints
    )
    effects = _by_channel(result, M.MARKOV)
    assert all(0.0 <= c.removal_effect <= 1.0 + 1e-12 for c in effects.values())


@settings(max_examples=60, deadline=None)
@given(journeys_strategy, st.permutations(CHANNELS))
def test_relabelling_channels_relabels_the_credits(
    journeys: list[Journey], relabelled: list[str]
) -> None:
    mapping = dict(zip(CHANNELS, (f"x_{c}" for c in relabelled), strict=True))
    renamed = [
        Journey(
            tuple(Touchpoint(mapping[t.channel], t.time) for t in j.touchpoints),
            j.converted,
            j.revenue,
            j.conversion_time,
        )
        for j in journeys
    ]
    before, after = compute_attribution(journeys), compute_attribution(renamed)
    for model in AttributionModel:
        original = _by_channel(before, model)
        moved = _by_channel(after, model)
        assert set(moved) == {mapping[c] for c in original}
        for channel, credit in original.items():
            other = moved[mapping[channel]]
            assert other.conversions == pytest.approx(credit.conversions, abs=1e-9)
            assert other.revenue == pytest.approx(credit.revenue, abs=1e-7)
            assert other.removal_effect == pytest.approx(credit.removal_effect, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(journeys_strategy, st.lists(st.booleans(), min_size=25, max_size=25))
def test_a_channel_seen_only_at_the_end_of_failed_journeys_gets_nothing(
    journeys: list[Journey], append: list[bool]
) -> None:
    # "late" is appended to some journeys that did not convert: it never precedes a conversion
    # in the data, and in the chain it only leads to null, so even its removal effect is 0.
    late = [
        Journey(
            (*j.touchpoints, Touchpoint("late", DAY0 + timedelta(days=100))),
            j.converted,
            j.revenue,
            j.conversion_time,
        )
        if flag and not j.converted
        else j
        for j, flag in zip(journeys, append[: len(journeys)], strict=True)
    ]
    result = compute_attribution(late)
    _models_check(late, result)
    for model in AttributionModel:
        credit = _by_channel(result, model).get("late")
        if credit is not None:
            assert credit.conversions == pytest.approx(0.0, abs=1e-12), model
            assert credit.revenue == pytest.approx(0.0, abs=1e-9), model
            assert credit.removal_effect == pytest.approx(0.0, abs=1e-12), model


@settings(max_examples=60, deadline=None)
@given(journeys_strategy)
def test_exact_shapley_is_the_equal_split_over_distinct_channels(journeys: list[Journey]) -> None:
    # For v(S) = conversions of journeys whose channel set lies in S, the game is a sum of
    # unanimity games, so each converted journey's conversion is split equally among its
    # distinct channels (Zhao et al. 2018): an oracle independent of the coalition enumeration.
    expected: dict[str, float] = {}
    for journey in journeys:
        if journey.converted and journey.touchpoints:
            distinct = {t.channel for t in journey.touchpoints}
            for channel in distinct:
                expected[channel] = expected.get(channel, 0.0) + 1.0 / len(distinct)
    result = compute_attribution(journeys, models=[M.SHAPLEY])
    got = {c: v for c, v in _conversions(result, M.SHAPLEY).items() if v > 0.0}
    assert got == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(journeys_strategy)
def test_single_touch_journeys_agree_under_every_rule(journeys: list[Journey]) -> None:
    # With one touch per journey every model but Markov gives each conversion to that touch.
    single = [
        Journey(j.touchpoints[:1], j.converted, j.revenue, j.conversion_time) for j in journeys
    ]
    result = compute_attribution(single)
    reference = _conversions(result, M.FIRST_TOUCH)
    for model in AttributionModel:
        if model is not M.MARKOV:
            assert _conversions(result, model) == pytest.approx(reference), model
