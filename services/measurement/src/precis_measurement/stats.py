"""A/B statistics from per-arm sufficient statistics: the pure core behind the Analyze RPC.

The dataclasses mirror ``precis.measurement.v1`` (ArmStatistics, ArmSummary, LiftResult, SrmCheck,
AnalyzeResponse); the servicer maps them to the contract. Conventions follow the experimentation
platforms (Eppo, Statsig, GrowthBook, Optimizely) so that numbers agree with theirs:

- Means and proportions: Welch's t-test with Welch-Satterthwaite degrees of freedom on the
  difference. A proportion is treated as the mean of 0/1 values, so its variance is the sample
  variance of those values, ``p(1-p) n/(n-1)``, and the test is exactly Welch's test on the raw
  0/1 data (for campaign-sized arms it is indistinguishable from the unpooled two-proportion
  z-test: the degrees of freedom run into the thousands).
- Ratio metrics (sum of numerators / sum of denominators per arm): delta method with the
  numerator-denominator covariance, normal (z) test and intervals.
- Relative lift ``treatment/control - 1``: delta-method variance (independent arms), interval
  with the same critical value as the absolute difference.
- CUPED (Deng et al. 2013): ``theta`` pooled over all arms, adjusted means and variances, test on
  the adjusted metric.
- Sample-ratio mismatch: chi-square goodness of fit, flagged at ``p < 0.001``.
- Always-valid inference: the normal-mixture mSPRT of Johari et al. (2017).
- Holm and Benjamini-Hochberg adjustment across the non-control arms.
- Chance to win: normal approximation of the difference under flat priors.

Bad input never yields NaN or infinity. Invalid input (negative n, moments that no real data could
have, not exactly one control, shares not summing to 1, ...) raises ``ValueError`` naming the
field. Input that is valid but cannot support a statistic (an empty arm, a single unit, no
variance at all, a control mean of 0 for relative lift) yields ``None`` for that statistic and a
warning string saying why.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Final

import numpy as np
from numpy.typing import NDArray

# scipy ships no type information (no py.typed); these are the only untyped calls in the module.
# The distribution functions come from scipy.special: the same code as scipy.stats' t, norm and
# chi2, without the per-call overhead of distribution objects.
from scipy import optimize, special  # type: ignore[import-untyped]

SRM_THRESHOLD: Final = 0.001
"""An SRM p-value below this flags a mismatch. It is Eppo's and GrowthBook's default and what
Kohavi et al. ("Trustworthy Online Controlled Experiments", ch. 21) recommend: SRM checks run on
every experiment, so a lenient threshold would raise false alarms all the time, and a real
assignment or logging bug produces p-values far below 0.001 at campaign sizes."""

SHARE_TOLERANCE: Final = 1e-6
"""Expected shares must sum to 1 within this."""

_RELATIVE_TOLERANCE: Final = 1e-9
"""Moments computed from sums lose about 1e-16 of the raw second moment to cancellation. A
centred sum of squares more negative than this share of the raw one cannot come from real data
(ValueError); a smaller negative value is rounding and becomes 0."""

_ZERO_VARIANCE: Final = 1e-12
"""A centred sum of squares below this share of the raw sum of squares is indistinguishable from
rounding noise and is treated as exactly 0 (no variance)."""


class MetricType(StrEnum):
    """The kind of metric whose sufficient statistics are given (``MetricType`` in the proto)."""

    PROPORTION = "proportion"
    """``sum`` counts successes; ``sum_squares`` is ignored (it equals ``sum`` for 0/1 data)."""
    MEAN = "mean"
    """``sum`` and ``sum_squares`` of the per-unit values."""
    RATIO = "ratio"
    """``sum``/``sum_squares`` describe the numerator, ``denominator_*`` the denominator."""


class Alternative(StrEnum):
    """The alternative hypothesis of the fixed-horizon test (treatment minus control)."""

    TWO_SIDED = "two-sided"
    GREATER = "greater"
    LESS = "less"


class StatisticalTest(StrEnum):
    """The test behind a comparison (``StatisticalTest`` in the proto)."""

    WELCH_T = "welch_t"
    """Welch's unequal-variance t-test (means, and proportions as means of 0/1 values)."""
    DELTA_METHOD = "delta_method"
    """z-test with delta-method variance (ratio metrics)."""


@dataclass(frozen=True)
class ArmStatistics:
    """Sufficient statistics of one arm for one metric (``ArmStatistics`` in the proto).

    The CUPED fields (``pre_*``, ``sum_products``) are needed only with ``cuped=True``; the
    ``denominator_*`` fields only for ratio metrics. ``expected_share`` of 0 or None means "not
    given"; when no arm gives one, equal shares are expected.
    """

    name: str
    n: int
    sum: float
    sum_squares: float = 0.0
    control: bool = False
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    sum_products: float | None = None
    denominator_sum: float | None = None
    denominator_sum_squares: float | None = None
    numerator_denominator_sum_products: float | None = None
    expected_share: float | None = None


@dataclass(frozen=True)
class ConfidenceInterval:
    """A two-sided confidence interval."""

    lower: float
    upper: float


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its interval (None when the variance cannot be estimated)."""

    value: float
    interval: ConfidenceInterval | None


@dataclass(frozen=True)
class ArmSummary:
    """One arm's metric (``ArmSummary`` in the proto).

    ``variance`` is the per-unit sample variance (n - 1 denominator); for ratio metrics it is the
    delta-method variance of the ratio times n, so ``standard_error = sqrt(variance / n)`` always.
    ``interval`` is t-based with n - 1 degrees of freedom for means, and normal (Wald, with the
    n - 1 variance above) for proportions and ratios, as the platforms report them. Values that
    need more units than the arm has are None (mean: n >= 1; variance and interval: n >= 2).
    """

    name: str
    n: int
    mean: float | None
    variance: float | None
    standard_error: float | None
    interval: ConfidenceInterval | None
    cuped_mean: float | None = None


@dataclass(frozen=True)
class CupedResult:
    """The CUPED-adjusted comparison (``CupedResult`` in the proto).

    ``theta`` is pooled over all arms; ``variance_reduction`` is ``1 - Var(adjusted difference) /
    Var(unadjusted difference)`` for this comparison, clamped to 0..1 (a pooled theta can, in
    rare unbalanced cases, fit one pair slightly worse than no adjustment).
    """

    theta: float
    variance_reduction: float
    absolute_lift: Estimate
    relative_lift: Estimate | None
    p_value: float | None


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid inference on the absolute lift (``SequentialResult`` in the proto)."""

    p_value: float
    absolute_lift_interval: ConfidenceInterval
    can_stop: bool
    mixture_variance: float


@dataclass(frozen=True)
class LiftResult:
    """One treatment arm against the control (``LiftResult`` in the proto), plus the test's
    statistic, degrees of freedom (None for z-tests), the expected loss of shipping the treatment
    and the reasons any value is missing.

    ``p_value`` follows the requested alternative (two-sided by default, as in the proto);
    intervals are always two-sided at the confidence level. ``relative_lift`` is None when the
    control's value is 0 (the proto maps that to 0).
    """

    arm: str
    control_arm: str
    test: StatisticalTest
    control_value: float | None
    treatment_value: float | None
    absolute_lift: Estimate | None
    relative_lift: Estimate | None
    p_value: float | None
    holm_p_value: float | None
    bh_p_value: float | None
    significant: bool
    statistic: float | None
    degrees_of_freedom: float | None
    chance_to_win: float | None
    expected_loss: float | None
    cuped: CupedResult | None
    sequential: SequentialResult | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SrmArm:
    """One arm in the sample-ratio-mismatch check."""

    arm: str
    observed: int
    expected_share: float
    expected: float


@dataclass(frozen=True)
class SrmCheck:
    """Sample-ratio-mismatch check (``SrmCheck`` in the proto). With no units at all there is
    nothing to test: statistic and p-value are None, ``mismatch`` is False, and a warning says
    so."""

    chi_square: float | None
    degrees_of_freedom: int
    p_value: float | None
    mismatch: bool
    arms: tuple[SrmArm, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalyzeResult:
    """The whole analysis (``AnalyzeResponse`` in the proto): summaries in request order, one
    lift per non-control arm in request order, the SRM check, and request-level warnings."""

    arms: tuple[ArmSummary, ...]
    lifts: tuple[LiftResult, ...]
    srm: SrmCheck
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Moments from sums
# --------------------------------------------------------------------------------------------


def _finite(value: float | None, name: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _underflow(n: int) -> float:
    """What n squares can lose to underflow: values below ~1e-154 square to subnormals or 0, so
    sums of squares (and products) of real data can fall short of ``sum^2 / n`` by this much."""
    return n * sys.float_info.min


def _centred_square(n: int, total: float, squares: float, where: str) -> float:
    """``sum((x - mean)^2)`` from sums, validated by ``squares >= total^2 / n``."""
    if n == 0:
        if total != 0.0 or squares != 0.0:
            raise ValueError(f"{where}: an arm with n = 0 must have zero sums")
        return 0.0
    if squares < 0.0:
        raise ValueError(f"{where}: a sum of squares cannot be negative, got {squares}")
    mean_square = total * total / n
    centred = squares - mean_square
    scale = squares + mean_square
    if centred < -_RELATIVE_TOLERANCE * scale - _underflow(n):
        raise ValueError(
            f"{where}: sum of squares {squares} is smaller than sum^2/n = {mean_square}, "
            "which no real data can have"
        )
    return 0.0 if centred <= _ZERO_VARIANCE * scale else centred


def _centred_product(
    n: int, sum_x: float, sum_y: float, products: float, sxx: float, syy: float, where: str
) -> float:
    """``sum((x - mean_x)(y - mean_y))`` from sums, validated by Cauchy-Schwarz."""
    if n == 0:
        if products != 0.0:
            raise ValueError(f"{where}: an arm with n = 0 must have zero sums")
        return 0.0
    centred = products - sum_x * sum_y / n
    bound = math.sqrt(sxx * syy)
    slack = _RELATIVE_TOLERANCE * (abs(products) + abs(sum_x * sum_y / n)) + math.sqrt(
        _underflow(n) * (sxx + syy + _underflow(n))
    )
    if abs(centred) > bound + slack:
        raise ValueError(
            f"{where}: the sum of products is inconsistent with the sums of squares "
            "(it violates the Cauchy-Schwarz inequality)"
        )
    return max(-bound, min(bound, centred))


@dataclass(frozen=True)
class _Moments:
    """One arm's point estimate, per-unit variance and variance of the estimate."""

    n: int
    mean: float | None
    variance: float | None  # per-unit; None when n < 2 or undefined
    df: float | None  # degrees of freedom of the per-arm variance; None for delta method


_FLOAT_FIELDS: Final = (
    "sum",
    "sum_squares",
    "pre_sum",
    "pre_sum_squares",
    "sum_products",
    "denominator_sum",
    "denominator_sum_squares",
    "numerator_denominator_sum_products",
    "expected_share",
)


def _as_python_numbers(arm: ArmStatistics) -> ArmStatistics:
    """The same statistics as plain ``int``/``float`` (callers often pass numpy scalars)."""
    changes: dict[str, object] = {"n": int(arm.n)}
    for name in _FLOAT_FIELDS:
        value = getattr(arm, name)
        changes[name] = None if value is None else float(value)
    # The names are the dataclass's own fields; mypy cannot check a dict's keys against them.
    return replace(arm, **changes)  # type: ignore[arg-type]


def _validate_arm(arm: ArmStatistics, metric: MetricType, cuped: bool) -> None:
    if arm.n < 0:
        raise ValueError(f"arms[{arm.name}].n cannot be negative, got {arm.n}")
    for name in _FLOAT_FIELDS:
        _finite(getattr(arm, name), f"arms[{arm.name}].{name}")
    if metric is MetricType.PROPORTION and not 0.0 <= arm.sum <= arm.n:
        raise ValueError(
            f"arms[{arm.name}].sum counts successes and must be within 0..n = {arm.n}, "
            f"got {arm.sum}"
        )
    if metric is MetricType.RATIO:
        for name in (
            "denominator_sum",
            "denominator_sum_squares",
            "numerator_denominator_sum_products",
        ):
            if getattr(arm, name) is None:
                raise ValueError(f"arms[{arm.name}].{name} is required for ratio metrics")
    if cuped:
        for name in ("pre_sum", "pre_sum_squares", "sum_products"):
            if getattr(arm, name) is None:
                raise ValueError(f"arms[{arm.name}].{name} is required with cuped=True")


def _metric_square_sum(arm: ArmStatistics, metric: MetricType) -> float:
    # For 0/1 data the sum of squares equals the sum; the proto says sum_squares is ignored.
    return arm.sum if metric is MetricType.PROPORTION else arm.sum_squares


def _moments(arm: ArmStatistics, metric: MetricType, warnings: list[str]) -> _Moments:
    where = f"arms[{arm.name}]"
    syy = _centred_square(arm.n, arm.sum, _metric_square_sum(arm, metric), where)
    if arm.n == 0:
        warnings.append(f"arm {arm.name!r} has no units: its mean is undefined")
        return _Moments(0, None, None, None)
    if metric is not MetricType.RATIO:
        mean = arm.sum / arm.n
        variance = syy / (arm.n - 1) if arm.n >= 2 else None
        if variance is None:
            warnings.append(f"arm {arm.name!r} has a single unit: its variance is undefined")
        return _Moments(arm.n, mean, variance, float(arm.n - 1))
    assert arm.denominator_sum is not None  # validated
    assert arm.denominator_sum_squares is not None
    assert arm.numerator_denominator_sum_products is not None
    sdd = _centred_square(
        arm.n, arm.denominator_sum, arm.denominator_sum_squares, f"{where}.denominator"
    )
    syd = _centred_product(
        arm.n,
        arm.sum,
        arm.denominator_sum,
        arm.numerator_denominator_sum_products,
        syy,
        sdd,
        f"{where}.numerator_denominator_sum_products",
    )
    if arm.denominator_sum == 0.0:
        warnings.append(f"arm {arm.name!r} has a denominator sum of 0: its ratio is undefined")
        return _Moments(arm.n, None, None, None)
    ratio = arm.sum / arm.denominator_sum
    if arm.n < 2:
        warnings.append(f"arm {arm.name!r} has a single unit: its variance is undefined")
        return _Moments(arm.n, ratio, None, None)
    mean_denominator = arm.denominator_sum / arm.n
    # Delta method: Var(R) ~ (s_yy - 2 R s_yd + R^2 s_dd) / (n mu_d^2), sample (n - 1) moments;
    # ArmSummary.variance carries n Var(R).
    linearized = (syy - 2.0 * ratio * syd + ratio * ratio * sdd) / (arm.n - 1)
    variance = max(linearized, 0.0) / (mean_denominator * mean_denominator)
    return _Moments(arm.n, ratio, _finite_or_none(variance), None)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _z(confidence_level: float) -> float:
    return float(special.ndtri(0.5 + confidence_level / 2.0))


def _critical(confidence_level: float, df: float | None) -> float:
    if df is None:
        return _z(confidence_level)
    return float(special.stdtrit(df, 0.5 + confidence_level / 2.0))


def _interval(center: float, half_width: float) -> ConfidenceInterval | None:
    lower, upper = center - half_width, center + half_width
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return None
    return ConfidenceInterval(lower, upper)


def _summary(
    arm: ArmStatistics,
    moments: _Moments,
    metric: MetricType,
    confidence_level: float,
    cuped_mean: float | None,
) -> ArmSummary:
    if moments.mean is None or moments.variance is None:
        return ArmSummary(arm.name, arm.n, moments.mean, moments.variance, None, None, cuped_mean)
    se = math.sqrt(moments.variance / arm.n)
    # t for means; normal for proportions (Wald) and ratios (delta method), as platforms do.
    df = moments.df if metric is MetricType.MEAN else None
    crit = _critical(confidence_level, df)
    return ArmSummary(
        arm.name,
        arm.n,
        moments.mean,
        moments.variance,
        se,
        _interval(moments.mean, crit * se),
        cuped_mean,
    )


# --------------------------------------------------------------------------------------------
# Tests of the difference
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A two-sample comparison of treatment minus control: the estimate, its standard error,
    degrees of freedom (None for a z-test), the statistic and the p-value for the alternative.
    ``standard_error`` 0 (no variance in either arm) leaves statistic and p-value None: the test
    is undefined, not "infinitely significant"."""

    estimate: float
    standard_error: float
    degrees_of_freedom: float | None
    statistic: float | None
    p_value: float | None


def welch_satterthwaite(
    variance_of_mean_a: float, df_a: float, variance_of_mean_b: float, df_b: float
) -> float:
    """Welch-Satterthwaite degrees of freedom of ``Var(a) + Var(b)`` (variances of the means).
    Requires at least one positive variance."""
    total = variance_of_mean_a + variance_of_mean_b
    # In shares of the total, so that tiny variances cannot underflow to 0 / 0.
    share_a, share_b = variance_of_mean_a / total, variance_of_mean_b / total
    return 1.0 / (share_a * share_a / df_a + share_b * share_b / df_b)


def p_value(statistic: float, df: float | None, alternative: Alternative) -> float:
    """p-value of a t (df given) or z (df None) statistic for the alternative."""

    def cdf(x: float) -> float:
        return float(special.ndtr(x) if df is None else special.stdtr(df, x))

    if alternative is Alternative.GREATER:
        return cdf(-statistic)
    if alternative is Alternative.LESS:
        return cdf(statistic)
    return min(1.0, 2.0 * cdf(-abs(statistic)))


def compare(
    treatment_mean: float,
    treatment_variance_of_mean: float,
    treatment_df: float | None,
    control_mean: float,
    control_variance_of_mean: float,
    control_df: float | None,
    alternative: Alternative = Alternative.TWO_SIDED,
) -> Difference:
    """Welch's t-test (both dfs given) or a z-test (either df None) of treatment - control from
    the means and the variances of the means of independent arms."""
    estimate = treatment_mean - control_mean
    variance = treatment_variance_of_mean + control_variance_of_mean
    se = math.sqrt(variance)
    if se == 0.0 or not math.isfinite(se):
        return Difference(estimate, 0.0, None, None, None)
    df = (
        None
        if treatment_df is None or control_df is None
        else welch_satterthwaite(
            treatment_variance_of_mean, treatment_df, control_variance_of_mean, control_df
        )
    )
    statistic = estimate / se
    if not math.isfinite(statistic):
        return Difference(estimate, se, df, None, None)
    return Difference(estimate, se, df, statistic, p_value(statistic, df, alternative))


def relative_lift(
    treatment_mean: float,
    treatment_variance_of_mean: float,
    control_mean: float,
    control_variance_of_mean: float,
    critical_value: float,
) -> Estimate | None:
    """``treatment/control - 1`` with the delta-method interval (independent arms):
    ``Var = Var(t)/c^2 + t^2 Var(c)/c^4``. None when the control is 0 (undefined)."""
    if control_mean == 0.0:
        return None
    ratio = treatment_mean / control_mean
    value = ratio - 1.0
    # Products, not powers: float ** raises OverflowError where * gives inf (caught below).
    # Divided by the control twice, not by its square, which can underflow to 0.
    variance = (
        (treatment_variance_of_mean + ratio * ratio * control_variance_of_mean)
        / control_mean
        / control_mean
    )
    if not (math.isfinite(value) and math.isfinite(variance)):
        return None
    return Estimate(value, _interval(value, critical_value * math.sqrt(variance)))


# --------------------------------------------------------------------------------------------
# Sequential (always-valid) inference
# --------------------------------------------------------------------------------------------


def _width_factor(log_ratio: float, alpha: float) -> float:
    r = math.exp(log_ratio)
    return (1.0 + r) / r * (2.0 * math.log(1.0 / alpha) + math.log1p(r))


@cache
def optimal_mixture_ratio(alpha: float) -> float:
    """``r = tau^2 / V`` that makes the normal-mixture confidence sequence narrowest at the
    look where the variance of the estimate is V (about 8.2 at alpha = 0.05)."""
    found = optimize.minimize_scalar(
        _width_factor, bounds=(-10.0, 15.0), args=(alpha,), method="bounded"
    )
    return float(math.exp(found.x))


def always_valid(
    estimate: float, variance: float, confidence_level: float, mixture_variance: float = 0.0
) -> SequentialResult | None:
    """Normal-mixture mSPRT (Johari, Koomen, Pekelis & Walsh 2017, "Peeking at A/B tests",
    eq. for the two-stream normal case) for an estimate with variance ``variance`` (in their
    notation ``V = 2 sigma^2 / n``) against 0, with mixing distribution ``N(0, tau^2)``:

        Lambda = sqrt(V / (V + tau^2)) exp(tau^2 estimate^2 / (2 V (V + tau^2)))

    The always-valid p-value is ``min(1, 1/Lambda)`` and the confidence sequence, the set of
    effects ``d`` with ``Lambda(d) < 1/alpha``, is ``estimate +- sqrt(V (V + tau^2) / tau^2 *
    (2 log(1/alpha) + log((V + tau^2) / V)))``. The p-value is for this look; across looks take
    the running minimum (and the running intersection of intervals), as the paper does.

    ``mixture_variance`` 0 picks ``tau^2 = r V`` with ``r`` the ratio that makes the interval
    narrowest at this look (``optimal_mixture_ratio``). The guarantee holds for a tau^2 fixed in
    advance; to monitor an experiment over time, pass the ``mixture_variance`` returned at the
    first look (or from planning) at every later look. None when ``variance`` is 0.
    """
    if mixture_variance < 0.0 or not math.isfinite(mixture_variance):
        raise ValueError(f"sequential_mixture_variance must be >= 0, got {mixture_variance}")
    if variance <= 0.0 or not math.isfinite(variance):
        return None
    alpha = 1.0 - confidence_level
    tau2 = mixture_variance if mixture_variance > 0.0 else optimal_mixture_ratio(alpha) * variance
    # In terms of r = tau^2 / V and z = estimate / sqrt(V), so no intermediate over- or
    # underflows: log Lambda = -log(1 + r) / 2 + r / (1 + r) * z^2 / 2.
    r = tau2 / variance
    z = estimate / math.sqrt(variance)
    if not (math.isfinite(r) and math.isfinite(z)) or r == 0.0:
        return None
    log_lambda = -0.5 * math.log1p(r) + r / (1.0 + r) * z * z / 2.0
    p = math.exp(min(0.0, -log_lambda))
    half_width = math.sqrt(variance) * math.sqrt(
        (1.0 + r) / r * (2.0 * math.log(1.0 / alpha) + math.log1p(r))
    )
    interval = _interval(estimate, half_width)
    if interval is None:
        return None
    return SequentialResult(p, interval, p < alpha, tau2)


# --------------------------------------------------------------------------------------------
# Multiple comparisons, Bayesian summary, SRM
# --------------------------------------------------------------------------------------------


def holm_adjust(p_values: Sequence[float] | NDArray[np.float64]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down), in the input order, capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    # Rounding in p * m / rank must not push an adjusted p-value below the raw one.
    return [float(x) for x in np.maximum(adjusted, p)]


def benjamini_hochberg_adjust(p_values: Sequence[float] | NDArray[np.float64]) -> list[float]:
    """Benjamini-Hochberg (false discovery rate) adjusted p-values (step-up), in input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    # Rounding in p * m / rank must not push an adjusted p-value below the raw one.
    return [float(x) for x in np.maximum(adjusted, p)]


def adjust(p_values: Sequence[float] | NDArray[np.float64]) -> tuple[list[float], list[float]]:
    """(Holm, Benjamini-Hochberg) adjusted p-values of one family. BH never exceeds Holm in
    exact arithmetic (it controls a weaker error rate); rounding in the two step procedures can
    put BH one unit in the last place above Holm, which is clamped away here."""
    holm = holm_adjust(p_values)
    bh = benjamini_hochberg_adjust(p_values)
    return holm, [min(b, h) for b, h in zip(bh, holm, strict=True)]


def chance_to_win(
    estimate: float, standard_error: float, alternative: Alternative = Alternative.TWO_SIDED
) -> tuple[float, float] | None:
    """Posterior probability that the treatment beats the control, and the expected loss of
    shipping it (``E[max(0, -effect)]`` in the metric's units), under flat priors with the normal
    approximation ``effect ~ N(estimate, standard_error^2)``.

    The normal approximation is used for every metric type, proportions included, rather than a
    Beta-Binomial: it is what the platforms' frequentist engines report, it is exact enough at
    campaign sizes (the tests check it against Beta posteriors), and it covers ratio metrics and
    CUPED the same way. "Better" means larger, or smaller for ``Alternative.LESS``. None when the
    standard error is 0.
    """
    if standard_error <= 0.0 or not math.isfinite(standard_error):
        return None
    direction = -1.0 if alternative is Alternative.LESS else 1.0
    z = direction * estimate / standard_error
    win = float(special.ndtr(z))
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    loss = standard_error * density - direction * estimate * float(special.ndtr(-z))
    return win, max(loss, 0.0)


def _expected_shares(arms: Sequence[ArmStatistics]) -> list[float]:
    given = [a.expected_share for a in arms if a.expected_share not in (None, 0.0)]
    if not given:
        return [1.0 / len(arms)] * len(arms)
    if len(given) != len(arms):
        raise ValueError("expected_share must be given for every arm or for none")
    shares = [float(a.expected_share or 0.0) for a in arms]
    if any(s <= 0.0 or s > 1.0 for s in shares):
        raise ValueError("expected_share must be within (0, 1]")
    if abs(sum(shares) - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"expected_share must sum to 1, got {sum(shares)}")
    return shares


def srm_check(arms: Sequence[ArmStatistics]) -> SrmCheck:
    """Chi-square goodness-of-fit test of the arms' unit counts against their expected shares
    (equal shares when none is given), ``arms - 1`` degrees of freedom, flagged at
    ``SRM_THRESHOLD``."""
    if len(arms) < 2:
        raise ValueError("arms: at least two arms are needed")
    arms = [_as_python_numbers(a) for a in arms]
    for arm in arms:
        if arm.n < 0:
            raise ValueError(f"arms[{arm.name}].n cannot be negative, got {arm.n}")
    shares = _expected_shares(arms)
    total = sum(a.n for a in arms)
    srm_arms = tuple(
        SrmArm(a.name, a.n, share, share * total) for a, share in zip(arms, shares, strict=True)
    )
    df = len(arms) - 1
    if total == 0:
        return SrmCheck(None, df, None, False, srm_arms, ("no units: nothing to check",))
    statistic = float(sum((a.observed - a.expected) ** 2 / a.expected for a in srm_arms))
    p = float(special.chdtrc(df, statistic))
    return SrmCheck(statistic, df, p, p < SRM_THRESHOLD, srm_arms)


# --------------------------------------------------------------------------------------------
# CUPED
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cuped:
    theta: float
    means: list[float | None]
    variances: list[float | None]


def _cuped(arms: Sequence[ArmStatistics], metric: MetricType, warnings: list[str]) -> _Cuped | None:
    """theta = sum of within-arm cross-products / sum of within-arm squares of the covariate,
    i.e. the slope of the metric on the covariate with one intercept per arm (ANCOVA). Pooling
    within arms keeps the treatment effect out of theta; under randomization it is the pooled
    cov/var the platforms use, without their small bias when the effect is large."""
    sxx_per_arm, sxy_per_arm, syy_per_arm = [], [], []
    for arm in arms:
        assert arm.pre_sum is not None and arm.pre_sum_squares is not None  # validated
        assert arm.sum_products is not None
        where = f"arms[{arm.name}]"
        syy = _centred_square(arm.n, arm.sum, _metric_square_sum(arm, metric), where)
        sxx = _centred_square(arm.n, arm.pre_sum, arm.pre_sum_squares, f"{where}.pre_sum_squares")
        sxy = _centred_product(
            arm.n, arm.sum, arm.pre_sum, arm.sum_products, syy, sxx, f"{where}.sum_products"
        )
        sxx_per_arm.append(sxx)
        sxy_per_arm.append(sxy)
        syy_per_arm.append(syy)
    total_sxx = math.fsum(sxx_per_arm)
    if total_sxx > 0.0:
        theta = math.fsum(sxy_per_arm) / total_sxx
    else:
        theta = 0.0
        warnings.append("CUPED: the pre-period covariate has no variance; theta is 0")
    if not math.isfinite(theta):
        warnings.append("CUPED: theta is out of floating-point range; CUPED was not applied")
        return None
    units = sum(a.n for a in arms)
    grand_pre_mean = sum(a.pre_sum or 0.0 for a in arms) / units if units else 0.0
    means: list[float | None] = []
    variances: list[float | None] = []
    for arm, sxx, sxy, syy in zip(arms, sxx_per_arm, sxy_per_arm, syy_per_arm, strict=True):
        if arm.n == 0:
            means.append(None)
            variances.append(None)
            continue
        pre_mean = (arm.pre_sum or 0.0) / arm.n
        means.append(_finite_or_none(arm.sum / arm.n - theta * (pre_mean - grand_pre_mean)))
        adjusted = max(syy - 2.0 * theta * sxy + theta * theta * sxx, 0.0)
        variances.append(_finite_or_none(adjusted / (arm.n - 1)) if arm.n >= 2 else None)
    return _Cuped(theta, means, variances)


# --------------------------------------------------------------------------------------------
# analyze
# --------------------------------------------------------------------------------------------


def _validate_request(
    arms: Sequence[ArmStatistics], confidence_level: float, alternative: Alternative
) -> int:
    if not 2 <= len(arms) <= 20:
        raise ValueError(f"arms: 2..20 arms are needed, got {len(arms)}")
    if not 0.8 <= confidence_level <= 0.999:
        raise ValueError(f"confidence_level must be within 0.8..0.999, got {confidence_level}")
    controls = [i for i, a in enumerate(arms) if a.control]
    if len(controls) != 1:
        raise ValueError(f"arms: exactly one arm must be the control, got {len(controls)}")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValueError("arms: names must be unique")
    Alternative(alternative)
    return controls[0]


def analyze(
    metric_type: MetricType | str,
    arms: Sequence[ArmStatistics],
    confidence_level: float = 0.95,
    cuped: bool = False,
    sequential_mixture_variance: float = 0.0,
    alternative: Alternative | str = Alternative.TWO_SIDED,
) -> AnalyzeResult:
    """Compares every non-control arm with the control (the Analyze RPC).

    - Means and proportions: Welch t-test; ratios: delta-method z-test (``StatisticalTest``).
    - ``p_value`` is for ``alternative``; Holm and BH adjust the defined p-values of the
      non-control arms together (arms whose p-value is undefined are left out of the family);
      ``significant`` is Holm-adjusted p < 1 - confidence_level.
    - ``cuped=True`` requires the pre-period fields on every arm and fills ``cuped`` on each lift
      and ``cuped_mean`` on each summary; the adjusted p-value is reported there, and the main
      (family-adjusted) p-value stays the unadjusted one, as the proto lays out. CUPED is not
      available for ratio metrics (the contract carries no denominator x covariate products):
      a warning says so and the CUPED fields stay None.
    - ``sequential`` is the always-valid mSPRT result (two-sided) on the unadjusted difference.
    """
    metric = MetricType(metric_type)
    alt = Alternative(alternative)
    arms = [_as_python_numbers(a) for a in arms]
    control_index = _validate_request(arms, confidence_level, alt)
    if sequential_mixture_variance < 0.0 or not math.isfinite(sequential_mixture_variance):
        raise ValueError(
            f"sequential_mixture_variance must be >= 0, got {sequential_mixture_variance}"
        )
    for arm in arms:
        _validate_arm(arm, metric, cuped)
    srm = srm_check(arms)

    request_warnings: list[str] = []
    arm_warnings: list[list[str]] = [[] for _ in arms]
    moments = [_moments(a, metric, w) for a, w in zip(arms, arm_warnings, strict=True)]
    adjusted: _Cuped | None = None
    if cuped and metric is MetricType.RATIO:
        request_warnings.append("CUPED is not available for ratio metrics; it was not applied")
    elif cuped:
        adjusted = _cuped(arms, metric, request_warnings)

    summaries = tuple(
        _summary(a, m, metric, confidence_level, adjusted.means[i] if adjusted else None)
        for i, (a, m) in enumerate(zip(arms, moments, strict=True))
    )
    test = StatisticalTest.DELTA_METHOD if metric is MetricType.RATIO else StatisticalTest.WELCH_T
    drafts = [
        _lift(
            arms,
            moments,
            i,
            control_index,
            metric,
            test,
            confidence_level,
            alt,
            sequential_mixture_variance,
            adjusted,
            arm_warnings[i] + arm_warnings[control_index],
        )
        for i in range(len(arms))
        if i != control_index
    ]

    family = [(i, d.p_value) for i, d in enumerate(drafts) if d.p_value is not None]
    defined = [i for i, _ in family]
    holm, bh = adjust([p for _, p in family])
    alpha = 1.0 - confidence_level
    lifts = list(drafts)
    for position, i in enumerate(defined):
        lifts[i] = replace(
            drafts[i],
            holm_p_value=holm[position],
            bh_p_value=bh[position],
            significant=holm[position] < alpha,
        )
    return AnalyzeResult(summaries, tuple(lifts), srm, tuple(request_warnings))


def _lift(
    arms: Sequence[ArmStatistics],
    moments: Sequence[_Moments],
    index: int,
    control_index: int,
    metric: MetricType,
    test: StatisticalTest,
    confidence_level: float,
    alternative: Alternative,
    mixture_variance: float,
    adjusted: _Cuped | None,
    inherited_warnings: list[str],
) -> LiftResult:
    treatment, control = moments[index], moments[control_index]
    warnings = list(dict.fromkeys(inherited_warnings))
    name, control_name = arms[index].name, arms[control_index].name
    empty = LiftResult(
        name,
        control_name,
        test,
        control.mean,
        treatment.mean,
        None,
        None,
        None,
        None,
        None,
        False,
        None,
        None,
        None,
        None,
        None,
        None,
        (),
    )
    if treatment.mean is None or control.mean is None:
        warnings.append("the lift is undefined: an arm has no value")
        return _with_warnings(empty, warnings)
    if treatment.variance is None or control.variance is None:
        estimate = treatment.mean - control.mean
        warnings.append("the lift's variance is undefined: an arm has fewer than two units")
        return _with_warnings(
            replace(empty, absolute_lift=Estimate(estimate, None)),
            warnings,
        )
    vt, vc = treatment.variance / treatment.n, control.variance / control.n
    diff = compare(treatment.mean, vt, treatment.df, control.mean, vc, control.df, alternative)
    if diff.p_value is None:
        warnings.append("neither arm has any variance: the test is undefined")
        return _with_warnings(
            replace(empty, absolute_lift=Estimate(diff.estimate, None)),
            warnings,
        )
    crit = _critical(confidence_level, diff.degrees_of_freedom)
    absolute = Estimate(diff.estimate, _interval(diff.estimate, crit * diff.standard_error))
    relative = relative_lift(treatment.mean, vt, control.mean, vc, crit)
    if relative is None:
        warnings.append(
            "the relative lift is undefined: the control's value is 0"
            if control.mean == 0.0
            else "the relative lift is out of floating-point range"
        )
    bayes = chance_to_win(diff.estimate, diff.standard_error, alternative)
    sequential = always_valid(
        diff.estimate, diff.standard_error * diff.standard_error, confidence_level, mixture_variance
    )
    if sequential is None:
        warnings.append("the always-valid interval is unbounded for this mixture variance")
    cuped_result = (
        _cuped_lift(adjusted, moments, index, control_index, confidence_level, alternative, vt + vc)
        if adjusted is not None
        else None
    )
    if adjusted is not None and cuped_result is None:
        warnings.append("the CUPED comparison is undefined: no adjusted variance")
    return LiftResult(
        name,
        control_name,
        test,
        control.mean,
        treatment.mean,
        absolute,
        relative,
        diff.p_value,
        None,
        None,
        False,
        diff.statistic,
        diff.degrees_of_freedom,
        bayes[0] if bayes else None,
        bayes[1] if bayes else None,
        cuped_result,
        sequential,
        tuple(warnings),
    )


def _cuped_lift(
    adjusted: _Cuped,
    moments: Sequence[_Moments],
    index: int,
    control_index: int,
    confidence_level: float,
    alternative: Alternative,
    unadjusted_variance: float,
) -> CupedResult | None:
    mt, mc = adjusted.means[index], adjusted.means[control_index]
    var_t, var_c = adjusted.variances[index], adjusted.variances[control_index]
    if mt is None or mc is None or var_t is None or var_c is None:
        return None
    nt, nc = moments[index].n, moments[control_index].n
    vt, vc = var_t / nt, var_c / nc
    diff = compare(mt, vt, float(nt - 1), mc, vc, float(nc - 1), alternative)
    if diff.standard_error == 0.0:
        absolute = Estimate(diff.estimate, None)
        relative = None
    else:
        crit = _critical(confidence_level, diff.degrees_of_freedom)
        absolute = Estimate(diff.estimate, _interval(diff.estimate, crit * diff.standard_error))
        relative = relative_lift(mt, vt, mc, vc, crit)
    reduction = 1.0 - (vt + vc) / unadjusted_variance if unadjusted_variance > 0.0 else 0.0
    return CupedResult(
        adjusted.theta, min(1.0, max(0.0, reduction)), absolute, relative, diff.p_value
    )


def _with_warnings(lift: LiftResult, warnings: list[str]) -> LiftResult:
    return replace(lift, warnings=tuple(dict.fromkeys(warnings)))


__all__ = [
    "SRM_THRESHOLD",
    "Alternative",
    "AnalyzeResult",
    "ArmStatistics",
    "ArmSummary",
    "ConfidenceInterval",
    "CupedResult",
    "Difference",
    "Estimate",
    "LiftResult",
    "MetricType",
    "SequentialResult",
    "SrmArm",
    "SrmCheck",
    "StatisticalTest",
    "always_valid",
    "analyze",
    "benjamini_hochberg_adjust",
    "chance_to_win",
    "compare",
    "holm_adjust",
    "optimal_mixture_ratio",
    "p_value",
    "relative_lift",
    "srm_check",
    "welch_satterthwaite",
]
