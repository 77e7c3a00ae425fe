"""Conversions from the libraries' dataclasses to the contract's messages. A value the
libraries leave undefined (None: zero variance, empty arms) becomes 0 in the message, since
proto3 numbers cannot be absent; the warnings beside it say why. Nothing NaN or infinite is ever
put in a message."""

from __future__ import annotations

import math

import precis_uplift as uplift
from precis.measurement.v1 import measurement_pb2 as pb
from precis_measurement import attribution, stats

TESTS = {
    stats.StatisticalTest.WELCH_T: pb.STATISTICAL_TEST_WELCH_T,
    stats.StatisticalTest.DELTA_METHOD: pb.STATISTICAL_TEST_DELTA_METHOD,
}


def number(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else 0.0


def interval(value: stats.ConfidenceInterval | None) -> pb.ConfidenceInterval:
    if value is None:
        return pb.ConfidenceInterval()
    return pb.ConfidenceInterval(lower=number(value.lower), upper=number(value.upper))


def estimate(value: stats.Estimate | None) -> pb.Estimate:
    if value is None:
        return pb.Estimate()
    return pb.Estimate(value=number(value.value), interval=interval(value.interval))


def scaled(value: stats.Estimate | None, factor: float) -> pb.Estimate:
    """An estimate times a constant (a lift per subject times the subjects)."""
    if value is None:
        return pb.Estimate()
    lower = upper = 0.0
    if value.interval is not None:
        lower, upper = sorted(
            (number(value.interval.lower) * factor, number(value.interval.upper) * factor)
        )
    return pb.Estimate(
        value=number(value.value) * factor,
        interval=pb.ConfidenceInterval(lower=lower, upper=upper),
    )


def lift(result: stats.LiftResult, metric: int = 0) -> pb.LiftResult:
    message = pb.LiftResult(
        arm=result.arm,
        control_arm=result.control_arm,
        metric=metric,  # type: ignore[arg-type]
        test=TESTS[result.test],
        control_value=number(result.control_value),
        treatment_value=number(result.treatment_value),
        absolute_lift=estimate(result.absolute_lift),
        relative_lift=estimate(result.relative_lift),
        p_value=number(result.p_value) if result.p_value is not None else 1.0,
        holm_p_value=number(result.holm_p_value) if result.holm_p_value is not None else 1.0,
        bh_p_value=number(result.bh_p_value) if result.bh_p_value is not None else 1.0,
        significant=result.significant,
        chance_to_win=number(result.chance_to_win),
    )
    if result.cuped is not None:
        message.cuped.CopyFrom(
            pb.CupedResult(
                theta=number(result.cuped.theta),
                variance_reduction=number(result.cuped.variance_reduction),
                absolute_lift=estimate(result.cuped.absolute_lift),
                relative_lift=estimate(result.cuped.relative_lift),
                p_value=number(result.cuped.p_value) if result.cuped.p_value is not None else 1.0,
            )
        )
    if result.sequential is not None:
        message.sequential.CopyFrom(
            pb.SequentialResult(
                p_value=number(result.sequential.p_value),
                absolute_lift_interval=interval(result.sequential.absolute_lift_interval),
                can_stop=result.sequential.can_stop,
                mixture_variance=number(result.sequential.mixture_variance),
            )
        )
    return message


def srm(check: stats.SrmCheck) -> pb.SrmCheck:
    return pb.SrmCheck(
        chi_square=number(check.chi_square),
        degrees_of_freedom=check.degrees_of_freedom,
        p_value=number(check.p_value) if check.p_value is not None else 1.0,
        mismatch=check.mismatch,
        arms=[
            pb.SrmArm(
                arm=a.arm,
                observed=a.observed,
                expected_share=number(a.expected_share),
                expected=number(a.expected),
            )
            for a in check.arms
        ],
    )


def arm_summary(summary: stats.ArmSummary) -> pb.ArmSummary:
    return pb.ArmSummary(
        name=summary.name,
        n=summary.n,
        mean=number(summary.mean),
        variance=number(summary.variance),
        standard_error=number(summary.standard_error),
        interval=interval(summary.interval),
        cuped_mean=number(summary.cuped_mean),
    )


def uplift_response(result: uplift.UpliftEvaluation) -> pb.EvaluateUpliftResponse:
    response = pb.EvaluateUpliftResponse(
        qini_coefficient=number(result.qini_coefficient),
        auuc=number(result.auuc),
        random_auuc=number(result.random_auuc),
        uplift_at_k=[
            pb.UpliftAtFraction(
                fraction=u.fraction, uplift=number(u.uplift), treated=u.treated, control=u.control
            )
            for u in result.uplift_at_k
        ],
        curve=[
            pb.UpliftCurvePoint(
                fraction=number(p.fraction),
                qini=number(p.qini),
                uplift_gain=number(p.uplift_gain),
                random=number(p.random),
                qini_random=number(p.qini_random),
            )
            for p in result.curve
        ],
        treated=result.treated,
        control=result.control,
    )
    for d in result.deciles:
        response.deciles.append(
            pb.UpliftDecile(
                decile=d.decile,
                treated=d.treated,
                control=d.control,
                treated_mean=number(d.treated_mean),
                control_mean=number(d.control_mean),
                uplift=number(d.uplift),
                cumulative_gain=number(d.cumulative_gain),
            )
        )
    return response


def attribution_response(
    result: attribution.AttributionResult,
) -> pb.ComputeAttributionResponse:
    return pb.ComputeAttributionResponse(
        results=[
            pb.ModelAttribution(
                model=int(r.model),  # type: ignore[arg-type]
                credits=[
                    pb.ChannelCredit(
                        channel=c.channel,
                        conversions=number(c.conversions),
                        revenue=number(c.revenue),
                        share=number(c.share),
                        removal_effect=number(c.removal_effect),
                    )
                    for c in r.credits
                ],
            )
            for r in result.results
        ],
        journeys=result.journeys,
        conversions=result.conversions,
        revenue=number(result.revenue),
    )
