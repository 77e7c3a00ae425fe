"""A/B statistics from sufficient statistics agree with independent computations on the raw data
(scipy, statsmodels, numpy regressions, simulations), and hold their properties on open-ended
inputs, degenerate ones included."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import fields, is_dataclass, replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst
from numpy.typing import NDArray
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from precis_measurement.stats import (
    SRM_THRESHOLD,
    Alternative,
    AnalyzeResult,
    ArmStatistics,
    LiftResult,
    MetricType,
    StatisticalTest,
    always_valid,
    analyze,
    benjamini_hochberg_adjust,
    chance_to_win,
    holm_adjust,
    srm_check,
)

FloatArray = NDArray[np.float64]


def arm_of(
    name: str,
    values: Sequence[float] | FloatArray,
    *,
    control: bool = False,
    pre: Sequence[float] | FloatArray | None = None,
    denominator: Sequence[float] | FloatArray | None = None,
    share: float | None = None,
) -> ArmStatistics:
    """The sufficient statistics of raw per-unit data, as a data pipeline would send them."""
    y = np.asarray(values, dtype=np.float64)
    x = None if pre is None else np.asarray(pre, dtype=np.float64)
    d = None if denominator is None else np.asarray(denominator, dtype=np.float64)
    return ArmStatistics(
        name=name,
        n=len(y),
        sum=float(y.sum()),
        sum_squares=float((y * y).sum()),
        control=control,
        pre_sum=None if x is None else float(x.sum()),
        pre_sum_squares=None if x is None else float((x * x).sum()),
        sum_products=None if x is None else float((x * y).sum()),
        denominator_sum=None if d is None else float(d.sum()),
        denominator_sum_squares=None if d is None else float((d * d).sum()),
        numerator_denominator_sum_products=None if d is None else float((y * d).sum()),
        expected_share=share,
    )


def only_lift(result: AnalyzeResult) -> LiftResult:
    assert len(result.lifts) == 1
    return result.lifts[0]


def numbers(value: object) -> Iterator[float]:
    """Every float or int anywhere in a (nested) result."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif is_dataclass(value):
        for f in fields(value):
            yield from numbers(getattr(value, f.name))
    elif isinstance(value, tuple | list):
        for item in value:
            yield from numbers(item)


def revenue(rng: np.random.Generator, n: int, rate: float, scale: float) -> FloatArray:
    """Zero-inflated log-normal revenue per user: skewed as real revenue is."""
    converted = rng.random(n) < rate
    return np.where(converted, rng.lognormal(math.log(scale), 0.8, n), 0.0)


# --------------------------------------------------------------------------------------------
# Welch t-test against scipy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_welch_test_matches_scipy_on_raw_means(alternative: str) -> None:
    rng = np.random.default_rng(7)
    control = rng.normal(20.0, 6.0, 300)
    treatment = rng.normal(21.0, 9.0, 180)
    result = analyze(
        MetricType.MEAN,
        [arm_of("control", control, control=True), arm_of("b", treatment)],
        alternative=alternative,
    )
    lift = only_lift(result)
    reference = stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    assert lift.test is StatisticalTest.WELCH_T
    assert lift.statistic == pytest.approx(reference.statistic, rel=1e-9)
    assert lift.degrees_of_freedom == pytest.approx(reference.df, rel=1e-9)
    assert lift.p_value == pytest.approx(reference.pvalue, rel=1e-8)
    two_sided = stats.ttest_ind(treatment, control, equal_var=False)
    interval = two_sided.confidence_interval(0.95)
    assert lift.absolute_lift is not None and lift.absolute_lift.interval is not None
    assert lift.absolute_lift.value == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    assert lift.absolute_lift.interval.lower == pytest.approx(interval.low, rel=1e-8)
    assert lift.absolute_lift.interval.upper == pytest.approx(interval.high, rel=1e-8)


def test_proportions_are_welch_on_the_zero_one_data() -> None:
    rng = np.random.default_rng(11)
    control = (rng.random(2000) < 0.10).astype(float)
    treatment = (rng.random(1800) < 0.12).astype(float)
    # The proto says sum_squares is ignored for proportions: send garbage to prove it.
    arms = [
        replace(arm_of("holdout", control, control=True), sum_squares=0.0),
        replace(arm_of("email", treatment), sum_squares=-5.0),
    ]
    result = analyze(MetricType.PROPORTION, arms, confidence_level=0.9)
    lift = only_lift(result)
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    assert lift.p_value == pytest.approx(reference.pvalue, rel=1e-8)
    assert lift.degrees_of_freedom == pytest.approx(reference.df, rel=1e-9)
    interval = reference.confidence_interval(0.9)
    assert lift.absolute_lift is not None and lift.absolute_lift.interval is not None
    assert lift.absolute_lift.interval.lower == pytest.approx(interval.low, rel=1e-8)
    # Arm summaries: the 0/1 sample variance and a Wald interval with it.
    summary = result.arms[0]
    assert summary.mean == pytest.approx(control.mean())
    assert summary.variance == pytest.approx(control.var(ddof=1), rel=1e-12)
    assert summary.standard_error == pytest.approx(stats.sem(control), rel=1e-12)
    low, high = proportion_confint(control.sum(), control.size, alpha=0.1, method="normal")
    assert summary.interval is not None
    # statsmodels' Wald interval uses p(1-p)/n; ours uses the n-1 variance: sqrt(n/(n-1)) wider.
    ratio = (summary.interval.upper - summary.interval.lower) / (high - low)
    assert ratio == pytest.approx(math.sqrt(control.size / (control.size - 1)), rel=1e-9)


def test_mean_arm_interval_is_the_t_interval() -> None:
    values = np.random.default_rng(3).exponential(5.0, 40)
    result = analyze("mean", [arm_of("a", values, control=True), arm_of("b", values + 1.0)], 0.99)
    low, high = stats.ttest_1samp(values, 0.0).confidence_interval(0.99)
    interval = result.arms[0].interval
    assert interval is not None
    assert (interval.lower, interval.upper) == pytest.approx((low, high), rel=1e-9)


def test_one_sided_p_values_are_halves_of_the_two_sided_one() -> None:
    rng = np.random.default_rng(5)
    arms = [arm_of("c", rng.normal(0, 1, 50), control=True), arm_of("t", rng.normal(0.3, 1, 60))]
    two = only_lift(analyze("mean", arms)).p_value
    greater = only_lift(analyze("mean", arms, alternative="greater")).p_value
    less = only_lift(analyze("mean", arms, alternative="less")).p_value
    assert two is not None and greater is not None and less is not None
    assert greater + less == pytest.approx(1.0)
    assert two == pytest.approx(2 * min(greater, less))


# --------------------------------------------------------------------------------------------
# Relative lift: delta method, checked by coverage
# --------------------------------------------------------------------------------------------


def test_delta_method_relative_lift_interval_covers_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    replicates, n = 300, 1500
    true_control, true_treatment = 0.2 * 30.0 * math.exp(0.32), 0.2 * 33.0 * math.exp(0.32)
    true_relative = true_treatment / true_control - 1.0
    true_absolute = true_treatment - true_control
    covered_relative = covered_absolute = 0
    for _ in range(replicates):
        control = revenue(rng, n, 0.2, 30.0)
        treatment = revenue(rng, n, 0.2, 33.0)
        lift = only_lift(
            analyze("mean", [arm_of("c", control, control=True), arm_of("t", treatment)])
        )
        assert lift.relative_lift is not None and lift.relative_lift.interval is not None
        assert lift.absolute_lift is not None and lift.absolute_lift.interval is not None
        rel, ab = lift.relative_lift.interval, lift.absolute_lift.interval
        covered_relative += rel.lower <= true_relative <= rel.upper
        covered_absolute += ab.lower <= true_absolute <= ab.upper
    # 95% nominal; with 300 replicates the binomial standard error is 1.3 points.
    assert 0.915 <= covered_relative / replicates <= 0.985
    assert 0.915 <= covered_absolute / replicates <= 0.985


def test_relative_lift_variance_is_the_delta_method_formula() -> None:
    rng = np.random.default_rng(9)
    control, treatment = rng.normal(10, 3, 400), rng.normal(11, 4, 500)
    lift = only_lift(analyze("mean", [arm_of("c", control, control=True), arm_of("t", treatment)]))
    vt, vc = treatment.var(ddof=1) / 500, control.var(ddof=1) / 400
    mt, mc = treatment.mean(), control.mean()
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    df = stats.ttest_ind(treatment, control, equal_var=False).df
    half = stats.t.ppf(0.975, df) * se
    assert lift.relative_lift is not None and lift.relative_lift.interval is not None
    assert lift.relative_lift.value == pytest.approx(mt / mc - 1)
    assert lift.relative_lift.interval.upper - lift.relative_lift.value == pytest.approx(half)


# --------------------------------------------------------------------------------------------
# Ratio metrics
# --------------------------------------------------------------------------------------------


def orders_and_revenue(
    rng: np.random.Generator, n: int, value: float
) -> tuple[FloatArray, FloatArray]:
    orders = rng.poisson(1.5, n).astype(float) + 1.0
    revenue_per_user = orders * rng.gamma(4.0, value / 4.0, n) + rng.normal(0, 5, n)
    return revenue_per_user, orders


def test_ratio_delta_method_matches_the_linearization_on_raw_data() -> None:
    rng = np.random.default_rng(17)
    yc, dc = orders_and_revenue(rng, 800, 50.0)
    yt, dt = orders_and_revenue(rng, 700, 53.0)
    result = analyze(
        MetricType.RATIO,
        [arm_of("c", yc, control=True, denominator=dc), arm_of("t", yt, denominator=dt)],
    )

    def linearized(y: FloatArray, d: FloatArray) -> tuple[float, FloatArray]:
        ratio = y.sum() / d.sum()
        return ratio, (y - ratio * d) / d.mean()

    rc, lc = linearized(yc, dc)
    rt, lt = linearized(yt, dt)
    summary = result.arms[0]
    assert summary.mean == pytest.approx(rc)
    assert summary.variance == pytest.approx(lc.var(ddof=1), rel=1e-9)
    assert summary.standard_error == pytest.approx(lc.std(ddof=1) / math.sqrt(800), rel=1e-9)
    lift = only_lift(result)
    se = math.sqrt(lc.var(ddof=1) / 800 + lt.var(ddof=1) / 700)
    assert lift.test is StatisticalTest.DELTA_METHOD
    assert lift.degrees_of_freedom is None
    assert lift.statistic == pytest.approx((rt - rc) / se, rel=1e-9)
    assert lift.p_value == pytest.approx(2 * stats.norm.sf(abs((rt - rc) / se)), rel=1e-8)


def test_ratio_standard_error_agrees_with_a_bootstrap() -> None:
    rng = np.random.default_rng(23)
    y, d = orders_and_revenue(rng, 600, 40.0)
    summary = analyze(
        "ratio",
        [arm_of("c", y, control=True, denominator=d), arm_of("t", y, denominator=d)],
    ).arms[0]
    draws = rng.integers(0, 600, (1000, 600))
    boot = y[draws].sum(axis=1) / d[draws].sum(axis=1)
    assert summary.standard_error == pytest.approx(boot.std(ddof=1), rel=0.1)


# --------------------------------------------------------------------------------------------
# CUPED
# --------------------------------------------------------------------------------------------


def test_cuped_matches_a_regression_on_raw_data() -> None:
    rng = np.random.default_rng(31)
    sizes, effects = (500, 450, 520), (0.0, 1.0, 2.5)
    pres = [rng.gamma(2.0, 10.0, n) for n in sizes]
    posts = [
        0.8 * x + e + rng.normal(0, 6.0, n) for x, e, n in zip(pres, effects, sizes, strict=True)
    ]
    arms = [
        arm_of(name, y, pre=x, control=name == "holdout")
        for name, y, x in zip(("holdout", "a", "b"), posts, pres, strict=True)
    ]
    result = analyze(MetricType.MEAN, arms, cuped=True)

    # OLS of post on pre with one intercept per arm: theta is the pre coefficient.
    y = np.concatenate(posts)
    x = np.concatenate(pres)
    dummies = np.zeros((y.size, 3))
    dummies[np.arange(y.size), np.repeat(np.arange(3), sizes)] = 1.0
    coefficients, *_ = np.linalg.lstsq(np.column_stack([x, dummies]), y, rcond=None)
    theta = coefficients[0]
    adjusted = [yy - theta * (xx - x.mean()) for yy, xx in zip(posts, pres, strict=True)]

    for summary, values in zip(result.arms, adjusted, strict=True):
        assert summary.cuped_mean == pytest.approx(values.mean(), rel=1e-9)
    for lift, values, raw in zip(result.lifts, adjusted[1:], posts[1:], strict=True):
        assert lift.cuped is not None
        assert lift.cuped.theta == pytest.approx(theta, rel=1e-9)
        reference = stats.ttest_ind(values, adjusted[0], equal_var=False)
        assert lift.cuped.p_value == pytest.approx(reference.pvalue, rel=1e-7)
        assert lift.cuped.absolute_lift.value == pytest.approx(
            values.mean() - adjusted[0].mean(), rel=1e-9
        )
        var_raw = raw.var(ddof=1) / raw.size + posts[0].var(ddof=1) / posts[0].size
        var_adj = values.var(ddof=1) / values.size + adjusted[0].var(ddof=1) / adjusted[0].size
        assert lift.cuped.variance_reduction == pytest.approx(1 - var_adj / var_raw, rel=1e-9)
        assert 0.3 < lift.cuped.variance_reduction < 0.9  # pre explains much of post
        interval = lift.cuped.absolute_lift.interval
        low, high = reference.confidence_interval(0.95)
        assert interval is not None
        assert (interval.lower, interval.upper) == pytest.approx((low, high), rel=1e-8)


def test_cuped_needs_the_pre_period_on_every_arm() -> None:
    arms = [arm_of("c", [1.0, 2.0], control=True, pre=[1.0, 1.0]), arm_of("t", [1.0, 3.0])]
    with pytest.raises(ValueError, match=r"arms\[t\]\.pre_sum"):
        analyze("mean", arms, cuped=True)


def test_cuped_on_a_ratio_metric_is_refused_with_a_warning() -> None:
    arms = [
        arm_of("c", [1.0, 2.0, 4.0], control=True, pre=[1, 2, 3], denominator=[1, 1, 2]),
        arm_of("t", [2.0, 2.0, 5.0], pre=[1, 2, 3], denominator=[1, 2, 2]),
    ]
    result = analyze("ratio", arms, cuped=True)
    assert result.lifts[0].cuped is None
    assert any("ratio" in w for w in result.warnings)


# --------------------------------------------------------------------------------------------
# Sample-ratio mismatch
# --------------------------------------------------------------------------------------------


def counts_arms(counts: Sequence[int], shares: Sequence[float] | None) -> list[ArmStatistics]:
    return [
        ArmStatistics(
            name=f"arm{i}",
            n=c,
            sum=0.0,
            control=i == 0,
            expected_share=None if shares is None else shares[i],
        )
        for i, c in enumerate(counts)
    ]


@pytest.mark.parametrize(
    ("counts", "shares"),
    [
        ((5000, 5100), None),
        ((10000, 10500, 9800), None),
        ((1000, 4100, 4900), (0.1, 0.4, 0.5)),
        ((1200, 3900, 4900), (0.1, 0.4, 0.5)),
    ],
)
def test_srm_matches_scipy_chisquare(
    counts: tuple[int, ...], shares: tuple[float, ...] | None
) -> None:
    check = srm_check(counts_arms(counts, shares))
    total = sum(counts)
    expected = (
        [total / len(counts)] * len(counts) if shares is None else [s * total for s in shares]
    )
    reference = stats.chisquare(counts, expected)
    assert check.chi_square == pytest.approx(reference.statistic, rel=1e-12)
    assert check.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert check.degrees_of_freedom == len(counts) - 1
    assert check.mismatch == (reference.pvalue < SRM_THRESHOLD)
    assert [a.expected for a in check.arms] == pytest.approx(expected)


def test_srm_flags_a_broken_split_and_not_a_healthy_one() -> None:
    assert srm_check(counts_arms((10000, 10600), None)).mismatch  # p ~ 2e-5
    assert not srm_check(counts_arms((10000, 10150), None)).mismatch  # p ~ 0.29


def test_srm_with_no_units_says_so() -> None:
    check = srm_check(counts_arms((0, 0), None))
    assert check.chi_square is None and check.p_value is None and not check.mismatch
    assert check.warnings


# --------------------------------------------------------------------------------------------
# Multiple comparisons
# --------------------------------------------------------------------------------------------


def test_adjustments_match_statsmodels() -> None:
    p = np.random.default_rng(41).uniform(0, 0.2, 12) ** 2
    assert holm_adjust(p) == pytest.approx(list(multipletests(p, method="holm")[1]), rel=1e-12)
    bh = multipletests(p, method="fdr_bh")[1]
    assert benjamini_hochberg_adjust(p) == pytest.approx(list(bh), rel=1e-12)


def test_analyze_adjusts_across_the_treatment_arms() -> None:
    rng = np.random.default_rng(43)
    arms = [arm_of("holdout", rng.normal(10, 3, 400), control=True)] + [
        arm_of(f"arm{i}", rng.normal(10 + 0.25 * i, 3, 400)) for i in range(5)
    ]
    lifts = analyze("mean", arms, confidence_level=0.9).lifts
    raw = [lift.p_value for lift in lifts]
    assert all(p is not None for p in raw)
    holm = multipletests(raw, method="holm")[1]
    bh = multipletests(raw, method="fdr_bh")[1]
    assert [lift.holm_p_value for lift in lifts] == pytest.approx(list(holm))
    assert [lift.bh_p_value for lift in lifts] == pytest.approx(list(bh))
    assert [lift.significant for lift in lifts] == [h < 0.1 for h in holm]
    assert any(lift.significant for lift in lifts) and not all(lift.significant for lift in lifts)


def holm_by_definition(p: Sequence[float]) -> list[float]:
    """Holm (1979): the i-th smallest p-value becomes max over j <= i of (m - j + 1) p_(j)."""
    m = len(p)
    ranked = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    for position, i in enumerate(ranked):
        adjusted[i] = min(1.0, max((m - j) * p[ranked[j]] for j in range(position + 1)))
    return adjusted


def bh_by_definition(p: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg: the i-th smallest becomes min over j >= i of m p_(j) / j."""
    m = len(p)
    ranked = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    for position, i in enumerate(ranked):
        adjusted[i] = min(1.0, min(m * p[ranked[j]] / (j + 1) for j in range(position, m)))
    return adjusted


# statsmodels' multipletests runs gc.collect() on every call (0.15 s here), so the property test
# checks against the textbook definitions and statsmodels is used on fixed examples above.
@given(hst.lists(hst.floats(0.0, 1.0), min_size=1, max_size=30))
def test_adjusted_p_values_are_ordered(p: list[float]) -> None:
    holm, bh = holm_adjust(p), benjamini_hochberg_adjust(p)
    for raw, h, b in zip(p, holm, bh, strict=True):
        assert raw <= b <= h + 1e-12 and h <= 1.0  # BH <= Holm up to rounding of p * m / m
    assert holm == pytest.approx(holm_by_definition(p), abs=1e-12)
    assert bh == pytest.approx(bh_by_definition(p), abs=1e-12)
    assert bh == pytest.approx(list(stats.false_discovery_control(p)), abs=1e-12)


# --------------------------------------------------------------------------------------------
# Bayesian chance to win
# --------------------------------------------------------------------------------------------


def test_chance_to_win_agrees_with_beta_posteriors_for_proportions() -> None:
    rng = np.random.default_rng(47)
    n_c, s_c, n_t, s_t = 3000, 300, 3000, 335
    arms = [
        ArmStatistics("holdout", n_c, float(s_c), control=True),
        ArmStatistics("sms", n_t, float(s_t)),
    ]
    lift = only_lift(analyze("proportion", arms))
    draws_c = rng.beta(1 + s_c, 1 + n_c - s_c, 200_000)
    draws_t = rng.beta(1 + s_t, 1 + n_t - s_t, 200_000)
    assert lift.chance_to_win == pytest.approx(np.mean(draws_t > draws_c), abs=0.01)
    loss = np.mean(np.maximum(draws_c - draws_t, 0.0))
    assert lift.expected_loss == pytest.approx(loss, rel=0.1)


def test_expected_loss_matches_monte_carlo_of_the_normal_posterior() -> None:
    rng = np.random.default_rng(53)
    draws = rng.normal(-0.4, 1.3, 400_000)
    result = chance_to_win(-0.4, 1.3)
    assert result is not None
    win, loss = result
    assert win == pytest.approx(np.mean(draws > 0), abs=0.005)
    assert loss == pytest.approx(np.mean(np.maximum(-draws, 0.0)), rel=0.01)
    lower_is_better = chance_to_win(-0.4, 1.3, Alternative.LESS)
    assert lower_is_better is not None
    assert lower_is_better[0] == pytest.approx(1 - win)
    assert lower_is_better[1] == pytest.approx(np.mean(np.maximum(draws, 0.0)), rel=0.01)


# --------------------------------------------------------------------------------------------
# Always-valid sequential inference
# --------------------------------------------------------------------------------------------


def test_msprt_is_johari_et_al_in_their_notation() -> None:
    # Two streams with known sigma^2 and n units each: V = 2 sigma^2 / n (Johari et al. 2017).
    sigma2, n, tau2, difference = 4.0, 250, 0.05, 0.55
    result = always_valid(difference, 2 * sigma2 / n, 0.95, tau2)
    likelihood_ratio = math.sqrt(2 * sigma2 / (2 * sigma2 + n * tau2)) * math.exp(
        n**2 * tau2 * difference**2 / (4 * sigma2 * (2 * sigma2 + n * tau2))
    )
    assert result is not None
    assert result.p_value == pytest.approx(min(1.0, 1.0 / likelihood_ratio), rel=1e-12)
    assert result.mixture_variance == tau2


@given(
    estimate=hst.floats(-10, 10),
    variance=hst.floats(1e-4, 10),
    tau2=hst.one_of(hst.just(0.0), hst.floats(1e-6, 10.0)),
    level=hst.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_msprt_interval_is_the_dual_of_its_p_value(
    estimate: float, variance: float, tau2: float, level: float
) -> None:
    result = always_valid(estimate, variance, level, tau2)
    assert result is not None
    interval = result.absolute_lift_interval
    excludes_zero = interval.lower > 0 or interval.upper < 0
    if abs(result.p_value - (1 - level)) > 1e-9:
        assert excludes_zero == (result.p_value < 1 - level) == result.can_stop
    # Always-valid intervals are wider than the fixed-horizon one at the same level.
    z = stats.norm.ppf(0.5 + level / 2)
    assert interval.upper - estimate >= z * math.sqrt(variance) * (1 - 1e-12)


def test_msprt_keeps_its_error_rate_under_continuous_peeking() -> None:
    rng = np.random.default_rng(59)
    simulations, looks, per_look = 300, 30, 50
    tau2 = 0.05
    sizes = per_look * np.arange(1, looks + 1)
    control = rng.normal(0, 2.0, (simulations, looks * per_look))
    treatment = rng.normal(0, 2.0, (simulations, looks * per_look))

    def at_looks(x: FloatArray) -> tuple[FloatArray, FloatArray]:
        sums = np.cumsum(x, axis=1)[:, sizes - 1]
        squares = np.cumsum(x * x, axis=1)[:, sizes - 1]
        return sums / sizes, (squares - sums**2 / sizes) / (sizes - 1) / sizes

    mean_t, var_t = at_looks(treatment)
    mean_c, var_c = at_looks(control)
    difference, variance = mean_t - mean_c, var_t + var_c
    peeking = 2 * stats.norm.sf(np.abs(difference) / np.sqrt(variance)) < 0.05
    sequential = np.zeros_like(peeking)
    for i in range(simulations):
        for look in range(looks):
            result = always_valid(float(difference[i, look]), float(variance[i, look]), 0.95, tau2)
            assert result is not None
            sequential[i, look] = result.p_value < 0.05
    assert sequential.any(axis=1).mean() <= 0.05
    assert peeking.any(axis=1).mean() > 0.15  # why fixed-horizon p-values cannot be peeked at


def test_msprt_picks_a_mixture_variance_when_given_zero() -> None:
    rng = np.random.default_rng(61)
    arms = [arm_of("c", rng.normal(5, 2, 800), control=True), arm_of("t", rng.normal(5.3, 2, 800))]
    lift = only_lift(analyze("mean", arms))
    assert lift.sequential is not None and lift.absolute_lift is not None
    chosen = lift.sequential.mixture_variance
    assert chosen > 0
    # The chosen tau^2 gives the narrowest always-valid interval at this look.
    variance = (lift.absolute_lift.value / lift.statistic) ** 2 if lift.statistic else 1.0
    width = lift.sequential.absolute_lift_interval.upper - lift.absolute_lift.value
    for factor in (0.5, 2.0):
        other = always_valid(lift.absolute_lift.value, variance, 0.95, chosen * factor)
        assert other is not None
        assert other.absolute_lift_interval.upper - lift.absolute_lift.value > width
    # Given explicitly, it is used as is.
    fixed = only_lift(analyze("mean", arms, sequential_mixture_variance=0.01)).sequential
    assert fixed is not None and fixed.mixture_variance == 0.01


# --------------------------------------------------------------------------------------------
# Degenerate and invalid input
# --------------------------------------------------------------------------------------------


def test_empty_and_single_unit_arms_give_none_with_reasons() -> None:
    result = analyze(
        "mean",
        [arm_of("c", [1.0, 2.0, 3.0], control=True), arm_of("empty", []), arm_of("one", [4.0])],
    )
    empty, one = result.lifts
    assert result.arms[1].mean is None and result.arms[1].interval is None
    assert empty.absolute_lift is None and empty.p_value is None and empty.warnings
    assert result.arms[2].mean == 4.0 and result.arms[2].variance is None
    assert one.absolute_lift is not None and one.absolute_lift.value == pytest.approx(2.0)
    assert one.absolute_lift.interval is None and one.p_value is None and one.warnings
    assert empty.holm_p_value is None and not empty.significant


def test_no_variance_in_either_arm_leaves_the_test_undefined() -> None:
    arms = [ArmStatistics("c", 500, 0.0, control=True), ArmStatistics("t", 500, 0.0)]
    lift = only_lift(analyze("proportion", arms))
    assert lift.absolute_lift is not None and lift.absolute_lift.value == 0.0
    assert lift.p_value is None and lift.chance_to_win is None and lift.sequential is None
    assert any("variance" in w for w in lift.warnings)


def test_zero_control_mean_leaves_relative_lift_undefined() -> None:
    arms = [arm_of("c", [-1.0, 1.0, 0.0], control=True), arm_of("t", [1.0, 2.0, 3.0])]
    lift = only_lift(analyze("mean", arms))
    assert lift.relative_lift is None and lift.p_value is not None
    assert any("relative" in w for w in lift.warnings)


def test_zero_denominator_leaves_the_ratio_undefined() -> None:
    arms = [
        arm_of("c", [0.0, 0.0], control=True, denominator=[0.0, 0.0]),
        arm_of("t", [3.0, 2.0], denominator=[1.0, 1.0]),
    ]
    result = analyze("ratio", arms)
    assert result.arms[0].mean is None
    assert result.lifts[0].absolute_lift is None and result.lifts[0].warnings


GOOD = [arm_of("c", [1.0, 2.0], control=True), arm_of("t", [2.0, 4.0])]


@pytest.mark.parametrize(
    ("arms", "kwargs", "message"),
    [
        ([replace(GOOD[0], n=-1), GOOD[1]], {}, r"arms\[c\]\.n"),
        ([replace(GOOD[0], sum_squares=1.0), GOOD[1]], {}, r"arms\[c\].*sum\^2/n"),
        ([replace(GOOD[0], sum_squares=-1.0), GOOD[1]], {}, "negative"),
        ([replace(GOOD[0], sum=math.nan), GOOD[1]], {}, r"arms\[c\]\.sum must be finite"),
        ([replace(GOOD[0], control=False), GOOD[1]], {}, "exactly one arm"),
        ([GOOD[0], replace(GOOD[1], control=True)], {}, "exactly one arm"),
        ([GOOD[0]], {}, "2..20"),
        ([GOOD[0], replace(GOOD[1], name="c")], {}, "unique"),
        (
            [replace(GOOD[0], expected_share=0.5), replace(GOOD[1], expected_share=0.6)],
            {},
            "sum to 1",
        ),
        ([replace(GOOD[0], expected_share=0.5), GOOD[1]], {}, "every arm or for none"),
        (GOOD, {"confidence_level": 0.5}, "confidence_level"),
        (GOOD, {"sequential_mixture_variance": -1.0}, "sequential_mixture_variance"),
        (GOOD, {"alternative": "sideways"}, "sideways"),
        (GOOD, {"metric_type": "ratio"}, r"denominator_sum is required"),
        ([replace(GOOD[0], sum=3.0), GOOD[1]], {"metric_type": "proportion"}, "0..n"),
        (
            [
                arm_of("c", [1.0, 2.0], control=True, pre=[1.0, 2.0]),
                replace(arm_of("t", [1.0, 2.0], pre=[1.0, 2.0]), sum_products=100.0),
            ],
            {"cuped": True},
            r"arms\[t\]\.sum_products",
        ),
    ],
)
def test_invalid_input_is_refused_naming_the_field(
    arms: list[ArmStatistics], kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"metric_type": "mean", "arms": arms} | kwargs
    with pytest.raises(ValueError, match=message):
        analyze(**arguments)  # type: ignore[arg-type]  # the cases mix argument types


# --------------------------------------------------------------------------------------------
# Properties on open-ended input
# --------------------------------------------------------------------------------------------

# Small integers make ties, zero variance and zero means frequent; wide floats test scale.
values = hst.one_of(
    hst.lists(hst.integers(0, 3).map(float), max_size=25),
    hst.lists(hst.floats(-1e4, 1e4, allow_nan=False), max_size=25),
    hst.lists(hst.sampled_from([0.0, 1.0]), max_size=25),
    hst.lists(hst.floats(-1e150, 1e150, allow_nan=False), max_size=5),
)


@hst.composite
def experiments(draw: hst.DrawFn) -> tuple[MetricType, list[ArmStatistics], bool]:
    metric = draw(hst.sampled_from(list(MetricType)))
    count = draw(hst.integers(2, 4))
    cuped = metric is not MetricType.RATIO and draw(hst.booleans())
    arms = []
    for i in range(count):
        if metric is MetricType.PROPORTION:
            y = draw(hst.lists(hst.sampled_from([0.0, 1.0]), max_size=25))
        else:
            y = draw(values)
        pre_values = hst.one_of(hst.integers(0, 5).map(float), hst.floats(-1e150, 1e150))
        pre = draw(hst.lists(pre_values, min_size=len(y), max_size=len(y)))
        denominator = draw(
            hst.lists(hst.integers(0, 4).map(float), min_size=len(y), max_size=len(y))
        )
        arms.append(arm_of(f"arm{i}", y, control=i == 0, pre=pre, denominator=denominator))
    return metric, arms, cuped


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    experiments(),
    hst.sampled_from(["two-sided", "greater", "less"]),
    hst.sampled_from([0.0, 0.5]),
)
def test_no_nan_or_infinity_and_intervals_contain_estimates(
    experiment: tuple[MetricType, list[ArmStatistics], bool],
    alternative: str,
    mixture_variance: float,
) -> None:
    metric, arms, cuped = experiment
    result = analyze(
        metric,
        arms,
        cuped=cuped,
        alternative=alternative,
        sequential_mixture_variance=mixture_variance,
    )
    assert all(math.isfinite(x) for x in numbers(result))
    for summary in result.arms:
        if summary.interval is not None:
            assert summary.mean is not None
            assert summary.interval.lower <= summary.mean <= summary.interval.upper
    for lift in result.lifts:
        for estimate in (lift.absolute_lift, lift.relative_lift):
            if estimate is not None and estimate.interval is not None:
                assert estimate.interval.lower <= estimate.value <= estimate.interval.upper
        for p in (lift.p_value, lift.holm_p_value, lift.bh_p_value, lift.chance_to_win):
            assert p is None or 0.0 <= p <= 1.0
        if lift.p_value is not None:
            assert lift.holm_p_value is not None and lift.bh_p_value is not None
            assert lift.p_value <= lift.bh_p_value <= lift.holm_p_value
        if lift.sequential is not None:
            interval = lift.sequential.absolute_lift_interval
            assert lift.absolute_lift is not None
            assert interval.lower <= lift.absolute_lift.value <= interval.upper
        if lift.cuped is not None:
            assert 0.0 <= lift.cuped.variance_reduction <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    hst.sampled_from([MetricType.MEAN, MetricType.PROPORTION]),
    hst.lists(hst.sampled_from([0.0, 1.0]), min_size=2, max_size=40),
    hst.lists(hst.sampled_from([0.0, 1.0]), min_size=2, max_size=40),
)
def test_swapping_the_control_flips_the_sign(
    metric: MetricType, a: list[float], b: list[float]
) -> None:
    forward = only_lift(analyze(metric, [arm_of("a", a, control=True), arm_of("b", b)]))
    backward = only_lift(analyze(metric, [arm_of("a", a), arm_of("b", b, control=True)]))
    assert forward.absolute_lift is not None and backward.absolute_lift is not None
    assert forward.absolute_lift.value == pytest.approx(-backward.absolute_lift.value)
    if forward.p_value is None:
        assert backward.p_value is None
    else:
        assert backward.p_value == pytest.approx(forward.p_value)
        assert forward.absolute_lift.interval is not None
        assert backward.absolute_lift.interval is not None
        assert forward.absolute_lift.interval.lower == pytest.approx(
            -backward.absolute_lift.interval.upper
        )
        assert forward.chance_to_win is not None and backward.chance_to_win is not None
        assert forward.chance_to_win + backward.chance_to_win == pytest.approx(1.0)
