"""Power planning agrees with statsmodels' power solvers, delivers the power it promises in
simulated experiments, and is consistent both ways (size from effect, effect from size)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power

from precis_measurement.power import PowerPlanRequest, achieved_power, plan_power
from precis_measurement.stats import ArmStatistics, MetricType, analyze


@pytest.mark.parametrize(
    ("metric", "baseline", "sd", "arms", "control_share", "mde"),
    [
        (MetricType.PROPORTION, 0.10, 0.0, 1, 0.0, 0.10),
        (MetricType.PROPORTION, 0.03, 0.0, 3, 0.0, 0.15),
        (MetricType.PROPORTION, 0.25, 0.0, 2, 0.1, 0.05),
        (MetricType.MEAN, 40.0, 55.0, 1, 0.2, 0.05),
        (MetricType.MEAN, 12.0, 30.0, 4, 0.0, 0.08),
    ],
)
def test_sample_size_matches_statsmodels_normal_power(
    metric: MetricType, baseline: float, sd: float, arms: int, control_share: float, mde: float
) -> None:
    request = PowerPlanRequest(
        metric,
        baseline,
        standard_deviation=sd,
        treatment_arms=arms,
        control_share=control_share,
        relative_mde=mde,
    )
    plan = plan_power(request)
    sigma = math.sqrt(baseline * (1 - baseline)) if metric is MetricType.PROPORTION else sd
    share_c = control_share or 1 / (arms + 1)
    share_t = (1 - share_c) / arms
    nobs1 = NormalIndPower().solve_power(
        effect_size=baseline * mde / sigma,
        alpha=0.05 / arms,
        power=0.8,
        ratio=share_t / share_c,
    )
    assert abs(plan.control_units - math.ceil(nobs1)) <= 1
    assert abs(plan.treatment_units_per_arm - math.ceil(nobs1 * share_t / share_c)) <= 1
    assert plan.total_units == plan.control_units + arms * plan.treatment_units_per_arm
    assert plan.absolute_mde == pytest.approx(baseline * mde)
    # statsmodels' power at the planned sizes (both tails) is what we promise, and no less.
    power = NormalIndPower().power(
        effect_size=baseline * mde / sigma,
        nobs1=plan.control_units,
        alpha=0.05 / arms,
        ratio=plan.treatment_units_per_arm / plan.control_units,
    )
    assert power >= 0.8
    assert power == pytest.approx(0.8, abs=0.002)
    assert achieved_power(
        request, plan.control_units, plan.treatment_units_per_arm, plan.absolute_mde
    ) == pytest.approx(power, rel=1e-10)


def test_sample_size_for_means_is_close_to_the_t_test_solver() -> None:
    request = PowerPlanRequest("mean", 50.0, standard_deviation=80.0, relative_mde=0.1)
    plan = plan_power(request)
    nobs1 = tt_ind_solve_power(effect_size=5.0 / 80.0, alpha=0.05, power=0.8, ratio=1.0)
    # z against t with ~8,000 degrees of freedom: a few units apart.
    assert plan.control_units == pytest.approx(nobs1, rel=0.002)


def test_mde_for_a_given_size_matches_statsmodels() -> None:
    request = PowerPlanRequest(
        MetricType.PROPORTION, 0.08, alpha=0.1, power=0.9, control_share=0.25, total_units=40_000
    )
    plan = plan_power(request)
    assert (plan.control_units, plan.treatment_units_per_arm) == (10_000, 30_000)
    effect = NormalIndPower().solve_power(
        nobs1=10_000, alpha=0.1, power=0.9, ratio=3.0, alternative="two-sided"
    )
    sigma = math.sqrt(0.08 * 0.92)
    assert plan.absolute_mde == pytest.approx(effect * sigma, rel=1e-4)
    assert plan.relative_mde == pytest.approx(plan.absolute_mde / 0.08)


def test_planned_size_delivers_the_power_in_simulated_experiments() -> None:
    rng = np.random.default_rng(71)
    plan = plan_power(PowerPlanRequest("proportion", 0.05, relative_mde=0.2))
    n_c, n_t = plan.control_units, plan.treatment_units_per_arm
    experiments = 400
    control = rng.binomial(n_c, 0.05, experiments)
    treatment = rng.binomial(n_t, 0.06, experiments)
    rejections = 0
    for c, t in zip(control, treatment, strict=True):
        lift = analyze(
            "proportion",
            [
                ArmStatistics("holdout", n_c, float(c), control=True),
                ArmStatistics("t", n_t, float(t)),
            ],
        ).lifts[0]
        assert lift.p_value is not None
        rejections += lift.p_value < 0.05
    # 80% planned; 400 experiments give a binomial standard error of 2 points.
    assert 0.74 <= rejections / experiments <= 0.86


def test_cuped_reduction_and_duration() -> None:
    base = PowerPlanRequest("mean", 20.0, standard_deviation=25.0, relative_mde=0.05)
    without = plan_power(base)
    with_cuped = plan_power(
        PowerPlanRequest(
            "mean",
            20.0,
            standard_deviation=25.0,
            relative_mde=0.05,
            variance_reduction=0.4,
            daily_units=1000.0,
        )
    )
    assert with_cuped.total_units == pytest.approx(0.6 * without.total_units, abs=3)
    assert with_cuped.duration_days == pytest.approx(with_cuped.total_units / 1000.0)
    assert without.duration_days == 0.0


def test_zero_baseline_mean_has_no_relative_mde() -> None:
    plan = plan_power(PowerPlanRequest("mean", 0.0, standard_deviation=3.0, total_units=1000))
    assert plan.relative_mde is None and plan.warnings
    assert plan.absolute_mde > 0


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (PowerPlanRequest("proportion", 0.1), "exactly one"),
        (PowerPlanRequest("proportion", 0.1, relative_mde=0.1, total_units=10), "exactly one"),
        (PowerPlanRequest("proportion", 1.2, relative_mde=0.1), "baseline"),
        (PowerPlanRequest("proportion", 0.6, relative_mde=0.9), "below 1"),
        (PowerPlanRequest("mean", 5.0, relative_mde=0.1), "standard_deviation"),
        (PowerPlanRequest("mean", 0.0, standard_deviation=1.0, relative_mde=0.1), "non-zero"),
        (PowerPlanRequest("proportion", 0.1, relative_mde=-0.1), "relative_mde"),
        (PowerPlanRequest("proportion", 0.1, alpha=1.5, relative_mde=0.1), "alpha"),
        (PowerPlanRequest("proportion", 0.1, power=1.0, relative_mde=0.1), "power"),
        (PowerPlanRequest("proportion", 0.1, control_share=1.0, relative_mde=0.1), "control"),
        (PowerPlanRequest("proportion", 0.1, variance_reduction=1.0, relative_mde=0.1), "vari"),
        (PowerPlanRequest("proportion", 0.1, treatment_arms=-2, relative_mde=0.1), "arms"),
        (PowerPlanRequest("proportion", 0.1, total_units=1), "at least one unit"),
        (PowerPlanRequest("ratio", 0.1, relative_mde=0.1), "linearized"),
    ],
)
def test_invalid_plans_are_refused(request_: PowerPlanRequest, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_power(request_)


@settings(max_examples=80, deadline=None)
@given(
    baseline=hst.floats(0.005, 0.6),
    mde=hst.floats(0.01, 0.5),
    arms=hst.integers(1, 5),
    control_share=hst.one_of(hst.just(0.0), hst.floats(0.05, 0.8)),
    power=hst.floats(0.5, 0.99),
    reduction=hst.floats(0.0, 0.9),
)
def test_size_and_effect_are_inverse(
    baseline: float, mde: float, arms: int, control_share: float, power: float, reduction: float
) -> None:
    if baseline * (1 + mde) >= 1:
        return
    by_effect = PowerPlanRequest(
        "proportion",
        baseline,
        treatment_arms=arms,
        control_share=control_share,
        power=power,
        variance_reduction=reduction,
        relative_mde=mde,
    )
    plan = plan_power(by_effect)
    request = replace(by_effect, relative_mde=None, total_units=plan.total_units)
    reached = achieved_power(
        request, plan.control_units, plan.treatment_units_per_arm, plan.absolute_mde
    )
    assert reached >= power - 1e-9
    back = plan_power(request)
    # Effect from size inverts size from effect: at the arms it allots, the effect it reports is
    # detected with the requested power (the far tail adds at most 1e-4 here).
    again = achieved_power(
        request, back.control_units, back.treatment_units_per_arm, back.absolute_mde
    )
    assert again == pytest.approx(power, abs=1e-4)
    if plan.total_units >= 1000:  # halving must leave every arm some units
        halved = replace(request, total_units=plan.total_units // 2)
        assert plan_power(halved).absolute_mde > back.absolute_mde
