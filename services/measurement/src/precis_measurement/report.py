"""A campaign's report, computed from the assignment log and the stored events.

Who counts: every subject assigned up to ``as_of`` (intent to treat: an arm's subjects count
whether or not a message reached them, so arms stay comparable with the holdout).
What counts: a subject's conversion events (the campaign's conversion event) from its assignment
until the attribution window closes (or ``as_of``); revenue is the campaign's revenue property of
those events. The CUPED covariate is the same outcome over the pre-period before the campaign's
start (the same for every subject, so it is measured before anyone was treated).

Metrics per subject, as the contract defines them: converted (0/1) for the conversion rate,
revenue for revenue per user, revenue over orders for average order value (a ratio of sums by the
delta method), and "two or more orders" over "one or more" for the repurchase rate. Every arm is
compared with the holdout on the primary and secondary metrics by ``stats.analyze``; Holm and
Benjamini-Hochberg then adjust all those p-values together (arms × metrics). Cells smaller than
``min_cell_size`` are suppressed: their numbers are zeros in the report and they are compared
with nothing.

Incrementality: incremental conversions = (arm's conversion rate − holdout's) × arm subjects, and
incremental revenue = (arm's revenue per user − holdout's) × arm subjects, with the lift's
interval scaled the same way. Cost = sends × cost per send + the fixed cost shared among arms by
their subjects; ROI = (incremental revenue − cost) / cost.

Cumulative lift: at the end of every UTC day since the start, the primary metric's relative lift
over the subjects assigned by then, with its always-valid (mSPRT) interval divided by the
holdout's value at that point, so the band can be watched daily without inflating errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Row, Select, String, and_, func, select, text, type_coerce
from sqlalchemy.orm import Session

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2
from precis_common.db import Database
from precis_common.feed import to_timestamp
from precis_measurement import messages, stats
from precis_measurement.attribution import Journey, Touchpoint, compute_attribution
from precis_measurement.campaigns import HOLDOUT, CampaignRow
from precis_measurement.readmodel import conversion_amount
from precis_measurement.store import (
    ms_assignments,
    ms_conversions,
    ms_exposures,
    ms_touches,
    ms_uplift,
)

MAX_ATTRIBUTION_JOURNEYS = 200_000
# Rows fetched at a time when loading a campaign's assignments and conversions.
STREAM_ROWS = 50_000
METRIC_NAMES: dict[int, str] = {
    pb.METRIC_CONVERSION_RATE: "conversion rate",
    pb.METRIC_REVENUE_PER_USER: "revenue per user",
    pb.METRIC_AVERAGE_ORDER_VALUE: "average order value",
    pb.METRIC_REPURCHASE_RATE: "repurchase rate",
}


def channel_name(channel: int) -> str:
    return segmentation_pb2.Channel.Name(channel).removeprefix("CHANNEL_").lower()


@dataclass
class Subjects:
    """Per-subject outcomes of a campaign, aligned arrays (one entry per assigned subject)."""

    profile_ids: list[str]
    arm: NDArray[np.int64]  # index into arm_ids
    arm_ids: list[str]
    assigned_at: NDArray[np.float64]  # epoch seconds
    # conversions inside each subject's window, as (subject index, time, revenue)
    conv_subject: NDArray[np.int64]
    conv_time: NDArray[np.float64]
    conv_revenue: NDArray[np.float64]
    pre_orders: NDArray[np.float64]
    pre_revenue: NDArray[np.float64]
    sends: NDArray[np.int64]  # per arm


def _epoch(value: datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _epochs(values: Sequence[datetime | str]) -> NDArray[np.float64]:
    """_epoch of every value, as an array. On SQLite the values are the stored text (see
    _stored_time), read as SQLAlchemy would read it (datetime.fromisoformat)."""
    if values and isinstance(values[0], str):
        return _text_epochs(values)  # type: ignore[arg-type]
    return np.fromiter(
        (_epoch(v) for v in values),  # type: ignore[arg-type]
        dtype=np.float64,
        count=len(values),
    )


def _text_epochs(values: Sequence[str]) -> NDArray[np.float64]:
    stored = np.array(values)
    if stored.dtype == np.dtype("<U26"):
        # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (UTC here, without an offset): parsed
        # in C. Checked first: a '.' and six digits at the end leave no room for an offset.
        codes = stored.view(np.uint32).reshape(len(values), 26)
        fraction = codes[:, 20:]
        if (codes[:, 19] == ord(".")).all() and ((fraction >= 48) & (fraction <= 57)).all():
            micros = stored.astype("datetime64[us]").astype(np.int64)
            # microseconds / 10**6, rounded once, as datetime.timestamp() does
            return np.asarray(micros / 1e6, dtype=np.float64)
    return np.fromiter(
        (_epoch(datetime.fromisoformat(v)) for v in values), dtype=np.float64, count=len(values)
    )


def _stored_time(session: Session, column: Any) -> Any:
    """A time column as selected for _epochs: SQLite's stored text is parsed there, in bulk."""
    if session.get_bind().dialect.name == "sqlite":
        return type_coerce(column, String).label(column.name)
    return column


def _streamed(session: Session, query: Select[Any]) -> Iterator[Sequence[Row[Any]]]:
    """The rows of a query in parts of STREAM_ROWS (a server-side cursor on PostgreSQL), so that
    millions of rows are never held as Row objects at once."""
    if session.get_bind().dialect.name == "postgresql":
        # A cursor is planned for its first rows (cursor_tuple_fraction 0.1): index-driven merge
        # joins, twice as slow as the hash join planned for reading every row, which we do.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    result = session.execute(query.execution_options(yield_per=STREAM_ROWS))
    yield from result.partitions()


def load_subjects(session: Session, campaign: CampaignRow, as_of: datetime) -> Subjects:
    a, c = ms_assignments.c, ms_conversions.c
    arm_ids = [arm.arm_id for arm in campaign.arms] + [HOLDOUT]
    arm_index = {arm_id: i for i, arm_id in enumerate(arm_ids)}
    unknown_arm = len(arm_ids) - 1
    profile_ids: list[str] = []
    arm_parts: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    assigned_parts: list[NDArray[np.float64]] = [np.zeros(0, dtype=np.float64)]
    for part in _streamed(
        session,
        select(a.profile_id, a.arm_id, _stored_time(session, a.assigned_at)).where(
            a.workspace_id == campaign.workspace_id,
            a.campaign_id == campaign.campaign_id,
            a.assigned_at <= as_of,
        ),
    ):
        pids, arms, times = zip(*part, strict=True)
        profile_ids.extend(pids)
        arm_parts.append(
            np.fromiter(
                (arm_index.get(x, unknown_arm) for x in arms), dtype=np.int64, count=len(arms)
            )
        )
        assigned_parts.append(_epochs(times))
    index = {pid: i for i, pid in enumerate(profile_ids)}
    arm = np.concatenate(arm_parts)
    assigned_at = np.concatenate(assigned_parts)
    pre_start = campaign.start_time - campaign.pre_period
    horizon = min(as_of, campaign.end_time + campaign.attribution_window)
    prop = campaign.revenue_property
    # The amounts (JSON) are read only when the campaign names another property than revenue.
    columns = [c.profile_id, _stored_time(session, c.occurred_at), c.revenue]
    if prop != "revenue":
        columns.append(c.amounts)
    subject_parts: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    time_parts: list[NDArray[np.float64]] = [np.zeros(0, dtype=np.float64)]
    amount_parts: list[NDArray[np.float64]] = [np.zeros(0, dtype=np.float64)]
    for part in _streamed(
        session,
        select(*columns)
        .join(
            ms_assignments,
            and_(
                a.workspace_id == c.workspace_id,
                a.profile_id == c.profile_id,
                a.campaign_id == campaign.campaign_id,
            ),
        )
        .where(
            c.workspace_id == campaign.workspace_id,
            c.event == campaign.conversion_event,
            c.occurred_at >= pre_start,
            c.occurred_at <= horizon,
        ),
    ):
        pids, times, revenues = list(zip(*part, strict=True))[:3]
        subject = np.fromiter((index.get(p, -1) for p in pids), dtype=np.int64, count=len(pids))
        if prop == "revenue":
            amount = np.fromiter(revenues, dtype=np.float64, count=len(revenues))
        else:
            amount = np.fromiter(
                (conversion_amount(row, prop) for row in part), dtype=np.float64, count=len(part)
            )
        known = subject >= 0  # assigned after as_of: not a subject
        subject_parts.append(subject[known])
        time_parts.append(_epochs(times)[known])
        amount_parts.append(amount[known])
    n = len(profile_ids)
    conv_subject = np.concatenate(subject_parts)
    conv_time = np.concatenate(time_parts)
    conv_amount = np.concatenate(amount_parts)
    window = campaign.attribution_window.total_seconds()
    start = _epoch(campaign.start_time)
    # Conversions before the start are the pre-period (CUPED); the others count when inside
    # their subject's window. Sums run in row order, as adding row by row would.
    pre = conv_time < start
    pre_orders = np.bincount(conv_subject[pre], minlength=n).astype(np.float64)
    pre_revenue = np.asarray(
        np.bincount(conv_subject[pre], weights=conv_amount[pre], minlength=n), dtype=np.float64
    )
    since = assigned_at[conv_subject]
    inside = ~pre & (since <= conv_time) & (conv_time <= since + window)
    e = ms_exposures.c
    sends = np.zeros(len(arm_ids), dtype=np.int64)
    for arm_id, count in session.execute(
        select(a.arm_id, func.count())
        .select_from(ms_exposures)
        .join(
            ms_assignments,
            and_(
                a.workspace_id == e.workspace_id,
                a.profile_id == e.profile_id,
                a.campaign_id == e.campaign_id,
            ),
        )
        .where(
            e.workspace_id == campaign.workspace_id,
            e.campaign_id == campaign.campaign_id,
            e.kind == "sent",
            e.occurred_at <= as_of,
            a.assigned_at <= as_of,
        )
        .group_by(a.arm_id)
    ).all():
        if arm_id in arm_index:
            sends[arm_index[arm_id]] = int(count)
    return Subjects(
        profile_ids=profile_ids,
        arm=arm,
        arm_ids=arm_ids,
        assigned_at=assigned_at,
        conv_subject=conv_subject[inside],
        conv_time=conv_time[inside],
        conv_revenue=conv_amount[inside],
        pre_orders=pre_orders,
        pre_revenue=pre_revenue,
        sends=sends,
    )


@dataclass
class Outcomes:
    """Per-subject outcome vectors at one point in time."""

    included: NDArray[np.bool_]
    orders: NDArray[np.float64]
    revenue: NDArray[np.float64]


def outcomes(subjects: Subjects, until: float | None = None) -> Outcomes:
    n = len(subjects.profile_ids)
    keep = np.ones(len(subjects.conv_subject), dtype=bool)
    included = np.ones(n, dtype=bool)
    if until is not None:
        keep = subjects.conv_time <= until
        included = subjects.assigned_at <= until
    orders: NDArray[np.float64] = np.bincount(subjects.conv_subject[keep], minlength=n).astype(
        np.float64
    )
    revenue = np.asarray(
        np.bincount(subjects.conv_subject[keep], weights=subjects.conv_revenue[keep], minlength=n),
        dtype=np.float64,
    )
    return Outcomes(included, orders, revenue)


def arm_statistics(
    metric: int,
    subjects: Subjects,
    result: Outcomes,
    arm: int,
    expected_share: float,
) -> stats.ArmStatistics:
    mask = (subjects.arm == arm) & result.included
    name = subjects.arm_ids[arm]
    control = name == HOLDOUT
    n = int(mask.sum())
    orders, revenue = result.orders[mask], result.revenue[mask]
    if metric == pb.METRIC_CONVERSION_RATE:
        y = (orders > 0).astype(np.float64)
        x = (subjects.pre_orders[mask] > 0).astype(np.float64)
    elif metric == pb.METRIC_REVENUE_PER_USER:
        y, x = revenue, subjects.pre_revenue[mask]
    elif metric == pb.METRIC_AVERAGE_ORDER_VALUE:
        return stats.ArmStatistics(
            name=name,
            n=n,
            control=control,
            sum=float(revenue.sum()),
            sum_squares=float((revenue**2).sum()),
            denominator_sum=float(orders.sum()),
            denominator_sum_squares=float((orders**2).sum()),
            numerator_denominator_sum_products=float((revenue * orders).sum()),
            expected_share=expected_share,
        )
    else:  # repurchase rate: repurchasers / converters
        repeat = (orders >= 2).astype(np.float64)
        converted = (orders >= 1).astype(np.float64)
        return stats.ArmStatistics(
            name=name,
            n=n,
            control=control,
            sum=float(repeat.sum()),
            sum_squares=float(repeat.sum()),
            denominator_sum=float(converted.sum()),
            denominator_sum_squares=float(converted.sum()),
            numerator_denominator_sum_products=float(repeat.sum()),
            expected_share=expected_share,
        )
    return stats.ArmStatistics(
        name=name,
        n=n,
        control=control,
        sum=float(y.sum()),
        sum_squares=float((y**2).sum()),
        pre_sum=float(x.sum()),
        pre_sum_squares=float((x**2).sum()),
        sum_products=float((x * y).sum()),
        expected_share=expected_share,
    )


METRIC_TYPES: dict[int, stats.MetricType] = {
    pb.METRIC_CONVERSION_RATE: stats.MetricType.PROPORTION,
    pb.METRIC_REVENUE_PER_USER: stats.MetricType.MEAN,
    pb.METRIC_AVERAGE_ORDER_VALUE: stats.MetricType.RATIO,
    pb.METRIC_REPURCHASE_RATE: stats.MetricType.RATIO,
}


def _compare(
    metric: int,
    subjects: Subjects,
    result: Outcomes,
    arms: list[int],
    holdout: int,
    shares: dict[str, float],
    confidence_level: float,
    mixture_variance: float = 0.0,
) -> stats.AnalyzeResult:
    """The arms in ``arms`` against the holdout on one metric (the holdout is the control)."""
    kind = METRIC_TYPES[metric]
    order = [*arms, holdout]
    total = sum(shares[subjects.arm_ids[i]] for i in order)
    statistics = [
        arm_statistics(metric, subjects, result, i, shares[subjects.arm_ids[i]] / total)
        for i in order
    ]
    return stats.analyze(
        kind,
        statistics,
        confidence_level=confidence_level,
        cuped=kind is not stats.MetricType.RATIO,
        sequential_mixture_variance=mixture_variance,
    )


def build_report(
    database: Database, campaign: CampaignRow, as_of: datetime, confidence_level: float
) -> pb.CampaignReport:
    with database.read() as session:
        subjects = load_subjects(session, campaign, as_of)
        uplift_row = session.execute(
            select(ms_uplift.c.evaluation).where(
                ms_uplift.c.workspace_id == campaign.workspace_id,
                ms_uplift.c.campaign_id == campaign.campaign_id,
            )
        ).scalar_one_or_none()
        overlaps = _overlaps(session, campaign)
        attribution = _attribution(session, campaign, subjects, as_of)
    warnings: list[str] = []
    report = pb.CampaignReport(
        as_of=to_timestamp(as_of),
        confidence_level=confidence_level,
        excluded_without_consent=campaign.excluded_without_consent,
        overlaps=[pb.CampaignOverlap(campaign_id=o, subjects=n) for o, n in overlaps],
    )
    if uplift_row is not None:
        report.uplift.ParseFromString(uplift_row)
    if attribution is not None:
        report.attribution.CopyFrom(attribution)
    for other, count in overlaps:
        warnings.append(
            f"{count} subjects are also assigned to campaign {other}: both reports count them"
        )
    shares = campaign.split.expected_shares()
    holdout = len(subjects.arm_ids) - 1
    final = outcomes(subjects)
    counts = np.bincount(subjects.arm, minlength=len(subjects.arm_ids))
    suppressed = {i for i in range(len(subjects.arm_ids)) if 0 < counts[i] < campaign.min_cell_size}
    # --- per-arm results -----------------------------------------------------------------
    arm_subjects = {i: int(counts[i]) for i in range(len(subjects.arm_ids))}
    contacted = sum(arm_subjects[i] for i in range(holdout))
    for i, arm_id in enumerate(subjects.arm_ids):
        is_holdout = i == holdout
        mask = subjects.arm == i
        orders, revenue = final.orders[mask], final.revenue[mask]
        n = arm_subjects[i]
        sends = int(subjects.sends[i])
        cost = 0.0
        if not is_holdout:
            cost = sends * campaign.cost_per_send
            if contacted:
                cost += campaign.fixed_cost * n / contacted
            elif i == 0:
                cost += campaign.fixed_cost
        if i in suppressed:
            report.arms.append(
                pb.ArmResult(arm_id=arm_id, holdout=is_holdout, suppressed=True, cost=cost)
            )
            continue
        converters = int((orders > 0).sum())
        conversions = int(orders.sum())
        total_revenue = float(revenue.sum())
        repurchasers = int((orders >= 2).sum())
        report.arms.append(
            pb.ArmResult(
                arm_id=arm_id,
                holdout=is_holdout,
                subjects=n,
                sends=sends,
                converters=converters,
                conversions=conversions,
                conversion_rate=converters / n if n else 0.0,
                revenue=total_revenue,
                revenue_per_user=total_revenue / n if n else 0.0,
                average_order_value=total_revenue / conversions if conversions else 0.0,
                repurchasers=repurchasers,
                repurchase_rate=repurchasers / converters if converters else 0.0,
                cost=cost,
            )
        )
    # --- SRM over every arm and the holdout -------------------------------------------------
    srm_arms = [
        stats.ArmStatistics(name=arm_id, n=arm_subjects[i], sum=0.0, expected_share=shares[arm_id])
        for i, arm_id in enumerate(subjects.arm_ids)
        if shares[arm_id] > 0
    ]
    if len(srm_arms) >= 2:
        check = stats.srm_check(srm_arms)
        report.srm.CopyFrom(messages.srm(check))
        if check.mismatch:
            warnings.append(
                f"sample ratio mismatch (p = {check.p_value:.2g}): the arms are not the sizes "
                "their weights say; assignment or logging is broken, do not trust these results"
            )
    if not len(subjects.profile_ids):
        warnings.append("no subject is assigned yet")
    # --- lifts against the holdout ------------------------------------------------------------
    comparable = [i for i in range(holdout) if i not in suppressed and arm_subjects[i] > 0]
    if campaign.holdout_share == 0:
        warnings.append("no holdout: lift, incrementality and ROI cannot be measured")
    elif holdout in suppressed or arm_subjects[holdout] == 0:
        warnings.append(
            "the holdout has fewer subjects than the minimum cell size: nothing is compared yet"
        )
    elif comparable:
        for i in sorted(suppressed - {holdout}):
            warnings.append(
                f"arm {subjects.arm_ids[i]} has fewer subjects than the minimum cell size "
                f"({campaign.min_cell_size}): suppressed and not compared"
            )
        results: list[tuple[int, stats.LiftResult]] = []
        analyses: dict[int, stats.AnalyzeResult] = {}
        for metric in campaign.metrics:
            analysis = _compare(
                metric, subjects, final, comparable, holdout, shares, confidence_level
            )
            analyses[metric] = analysis
            for note in analysis.warnings:
                warnings.append(f"{METRIC_NAMES[metric]}: {note}")
            for result in analysis.lifts:
                results.append((metric, result))
                for note in result.warnings:
                    warnings.append(f"{METRIC_NAMES[metric]}, arm {result.arm}: {note}")
        family = [(k, r.p_value) for k, (_, r) in enumerate(results) if r.p_value is not None]
        holm, bh = stats.adjust([p for _, p in family])
        adjusted = {k: (holm[j], bh[j]) for j, (k, _) in enumerate(family)}
        alpha = 1.0 - confidence_level
        for k, (metric, result) in enumerate(results):
            message = messages.lift(result, metric)
            h, b = adjusted.get(k, (1.0, 1.0))
            message.holm_p_value, message.bh_p_value = h, b
            message.significant = h < alpha
            report.lifts.append(message)
        _impacts(report, subjects, final, analyses, comparable, holdout, confidence_level, shares)
        _cumulative(
            report, campaign, subjects, comparable, holdout, shares, as_of, confidence_level
        )
    report.warnings.extend(warnings)
    return report


def _impacts(
    report: pb.CampaignReport,
    subjects: Subjects,
    final: Outcomes,
    analyses: dict[int, stats.AnalyzeResult],
    comparable: list[int],
    holdout: int,
    confidence_level: float,
    shares: dict[str, float],
) -> None:
    """Money per arm from the conversion-rate and revenue-per-user lifts (the report's own
    analyses of them when the campaign reports those metrics)."""
    by_arm = {a.arm_id: a for a in report.arms}
    for metric, field in (
        (pb.METRIC_CONVERSION_RATE, "incremental_conversions"),
        (pb.METRIC_REVENUE_PER_USER, "incremental_revenue"),
    ):
        analysis = analyses.get(metric) or _compare(
            metric, subjects, final, comparable, holdout, shares, confidence_level
        )
        for result in analysis.lifts:
            impact = next((x for x in report.impacts if x.arm_id == result.arm), None)
            if impact is None:
                arm = by_arm[result.arm]
                impact = report.impacts.add(arm_id=result.arm, cost=arm.cost)
            n = by_arm[result.arm].subjects
            getattr(impact, field).CopyFrom(messages.scaled(result.absolute_lift, n))
    for impact in report.impacts:
        gain = impact.incremental_revenue.value
        if impact.cost > 0:
            impact.roi = (gain - impact.cost) / impact.cost
            if impact.incremental_conversions.value > 0:
                impact.cost_per_incremental_conversion = (
                    impact.cost / impact.incremental_conversions.value
                )


def _cumulative(
    report: pb.CampaignReport,
    campaign: CampaignRow,
    subjects: Subjects,
    comparable: list[int],
    holdout: int,
    shares: dict[str, float],
    as_of: datetime,
    confidence_level: float,
) -> None:
    """The primary metric's relative lift at the end of every UTC day (see the module
    docstring); one mixture variance, fixed at the first day with data, serves every look."""
    day = campaign.start_time.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = min(as_of, campaign.end_time + campaign.attribution_window)
    mixture = 0.0
    while day < end:
        day_end = min(day + timedelta(days=1), end)
        point = outcomes(subjects, _epoch(day_end))
        counts = np.bincount(subjects.arm[point.included], minlength=len(subjects.arm_ids))
        day = day + timedelta(days=1)
        if counts[holdout] < 2 or any(counts[i] < 2 for i in comparable):
            continue
        analysis = _compare(
            campaign.primary_metric,
            subjects,
            point,
            comparable,
            holdout,
            shares,
            confidence_level,
            mixture,
        )
        for result in analysis.lifts:
            if result.sequential is not None and mixture == 0.0:
                mixture = result.sequential.mixture_variance
            relative = pb.Estimate(
                value=messages.number(result.relative_lift.value if result.relative_lift else None)
            )
            control = result.control_value
            if result.sequential is not None and control:
                lo = result.sequential.absolute_lift_interval.lower / control
                hi = result.sequential.absolute_lift_interval.upper / control
                if math.isfinite(lo) and math.isfinite(hi):
                    relative.interval.lower, relative.interval.upper = sorted((lo, hi))
            report.cumulative_lift.append(
                pb.LiftPoint(
                    arm_id=result.arm,
                    time=to_timestamp(day_end),
                    subjects=int(counts[subjects.arm_ids.index(result.arm)]),
                    relative_lift=relative,
                )
            )


def _overlaps(session: Session, campaign: CampaignRow) -> list[tuple[str, int]]:
    a = ms_assignments.alias("a")
    b = ms_assignments.alias("b")
    rows = session.execute(
        select(b.c.campaign_id, func.count())
        .select_from(a)
        .join(
            b,
            and_(
                b.c.workspace_id == a.c.workspace_id,
                b.c.profile_id == a.c.profile_id,
                b.c.campaign_id != a.c.campaign_id,
            ),
        )
        .where(a.c.workspace_id == campaign.workspace_id, a.c.campaign_id == campaign.campaign_id)
        .group_by(b.c.campaign_id)
        .order_by(b.c.campaign_id)
    ).all()
    return [(r[0], int(r[1])) for r in rows]


def _attribution(
    session: Session, campaign: CampaignRow, subjects: Subjects, as_of: datetime
) -> pb.ComputeAttributionResponse | None:
    """Journeys of the assigned subjects from assignment to their first conversion in the window
    (or the window's end): the campaign's sends are touches on its channel; other touches are
    the UTM sources of their events. None when nobody is assigned or too many are."""
    n = len(subjects.profile_ids)
    if n == 0 or n > MAX_ATTRIBUTION_JOURNEYS:
        return None
    window = campaign.attribution_window.total_seconds()
    first_conversion: dict[int, tuple[float, float]] = {}
    for i, t, r in zip(
        subjects.conv_subject.tolist(),
        subjects.conv_time.tolist(),
        subjects.conv_revenue.tolist(),
        strict=True,
    ):
        if i not in first_conversion or t < first_conversion[i][0]:
            first_conversion[i] = (t, r)
    touches: dict[int, list[tuple[float, str]]] = {}
    index = {pid: i for i, pid in enumerate(subjects.profile_ids)}
    e, t_, a = ms_exposures.c, ms_touches.c, ms_assignments.c
    own = channel_name(campaign.channel)
    horizon = min(as_of, campaign.end_time + campaign.attribution_window)
    for pid, occurred in session.execute(
        select(e.profile_id, e.occurred_at).where(
            e.workspace_id == campaign.workspace_id,
            e.campaign_id == campaign.campaign_id,
            e.kind == "sent",
            e.occurred_at <= horizon,
        )
    ).all():
        if pid in index:
            touches.setdefault(index[pid], []).append((_epoch(occurred), own))
    for pid, occurred, source, medium in session.execute(
        select(t_.profile_id, t_.occurred_at, t_.source, t_.medium)
        .join(
            ms_assignments,
            and_(
                a.workspace_id == t_.workspace_id,
                a.profile_id == t_.profile_id,
                a.campaign_id == campaign.campaign_id,
            ),
        )
        .where(
            t_.workspace_id == campaign.workspace_id,
            t_.occurred_at >= campaign.start_time,
            t_.occurred_at <= horizon,
        )
    ).all():
        if pid in index:
            touches.setdefault(index[pid], []).append((_epoch(occurred), source or medium))
    journeys: list[Journey] = []
    for i in range(n):
        start = subjects.assigned_at[i]
        converted = first_conversion.get(i)
        stop = converted[0] if converted else start + window
        path = sorted((t, ch) for t, ch in touches.get(i, ()) if start <= t <= stop)
        journeys.append(
            Journey(
                touchpoints=tuple(Touchpoint(ch, datetime.fromtimestamp(t, UTC)) for t, ch in path),
                converted=converted is not None,
                revenue=converted[1] if converted else 0.0,
                conversion_time=datetime.fromtimestamp(converted[0], UTC) if converted else None,
            )
        )
    if not any(j.touchpoints for j in journeys):
        return None
    return messages.attribution_response(compute_attribution(journeys))


def _uplift_outcome(campaign: CampaignRow, result: Outcomes) -> NDArray[np.float64]:
    """The outcome uplift is measured on: revenue when the primary metric is revenue per user,
    otherwise whether the subject converted (0/1)."""
    if campaign.primary_metric == pb.METRIC_REVENUE_PER_USER:
        return result.revenue
    return (result.orders > 0).astype(np.float64)


def campaign_outcomes(
    database: Database, campaign: CampaignRow, as_of: datetime
) -> tuple[list[str], NDArray[np.bool_], NDArray[np.float64]]:
    """(profile ids, treated, primary-metric outcome per subject) for uplift evaluation:
    treated = assigned to any arm, control = the holdout."""
    with database.read() as session:
        subjects = load_subjects(session, campaign, as_of)
    result = outcomes(subjects)
    holdout = len(subjects.arm_ids) - 1
    treated = subjects.arm != holdout
    return subjects.profile_ids, treated, _uplift_outcome(campaign, result)


@dataclass
class CampaignSubjects:
    """A campaign's subjects ordered by profile id, each counted as the report counts it
    (aligned arrays; arm_ids[i] is "holdout" for the holdout, as in the report)."""

    profile_ids: list[str]
    arm_ids: list[str]
    holdout: NDArray[np.bool_]
    assigned_at: NDArray[np.float64]  # epoch seconds
    conversions: NDArray[np.int64]
    revenue: NDArray[np.float64]
    outcome: NDArray[np.float64]  # what campaign_outcomes gives for uplift evaluation


def campaign_subjects(
    database: Database, campaign: CampaignRow, as_of: datetime
) -> CampaignSubjects:
    """Every subject assigned up to ``as_of`` with its conversions and revenue in its window:
    the per-subject numbers whose sums per arm are the report's converters, conversions and
    revenue (before small-cell suppression)."""
    with database.read() as session:
        subjects = load_subjects(session, campaign, as_of)
    result = outcomes(subjects)
    holdout = len(subjects.arm_ids) - 1
    order = np.array(
        sorted(range(len(subjects.profile_ids)), key=subjects.profile_ids.__getitem__),
        dtype=np.int64,
    )
    arm = subjects.arm[order]
    return CampaignSubjects(
        profile_ids=[subjects.profile_ids[i] for i in order.tolist()],
        arm_ids=[subjects.arm_ids[i] for i in arm.tolist()],
        holdout=arm == holdout,
        assigned_at=subjects.assigned_at[order],
        conversions=result.orders[order].astype(np.int64),
        revenue=result.revenue[order],
        outcome=_uplift_outcome(campaign, result)[order],
    )
