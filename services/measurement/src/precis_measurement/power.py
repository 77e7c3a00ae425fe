"""Power planning for campaigns: the units needed for a minimum detectable effect, or the effect
detectable with the units available (the PlanPower RPC; dataclasses mirror PlanPowerRequest and
PlanPowerResponse).

Conventions, those of the platforms' calculators (Statsig, Eppo, GrowthBook): a two-sided z-test
of treatment minus control, the per-unit variance of the baseline used for both arms
(``p(1-p)`` for a proportion, ``standard_deviation^2`` for a mean), times ``1 - variance_reduction``
for CUPED, and alpha split evenly among the treatment arms (Bonferroni). Sizes solve

    delta = (z_{1 - alpha/(2k)} + z_{power}) * sigma * sqrt(1/n_control + 1/n_treatment)

which ignores the opposite tail's negligible contribution to power (below 1e-5 at the usual
settings); ``achieved_power`` gives the exact two-tailed power of a plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

# scipy ships no type information (no py.typed); these are the only untyped calls in the module.
from scipy import special  # type: ignore[import-untyped]

from precis_measurement.stats import MetricType

DEFAULT_ALPHA: Final = 0.05
DEFAULT_POWER: Final = 0.8
MAX_VARIANCE_REDUCTION: Final = 0.99
MAX_UNITS: Final = 1e15
"""Plans needing more units than this are refused rather than overflowing an int64."""


@dataclass(frozen=True)
class PowerPlanRequest:
    """What to plan (``PlanPowerRequest`` in the proto). Exactly one of ``relative_mde`` (solve
    for size) and ``total_units`` (solve for the effect) is given. Zeros mean the proto's
    defaults: alpha 0.05, power 0.8, one treatment arm, an equal split, no CUPED reduction, no
    duration."""

    metric_type: MetricType | str
    baseline: float
    standard_deviation: float = 0.0
    alpha: float = 0.0
    power: float = 0.0
    treatment_arms: int = 0
    control_share: float = 0.0
    variance_reduction: float = 0.0
    daily_units: float = 0.0
    relative_mde: float | None = None
    total_units: int | None = None


@dataclass(frozen=True)
class PowerPlan:
    """The plan (``PlanPowerResponse`` in the proto). ``relative_mde`` is None when the baseline
    is 0 (a relative effect is undefined), with a warning."""

    control_units: int
    treatment_units_per_arm: int
    total_units: int
    absolute_mde: float
    relative_mde: float | None
    duration_days: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Design:
    sigma: float
    z_alpha: float
    z_power: float
    control_share: float
    treatment_share: float
    treatment_arms: int
    alpha: float


def _design(request: PowerPlanRequest) -> _Design:
    metric = MetricType(request.metric_type)
    values = (
        request.baseline,
        request.standard_deviation,
        request.alpha,
        request.power,
        request.control_share,
        request.variance_reduction,
        request.daily_units,
    )
    if not all(math.isfinite(v) for v in values):
        raise ValueError("every numeric field must be finite")
    alpha = request.alpha or DEFAULT_ALPHA
    power = request.power or DEFAULT_POWER
    arms = request.treatment_arms or 1
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be within (0, 1), got {power}")
    if arms < 1:
        raise ValueError(f"treatment_arms must be >= 1, got {arms}")
    if not 0.0 <= request.control_share < 1.0:
        raise ValueError(f"control_share must be within [0, 1), got {request.control_share}")
    if not 0.0 <= request.variance_reduction <= MAX_VARIANCE_REDUCTION:
        raise ValueError(
            f"variance_reduction must be within 0..{MAX_VARIANCE_REDUCTION}, "
            f"got {request.variance_reduction}"
        )
    if request.daily_units < 0.0:
        raise ValueError(f"daily_units cannot be negative, got {request.daily_units}")
    if metric is MetricType.PROPORTION:
        if not 0.0 < request.baseline < 1.0:
            raise ValueError(f"baseline must be a proportion within (0, 1), got {request.baseline}")
        sigma = math.sqrt(request.baseline * (1.0 - request.baseline))
    elif metric is MetricType.MEAN:
        if request.standard_deviation <= 0.0:
            raise ValueError(
                f"standard_deviation must be > 0 for a mean, got {request.standard_deviation}"
            )
        sigma = request.standard_deviation
    else:
        raise ValueError("metric_type: plan ratio metrics with the mean of the linearized metric")
    sigma *= math.sqrt(1.0 - request.variance_reduction)
    control_share = request.control_share or 1.0 / (arms + 1)
    return _Design(
        sigma=sigma,
        z_alpha=float(special.ndtri(1.0 - alpha / (2.0 * arms))),
        z_power=float(special.ndtri(power)),
        control_share=control_share,
        treatment_share=(1.0 - control_share) / arms,
        treatment_arms=arms,
        alpha=alpha,
    )


def _duration(total: int, daily_units: float) -> float:
    return total / daily_units if daily_units > 0.0 else 0.0


def plan_power(request: PowerPlanRequest) -> PowerPlan:
    """Solves for the units (given ``relative_mde``) or for the effect (given ``total_units``).

    Sizes are rounded up per arm (each arm gets at least what the formula asks), so
    ``total_units = control_units + treatment_arms * treatment_units_per_arm`` and the plan's
    power is at least the one requested. Given ``total_units``, arms get the floor of their
    share and the effect is computed for those counts. ``relative_mde`` must be > 0 (the test
    is two-sided, so a drop of the same size is detected too); for a proportion the changed
    rate ``baseline * (1 + relative_mde)`` must stay below 1.
    """
    if (request.relative_mde is None) == (request.total_units is None):
        raise ValueError("give exactly one of relative_mde and total_units")
    design = _design(request)
    multiplier = (design.z_alpha + design.z_power) * design.sigma
    warnings: list[str] = []
    if request.relative_mde is not None:
        mde = request.relative_mde
        if not (math.isfinite(mde) and mde > 0.0):
            raise ValueError(f"relative_mde must be > 0, got {mde}")
        if request.baseline == 0.0:
            raise ValueError("baseline must be non-zero to plan for a relative_mde")
        metric = MetricType(request.metric_type)
        if metric is MetricType.PROPORTION and request.baseline * (1.0 + mde) >= 1.0:
            raise ValueError("relative_mde: baseline * (1 + relative_mde) must stay below 1")
        absolute = abs(request.baseline) * mde
        # n_total from delta = multiplier * sqrt(1/(w_c N) + 1/(w_t N)).
        scale = multiplier / absolute
        total_real = scale * scale * (1.0 / design.control_share + 1.0 / design.treatment_share)
        if not total_real < MAX_UNITS:
            raise ValueError(f"relative_mde: detecting {mde} needs more than {MAX_UNITS:.0e} units")
        control_units = math.ceil(design.control_share * total_real - 1e-9)
        treatment_units = math.ceil(design.treatment_share * total_real - 1e-9)
        total = control_units + design.treatment_arms * treatment_units
        return PowerPlan(
            control_units,
            treatment_units,
            total,
            absolute,
            mde,
            _duration(total, request.daily_units),
        )
    assert request.total_units is not None
    total = request.total_units
    control_units = math.floor(design.control_share * total)
    treatment_units = math.floor(design.treatment_share * total)
    if control_units < 1 or treatment_units < 1:
        raise ValueError(
            f"total_units {total} leaves an arm without units; at least one unit per arm is needed"
        )
    absolute = multiplier * math.sqrt(1.0 / control_units + 1.0 / treatment_units)
    relative: float | None = None
    if request.baseline == 0.0:
        warnings.append("the baseline is 0: the relative effect is undefined")
    else:
        relative = absolute / abs(request.baseline)
    return PowerPlan(
        control_units,
        treatment_units,
        total,
        absolute,
        relative,
        _duration(total, request.daily_units),
        tuple(warnings),
    )


def achieved_power(
    request: PowerPlanRequest, control_units: int, treatment_units: int, absolute_effect: float
) -> float:
    """Exact two-tailed power of the z-test (per comparison, at alpha / treatment_arms) for an
    absolute effect with the given arm sizes, counting both rejection regions."""
    if control_units < 1 or treatment_units < 1:
        raise ValueError("each arm needs at least one unit")
    design = _design(request)
    se = design.sigma * math.sqrt(1.0 / control_units + 1.0 / treatment_units)
    shift = abs(absolute_effect) / se
    return float(special.ndtr(shift - design.z_alpha) + special.ndtr(-design.z_alpha - shift))


__all__ = ["PowerPlan", "PowerPlanRequest", "achieved_power", "plan_power"]
