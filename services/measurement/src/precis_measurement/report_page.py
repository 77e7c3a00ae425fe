"""A campaign report as one self-contained HTML page: header and checks, tables, and charts drawn
here as inline SVG. No external resource, no script, nothing fetched: the page can be mailed or
archived as it is.

Every string that comes from a user (campaign name and description, arm ids and descriptions,
channel names, warnings, currency) is HTML-escaped; every number goes through a formatter that
prints a dash for NaN or infinity, and chart coordinates only ever come from finite values.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist

from google.protobuf.timestamp_pb2 import Timestamp

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2

DEFAULT_CONFIDENCE = 0.95
DASH = "—"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (yellow left out: too
# light on white). The holdout is always grey.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#332288")
HOLDOUT_COLOUR = "#8C8C8C"
POSITIVE_COLOUR = "#0072B2"
NEGATIVE_COLOUR = "#D55E00"

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "¥", "INR": "₹"}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})

RATE_METRICS = frozenset({pb.METRIC_CONVERSION_RATE, pb.METRIC_REPURCHASE_RATE})
MONEY_METRICS = frozenset({pb.METRIC_REVENUE_PER_USER, pb.METRIC_AVERAGE_ORDER_VALUE})

# Chart geometry, in SVG user units; the SVGs scale to the page width (viewBox).
CHART_WIDTH = 960
CHART_HEIGHT = 340
# Values beyond this are nonsense upstream; charts clamp them so every coordinate stays finite.
CHART_LIMIT = 1e12


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _finite(value: float) -> bool:
    return math.isfinite(value)


# --- numbers --------------------------------------------------------------------------------


def _num(value: float, digits: int = 2) -> str:
    if not _finite(value):
        return DASH
    return f"{value:,.{digits}f}"


def _count(value: int) -> str:
    return f"{value:,}"


def _pct(value: float, *, signed: bool = False) -> str:
    """A share (0.0123) as a percentage ("1.23%"): two decimals below 10%, one above."""
    p = value * 100.0
    if not _finite(p):
        return DASH
    digits = 1 if abs(p) >= 10 else 2
    return f"{p:+,.{digits}f}%" if signed else f"{p:,.{digits}f}%"


def _pp(value: float) -> str:
    """A difference of two rates, in percentage points."""
    points = value * 100.0
    return f"{points:+,.2f} pp" if _finite(points) else DASH


def _money(value: float, currency: str, *, signed: bool = False, digits: int | None = None) -> str:
    """An amount in the campaign's currency ("€1,234.50", "12.00 CHF"); cents are left out of
    large sums (noise there) and of currencies without minor units."""
    if not _finite(value):
        return DASH
    code = currency.upper()
    if digits is None:
        digits = 0 if code in ZERO_DECIMAL_CURRENCIES or abs(value) >= 10_000 else 2
    amount = f"{abs(value):,.{digits}f}"
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol is not None:
        return f"{sign}{symbol}{amount}"
    return f"{sign}{amount} {_esc(code)}" if code else f"{sign}{amount}"


def _p_value(value: float) -> str:
    if not _finite(value):
        return DASH
    return "&lt;0.001" if value < 0.001 else f"{value:.3f}"


def _probability(value: float) -> str:
    """A probability as a percentage that never rounds to a certainty."""
    if _finite(value) and value > 0.999:
        return "&gt;99.9%"
    if _finite(value) and 0 < value < 0.001:
        return "&lt;0.1%"
    return _pct(value)


def _timestamp(ts: Timestamp) -> str:
    if ts.seconds == 0 and ts.nanos == 0:
        return DASH
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _enum_label(name_of: Callable[[int], str], value: int, prefix: str) -> str:
    """CHANNEL_EMAIL -> "Email"; an unset or unknown value -> a dash."""
    try:
        name = name_of(value)
    except ValueError:
        return DASH
    if name.endswith("_UNSPECIFIED"):
        return DASH
    return name.removeprefix(prefix).replace("_", " ").capitalize()


def _metric_label(metric: int) -> str:
    return _enum_label(pb.Metric.Name, metric, "METRIC_")


def _model_label(model: int) -> str:
    return _enum_label(pb.AttributionModel.Name, model, "ATTRIBUTION_MODEL_")


def _level(confidence: float) -> str:
    """A confidence level as people say it: "95%", "99.9%"."""
    return f"{confidence * 100:.4g}%"


def _confidence(report: pb.CampaignReport) -> float:
    level = report.confidence_level
    return level if _finite(level) and 0.0 < level < 1.0 else DEFAULT_CONFIDENCE


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float] | None:
    """Wilson score interval of a proportion; None without trials. Unlike the normal
    approximation it stays inside 0..1 and is sensible at rates near 0, which conversion rates
    are."""
    if trials <= 0 or not 0 <= successes <= trials:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2.0 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# --- SVG mechanics --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Scale:
    """A linear map from a data domain to a pixel range."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        value = min(max(value, -CHART_LIMIT), CHART_LIMIT)
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


def _nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """Round tick values covering lo..hi (1, 2, 2.5 or 5 times a power of ten apart)."""
    lo, hi = max(lo, -CHART_LIMIT), min(hi, CHART_LIMIT)
    if not hi - lo > 1e-9 * max(1.0, abs(lo), abs(hi)):
        pad = abs(lo) * 0.1
        pad = pad if pad > 1e-6 else 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = round((last - first) / step)
    return [first + i * step for i in range(n + 1)]


def _decimals(values: Sequence[float]) -> int:
    """The fewest decimals (up to 4) that print every value exactly: "25%", not "25.0%"."""
    for digits in range(5):
        if all(abs(round(v, digits) - v) < 1e-9 * max(1.0, abs(v)) for v in values):
            return digits
    return 4


def _tick_format(kind: str, ticks: Sequence[float], currency: str = "") -> Callable[[float], str]:
    """Tick labels with as many decimals as the ticks need: "pct", "lift" (signed percent),
    "pp" (percentage points), "money" or "num"."""
    if kind in ("pct", "lift", "pp"):
        digits = _decimals([t * 100.0 for t in ticks])
        unit = " pp" if kind == "pp" else "%"

        def percent(v: float) -> str:
            sign = "+" if kind != "pct" and v > 0 else ""
            return f"{sign}{v * 100.0:,.{digits}f}{unit}"

        return percent
    digits = _decimals(ticks)
    if kind == "money":
        return lambda v: _money(v, currency, signed=True, digits=digits)
    return lambda v: f"{v:,.{digits}f}"


def _xy(x: float, y: float) -> str:
    return f"{x:.1f},{y:.1f}"


def _polyline(points: Sequence[tuple[float, float]]) -> str:
    return "M" + " L".join(_xy(x, y) for x, y in points)


def _fitting(slot: float) -> int:
    """How many characters of a 13px label fit in ``slot`` units (the full name is in a
    tooltip and in the tables)."""
    return max(4, int(slot / 8.0))


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area inside the SVG."""

    left: float = 92.0
    right: float = CHART_WIDTH - 36.0
    top: float = 22.0
    bottom: float = CHART_HEIGHT - 56.0


def _svg(chart: str, title: str, desc: str, body: Iterable[str]) -> str:
    return (
        f'<svg viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="{chart}-title {chart}-desc" preserveAspectRatio="xMidYMid meet">'
        f'<title id="{chart}-title">{_esc(title)}</title>'
        f'<desc id="{chart}-desc">{_esc(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _y_axis(
    frame: _Frame, scale: _Scale, ticks: Sequence[float], fmt: Callable[[float], str], label: str
) -> list[str]:
    parts = ['<g class="axis y-axis">']
    for tick in ticks:
        y = scale(tick)
        parts.append(
            f'<line class="grid" x1="{frame.left:.1f}" x2="{frame.right:.1f}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text x="{frame.left - 8:.1f}" y="{y + 4:.1f}" text-anchor="end">{fmt(tick)}</text>'
        )
    middle = (frame.top + frame.bottom) / 2
    parts.append(
        f'<text class="axis-label" transform="translate(18,{middle:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_esc(label)}</text></g>'
    )
    return parts


def _x_label(frame: _Frame, label: str) -> str:
    middle = (frame.left + frame.right) / 2
    return (
        f'<text class="axis-label" x="{middle:.1f}" y="{CHART_HEIGHT - 8}" '
        f'text-anchor="middle">{_esc(label)}</text>'
    )


def _zero_line(frame: _Frame, y: float) -> str:
    return (
        f'<line class="zero" x1="{frame.left:.1f}" x2="{frame.right:.1f}" '
        f'y1="{y:.1f}" y2="{y:.1f}"/>'
    )


def _legend(entries: Sequence[tuple[str, str, str]]) -> str:
    """A key of (label, colour, kind), kind "line", "dash" or "box", as HTML above the chart, so
    that long arm ids and many entries wrap instead of running off the SVG."""
    items = "".join(
        f'<li><span class="key {kind}" style="--key: {colour}"></span>{_esc(label)}</li>'
        for label, colour, kind in entries
    )
    return f'<ul class="legend">{items}</ul>'


def _figure(chart: str, heading: str, svg: str, caption: str, legend: str = "") -> str:
    return (
        f'<figure class="chart" data-chart="{chart}"><h3>{_esc(heading)}</h3>{legend}{svg}'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _empty_figure(chart: str, heading: str, note: str) -> str:
    return (
        f'<figure class="chart empty" data-chart="{chart}"><h3>{_esc(heading)}</h3>'
        f'<p class="note">{note}</p><figcaption>{_esc(heading)}: nothing to draw.</figcaption>'
        "</figure>"
    )


# --- charts ---------------------------------------------------------------------------------


def _arm_colours(arms: Sequence[pb.ArmResult]) -> dict[str, str]:
    colours: dict[str, str] = {}
    treatment = 0
    for arm in arms:
        if arm.holdout:
            colours[arm.arm_id] = HOLDOUT_COLOUR
        else:
            colours[arm.arm_id] = PALETTE[treatment % len(PALETTE)]
            treatment += 1
    return colours


def _conversion_chart(report: pb.CampaignReport, colours: dict[str, str]) -> str:
    chart, heading = "conversion-by-arm", "Conversion rate by arm"
    arms = list(report.arms)
    if not arms:
        return _empty_figure(chart, heading, "The report has no arms yet: nobody was assigned.")
    confidence = _confidence(report)
    intervals = {
        a.arm_id: None if a.suppressed else wilson_interval(a.converters, a.subjects, confidence)
        for a in arms
    }
    top = max(
        [iv[1] for iv in intervals.values() if iv is not None]
        + [a.conversion_rate for a in arms if not a.suppressed and _finite(a.conversion_rate)]
        + [0.0]
    )
    frame = _Frame()
    ticks = _nice_ticks(0.0, top if top > 0 else 0.01)
    y = _Scale(0.0, ticks[-1], frame.bottom, frame.top)
    body = _y_axis(frame, y, ticks, _tick_format("pct", ticks), "Conversion rate")
    slot = (frame.right - frame.left) / len(arms)
    width = min(120.0, slot * 0.6)
    for i, arm in enumerate(arms):
        centre = frame.left + slot * (i + 0.5)
        x0 = centre - width / 2
        name = _esc(arm.arm_id)
        label = _esc(_truncate(arm.arm_id, _fitting(slot)))
        body.append(
            f'<text class="tick" x="{centre:.1f}" y="{frame.bottom + 20:.1f}" '
            f'text-anchor="middle">{label}</text>'
        )
        if arm.suppressed:
            body.append(
                f'<g class="arm suppressed" data-arm="{name}"><title>{name}: suppressed '
                f"(fewer subjects than the minimum cell size)</title>"
                f'<rect class="bar suppressed" x="{x0:.1f}" y="{frame.top:.1f}" '
                f'width="{width:.1f}" height="{frame.bottom - frame.top:.1f}" '
                f'fill="url(#{chart}-hatch)" stroke="#999" stroke-dasharray="4 3"/>'
                f'<text x="{centre:.1f}" y="{(frame.top + frame.bottom) / 2:.1f}" '
                f'text-anchor="middle" class="muted">suppressed</text></g>'
            )
            continue
        rate = arm.conversion_rate if _finite(arm.conversion_rate) else 0.0
        y_rate = y(rate)
        interval = intervals[arm.arm_id]
        parts = [
            f'<g class="arm" data-arm="{name}"><title>{name}: {_pct(rate)} '
            f"({_count(arm.converters)} of {_count(arm.subjects)})</title>",
            f'<rect class="bar" x="{x0:.1f}" y="{y_rate:.1f}" width="{width:.1f}" '
            f'height="{frame.bottom - y_rate:.1f}" fill="{colours[arm.arm_id]}"/>',
        ]
        label_y = y_rate - 6
        if interval is not None:
            lo, hi = y(interval[0]), y(interval[1])
            cap = width * 0.2
            parts.append(
                f'<path class="error-bar" d="M{centre:.1f},{lo:.1f} V{hi:.1f} '
                f"M{centre - cap:.1f},{lo:.1f} H{centre + cap:.1f} "
                f'M{centre - cap:.1f},{hi:.1f} H{centre + cap:.1f}"/>'
            )
            label_y = hi - 6
        parts.append(
            f'<text class="value" x="{centre:.1f}" y="{label_y:.1f}" '
            f'text-anchor="middle">{_pct(rate)}</text></g>'
        )
        body.extend(parts)
    svg = _svg(
        chart,
        heading,
        "Bars: each arm's conversion rate; whiskers: its confidence interval.",
        [_defs(chart, frame), *body],
    )
    caption = (
        f"Converters over subjects per arm, the holdout in grey. Whiskers: "
        f"{_level(confidence)} Wilson intervals of each arm's rate. Suppressed arms (fewer "
        "subjects than the minimum cell size) are shown hatched, without a value."
    )
    return _figure(chart, heading, svg, caption)


def _defs(chart: str, frame: _Frame) -> str:
    """The hatch of suppressed bars and the clip of the plot area, with ids unique per chart."""
    return (
        f'<defs><pattern id="{chart}-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#f4f4f4"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#c8c8c8" stroke-width="3"/></pattern>'
        f'<clipPath id="{chart}-clip"><rect x="{frame.left}" y="{frame.top}" '
        f'width="{frame.right - frame.left}" height="{frame.bottom - frame.top}"/></clipPath>'
        "</defs>"
    )


def _cumulative_chart(report: pb.CampaignReport, colours: dict[str, str]) -> str:
    chart, heading = "cumulative-lift", "Cumulative relative lift over time"
    by_arm: dict[str, list[pb.LiftPoint]] = {}
    for point in report.cumulative_lift:
        value = point.relative_lift.value
        if point.time.seconds and _finite(value):
            by_arm.setdefault(point.arm_id, []).append(point)
    if not by_arm:
        reason = (
            "There is no holdout, so lift cannot be measured."
            if not any(a.holdout for a in report.arms)
            else "No daily points yet: the campaign has not completed a day with data."
        )
        return _empty_figure(chart, heading, reason)
    for points in by_arm.values():
        points.sort(key=lambda p: p.time.seconds)
    times = [p.time.seconds for points in by_arm.values() for p in points]
    t0, t1 = min(times), max(times)
    values = [p.relative_lift.value for points in by_arm.values() for p in points]
    # Always-valid intervals are very wide in the first days; the axis follows the lift itself
    # (and the intervals up to a limit) so the lines stay readable, and bands are clipped.
    reach = max(max(abs(v) for v in values), 0.01) * 2.0
    bounds = [
        b
        for points in by_arm.values()
        for p in points
        if p.relative_lift.HasField("interval")
        for b in (p.relative_lift.interval.lower, p.relative_lift.interval.upper)
        if _finite(b)
    ]
    lo = max(min([*values, *bounds, 0.0]), -reach)
    hi = min(max([*values, *bounds, 0.0]), reach)
    frame = _Frame()
    ticks = _nice_ticks(lo, hi)
    y = _Scale(ticks[0], ticks[-1], frame.bottom, frame.top)
    span = t1 - t0
    x = _Scale(float(t0), float(t1 if span else t0 + 1), frame.left + 8, frame.right - 8)
    body = [
        _defs(chart, frame),
        *_y_axis(frame, y, ticks, _tick_format("lift", ticks), "Relative lift"),
    ]
    days = sorted(set(times))
    every = max(1, math.ceil(len(days) / 10))
    for day in days[::every]:
        # A point closes its day: at midnight it belongs to the day before.
        label = datetime.fromtimestamp(day - 1, tz=UTC).strftime("%b %-d")
        body.append(
            f'<text class="tick" x="{x(day):.1f}" y="{frame.bottom + 20:.1f}" '
            f'text-anchor="middle">{label}</text>'
        )
    body.append(_zero_line(frame, y(0.0)))
    keys: list[tuple[str, str, str]] = []
    for arm_id, points in by_arm.items():
        colour = colours.get(arm_id, PALETTE[len(keys) % len(PALETTE)])
        keys.append((arm_id, colour, "line"))
        band = [
            p
            for p in points
            if p.relative_lift.HasField("interval")
            and _finite(p.relative_lift.interval.lower)
            and _finite(p.relative_lift.interval.upper)
        ]
        if band:
            upper = [(x(p.time.seconds), y(p.relative_lift.interval.upper)) for p in band]
            lower = [(x(p.time.seconds), y(p.relative_lift.interval.lower)) for p in band]
            body.append(
                f'<path class="band" data-arm="{_esc(arm_id)}" clip-path="url(#{chart}-clip)" '
                f'fill="{colour}" fill-opacity="0.13" d="{_polyline(upper + lower[::-1])} Z"/>'
            )
        line = [(x(p.time.seconds), y(p.relative_lift.value)) for p in points]
        body.append(
            f'<path class="line" data-arm="{_esc(arm_id)}" data-points="{len(line)}" '
            f'clip-path="url(#{chart}-clip)" stroke="{colour}" d="{_polyline(line)}"/>'
        )
        last = points[-1]
        body.append(
            f'<circle cx="{line[-1][0]:.1f}" cy="{line[-1][1]:.1f}" r="4" fill="{colour}">'
            f"<title>{_esc(arm_id)}: {_pct(last.relative_lift.value, signed=True)} on "
            f"{_timestamp(last.time)}</title></circle>"
        )
    legend = _legend(keys)
    body.append(_x_label(frame, "Day (cumulative since the start)"))
    svg = _svg(chart, heading, "Lines: relative lift of each arm; bands: its interval.", body)
    caption = (
        f"Relative lift of each arm against the holdout on the primary metric "
        f"({_esc(_metric_label(report.campaign.primary_metric))}), cumulative since the start, "
        "with its always-valid interval as a band (valid however often it is looked at; "
        "clipped at the chart's edge in the first days). The dark line is no lift."
    )
    return _figure(chart, heading, svg, caption, legend)


def _outcome_kind(report: pb.CampaignReport) -> tuple[str, str]:
    """How a difference of mean outcomes of the uplift evaluation is printed, and its label:
    the outcomes are the primary metric's, money or conversions (0/1, so a rate)."""
    if report.campaign.primary_metric in MONEY_METRICS:
        return "money", "Uplift (revenue per subject)"
    return "pp", "Uplift (treated - control)"


def _has_uplift(report: pb.CampaignReport) -> bool:
    return report.HasField("uplift") and report.uplift.treated + report.uplift.control > 0


_NO_UPLIFT = (
    "No uplift evaluation has been run for this campaign: evaluate the targeting model's scores "
    "against its outcomes (EvaluateUplift) to see how well it ranked subjects."
)


def _decile_lift_chart(report: pb.CampaignReport) -> str:
    chart, heading = "lift-by-decile", "Uplift by score decile"
    deciles = list(report.uplift.deciles) if _has_uplift(report) else []
    if not deciles or not any(d.treated + d.control for d in deciles):
        return _empty_figure(chart, heading, _NO_UPLIFT if not _has_uplift(report) else _NO_DECILES)
    kind, label = _outcome_kind(report)
    currency = report.campaign.currency

    def fmt(v: float) -> str:
        return _money(v, currency, signed=True) if kind == "money" else _pp(v)

    compared = [d for d in deciles if d.treated and d.control and _finite(d.uplift)]
    values = [d.uplift for d in compared] + [0.0]
    frame = _Frame()
    ticks = _nice_ticks(min(values), max(values))
    y = _Scale(ticks[0], ticks[-1], frame.bottom, frame.top)
    body = _y_axis(frame, y, ticks, _tick_format(kind, ticks, currency), label)
    slot = (frame.right - frame.left) / len(deciles)
    width = slot * 0.7
    zero = y(0.0)
    for d in deciles:
        centre = frame.left + slot * (d.decile - 0.5)
        body.append(
            f'<text class="tick" x="{centre:.1f}" y="{frame.bottom + 20:.1f}" '
            f'text-anchor="middle">{d.decile}</text>'
        )
        counts = f"{_count(d.treated)} treated, {_count(d.control)} control"
        if d in compared:
            top, bottom = sorted((y(d.uplift), zero))
            colour = POSITIVE_COLOUR if d.uplift >= 0 else NEGATIVE_COLOUR
            label_y = top - 6 if d.uplift >= 0 else bottom + 15
            body.append(
                f'<text class="value small" x="{centre:.1f}" y="{label_y:.1f}" '
                f'text-anchor="middle">{fmt(d.uplift)}</text>'
            )
            body.append(
                f'<rect class="bar" data-decile="{d.decile}" x="{centre - width / 2:.1f}" '
                f'y="{top:.1f}" width="{width:.1f}" height="{max(bottom - top, 0.5):.1f}" '
                f'fill="{colour}"><title>Decile {d.decile}: {fmt(d.uplift)} ({counts})</title>'
                "</rect>"
            )
        else:
            body.append(
                f'<text class="muted" x="{centre:.1f}" y="{zero - 6:.1f}" text-anchor="middle">'
                f"n/a<title>Decile {d.decile}: no comparison ({counts})</title></text>"
            )
    body.append(_zero_line(frame, zero))
    body.append(_x_label(frame, "Score decile (1 = highest scores)"))
    svg = _svg(chart, heading, "Bars: treated minus control mean outcome per decile.", body)
    caption = (
        "Treated mean outcome minus control mean outcome in each tenth of the subjects by the "
        "model's score, highest scores first. A good model's bars fall from left to right; "
        "n/a marks a decile without both treated and control subjects."
    )
    return _figure(chart, heading, svg, caption)


_NO_DECILES = "The uplift evaluation has no deciles (it predates them); re-run EvaluateUplift."


def _gain_chart(report: pb.CampaignReport) -> str:
    chart, heading = "gain-by-decile", "Cumulative gain by score decile"
    deciles = list(report.uplift.deciles) if _has_uplift(report) else []
    if not deciles or not any(d.treated + d.control for d in deciles):
        return _empty_figure(chart, heading, _NO_UPLIFT if not _has_uplift(report) else _NO_DECILES)
    if not any(d.cumulative_gain for d in deciles):
        return _empty_figure(
            chart,
            heading,
            "The deciles' incremental outcomes do not add up to a positive total, so there is "
            "no gain to share out: the campaign caused nothing measurable among these subjects.",
        )
    total = sum(d.treated + d.control for d in deciles)
    points = [(0.0, 0.0)]
    seen = 0
    for d in deciles:
        seen += d.treated + d.control
        if _finite(d.cumulative_gain):
            points.append((seen / total, d.cumulative_gain))
    values = [g for _, g in points] + [1.0]
    frame = _Frame()
    ticks = _nice_ticks(min(values), max(values))
    y = _Scale(ticks[0], ticks[-1], frame.bottom, frame.top)
    x = _Scale(0.0, 1.0, frame.left, frame.right)
    body = _y_axis(frame, y, ticks, _tick_format("pct", ticks), "Share of the gain")
    body += _fraction_ticks(frame, x)
    body.append(
        f'<path class="random" d="{_polyline([(x(0), y(0)), (x(1), y(1))])}" '
        f'stroke="{HOLDOUT_COLOUR}"/>'
    )
    line = [(x(f), y(g)) for f, g in points]
    body.append(
        f'<path class="curve gain" data-points="{len(line)}" stroke="{POSITIVE_COLOUR}" '
        f'd="{_polyline(line)}"/>'
    )
    for (px, py), (f, g) in zip(line[1:], points[1:], strict=True):
        body.append(
            f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{POSITIVE_COLOUR}">'
            f"<title>Top {_pct(f)}: {_pct(g)} of the gain</title></circle>"
        )
    legend = _legend(
        [("Model ranking", POSITIVE_COLOUR, "line"), ("Random", HOLDOUT_COLOUR, "dash")]
    )
    body.append(_x_label(frame, "Subjects targeted, highest scores first"))
    svg = _svg(chart, heading, "Curve: cumulative share of the gain; dashed: random.", body)
    caption = (
        "Share of all incremental outcomes (uplift times subjects) captured by targeting the top "
        "deciles, against the diagonal of random targeting. The higher above the diagonal, the "
        "better the ranking; above 100% means later deciles lose some of it again."
    )
    return _figure(chart, heading, svg, caption, legend)


def _fraction_ticks(frame: _Frame, x: _Scale) -> list[str]:
    """0%, 10%, .. 100% along an x axis of fractions targeted."""
    return [
        f'<text class="tick" x="{x(i / 10):.1f}" y="{frame.bottom + 20:.1f}" '
        f'text-anchor="middle">{i * 10}%</text>'
        for i in range(11)
    ]


def _significant(value: float, digits: int = 4) -> str:
    """A number in outcome units with ``digits`` significant digits."""
    if not _finite(value):
        return DASH
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _qini_chart(report: pb.CampaignReport) -> str:
    chart, heading = "qini", "Qini curve"
    if not _has_uplift(report):
        return _empty_figure(chart, heading, _NO_UPLIFT)
    curve = [
        p
        for p in report.uplift.curve
        if _finite(p.fraction) and _finite(p.qini) and _finite(p.qini_random)
    ]
    if len(curve) < 2:
        return _empty_figure(chart, heading, "The uplift evaluation has no curve points.")
    values = [p.qini for p in curve] + [p.qini_random for p in curve] + [0.0]
    frame = _Frame()
    ticks = _nice_ticks(min(values), max(values))
    y = _Scale(ticks[0], ticks[-1], frame.bottom, frame.top)
    x = _Scale(0.0, 1.0, frame.left, frame.right)
    label = (
        "Incremental revenue" if _outcome_kind(report)[0] == "money" else "Incremental conversions"
    )
    body = _y_axis(frame, y, ticks, _tick_format("num", ticks), label)
    body += _fraction_ticks(frame, x)
    body.append(_zero_line(frame, y(0.0)))
    random_line = [(x(p.fraction), y(p.qini_random)) for p in curve]
    body.append(f'<path class="random" d="{_polyline(random_line)}" stroke="{HOLDOUT_COLOUR}"/>')
    line = [(x(p.fraction), y(p.qini)) for p in curve]
    body.append(
        f'<path class="curve qini" data-points="{len(line)}" stroke="{POSITIVE_COLOUR}" '
        f'd="{_polyline(line)}"/>'
    )
    for (px, py), p in zip(line, curve, strict=True):
        body.append(
            f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{POSITIVE_COLOUR}">'
            f"<title>Top {_pct(p.fraction)}: {_num(p.qini)}</title></circle>"
        )
    legend = _legend(
        [("Qini curve", POSITIVE_COLOUR, "line"), ("Random targeting", HOLDOUT_COLOUR, "dash")]
    )
    body.append(_x_label(frame, "Subjects targeted, highest scores first"))
    svg = _svg(chart, heading, "Qini curve of the model against random targeting.", body)
    u = report.uplift
    caption = (
        f"Incremental outcomes if only the top fraction had been treated. Qini coefficient "
        f"<strong>{_num(u.qini_coefficient, 3)}</strong> (1 = perfect ranking, 0 = random); "
        f"AUUC {_significant(u.auuc)} against {_significant(u.random_auuc)} for random targeting; "
        f"{_count(u.treated)} treated and {_count(u.control)} control subjects."
    )
    return _figure(chart, heading, svg, caption, legend)


def _attribution_chart(report: pb.CampaignReport) -> str:
    chart, heading = "attribution", "Attribution of conversions by channel"
    results = [
        r for r in report.attribution.results if any(_finite(c.conversions) for c in r.credits)
    ]
    if not report.HasField("attribution") or not results:
        return _empty_figure(
            chart,
            heading,
            "No attribution was computed: no conversions with touches in the campaign's window.",
        )
    totals: dict[str, float] = {}
    for result in results:
        for credit in result.credits:
            if _finite(credit.conversions):
                totals[credit.channel] = totals.get(credit.channel, 0.0) + credit.conversions
    channels = sorted(totals, key=lambda c: (-totals[c], c))
    credit_of = {
        (r.model, c.channel): c.conversions
        for r in results
        for c in r.credits
        if _finite(c.conversions)
    }
    values = [*credit_of.values(), 0.0]
    frame = _Frame()
    ticks = _nice_ticks(min(values), max(values))
    y = _Scale(ticks[0], ticks[-1], frame.bottom, frame.top)
    body = _y_axis(frame, y, ticks, _tick_format("num", ticks), "Conversions credited")
    slot = (frame.right - frame.left) / len(channels)
    group = slot * 0.8
    width = group / len(results)
    zero = y(0.0)
    for i, channel in enumerate(channels):
        left = frame.left + slot * i + (slot - group) / 2
        body.append(
            f'<text class="tick" x="{left + group / 2:.1f}" y="{frame.bottom + 20:.1f}" '
            f'text-anchor="middle">{_esc(_truncate(channel or "(none)", _fitting(slot)))}</text>'
        )
        for j, result in enumerate(results):
            value = credit_of.get((result.model, channel))
            if value is None:
                continue
            top, bottom = sorted((y(value), zero))
            body.append(
                f'<rect class="bar" data-model="{_esc(_model_label(result.model))}" '
                f'data-channel="{_esc(channel)}" x="{left + j * width + 1:.1f}" y="{top:.1f}" '
                f'width="{max(width - 2, 1):.1f}" height="{max(bottom - top, 0.5):.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_esc(channel)}, '
                f"{_esc(_model_label(result.model))}: {_num(value, 1)}</title></rect>"
            )
    body.append(_zero_line(frame, zero))
    legend = _legend(
        [(_model_label(r.model), PALETTE[j % len(PALETTE)], "box") for j, r in enumerate(results)]
    )
    body.append(_x_label(frame, "Channel"))
    svg = _svg(chart, heading, "Grouped bars: conversions credited per channel and model.", body)
    a = report.attribution
    caption = (
        f"Conversions credited to each channel under each attribution model "
        f"({_count(a.conversions)} converting of {_count(a.journeys)} journeys, revenue "
        f"{_money(a.revenue, report.campaign.currency)}). The models agree where the bars of a "
        "channel are level."
    )
    return _figure(chart, heading, svg, caption, legend)


# --- tables ---------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str) -> str:
    """A table; a row of one cell is a heading spanning the table (a group of rows)."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(
        f'<tr class="group"><th colspan="{len(headers)}">{row[0]}</th></tr>'
        if len(row) == 1
        else "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-scroll"><table class="{css}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _with_interval(value: str, lower: str, upper: str) -> str:
    return f'{value}<span class="ci">[{lower}, {upper}]</span>'


def _arm_table(report: pb.CampaignReport, colours: dict[str, str]) -> str:
    if not report.arms:
        return '<p class="note">No arm has results yet.</p>'
    currency = report.campaign.currency
    confidence = _confidence(report)
    descriptions = {a.arm_id: a.description for a in report.campaign.arms}
    rows = []
    for arm in report.arms:
        about = "not contacted" if arm.holdout else descriptions.get(arm.arm_id, "")
        name = (
            f'<span class="arm-id"><span class="swatch" style="background:'
            f'{colours[arm.arm_id]}"></span><strong>{_esc(arm.arm_id)}</strong></span>'
            + (f'<span class="sub">{_esc(about)}</span>' if about else "")
        )
        cells = [name, _count(arm.subjects)]
        if arm.suppressed:
            cells += ['<span class="muted">suppressed</span>'] * 8
        else:
            interval = wilson_interval(arm.converters, arm.subjects, confidence)
            rate = _pct(arm.conversion_rate)
            if interval is not None:
                rate = _with_interval(rate, _pct(interval[0]), _pct(interval[1]))
            cells += [
                DASH if arm.holdout else _count(arm.sends),
                _count(arm.converters),
                rate,
                _count(arm.conversions),
                _money(arm.revenue, currency),
                _money(arm.revenue_per_user, currency),
                _money(arm.average_order_value, currency),
                _pct(arm.repurchase_rate),
            ]
        cells.append(DASH if arm.holdout else _money(arm.cost, currency))
        rows.append(cells)
    headers = [
        "Arm",
        "Subjects",
        "Sends",
        "Converters",
        "Conversion rate",
        "Orders",
        "Revenue",
        "Revenue / subject",
        "Avg. order value",
        "Repurchase rate",
        "Cost",
    ]
    return _table(headers, rows, "arms numeric")


def _metric_value(metric: int, value: float, currency: str) -> str:
    if metric in RATE_METRICS:
        return _pct(value)
    if metric in MONEY_METRICS:
        return _money(value, currency)
    return _num(value, 4)


def _metric_difference(metric: int, value: float, currency: str) -> str:
    if metric in RATE_METRICS:
        return _pp(value)
    if metric in MONEY_METRICS:
        return _money(value, currency, signed=True)
    return _num(value, 4)


def _signed_class(value: float) -> str:
    return "pos" if value > 0 else ("neg" if value < 0 else "")


def _lift_row(lift: pb.LiftResult, currency: str) -> list[str]:
    metric = lift.metric
    a, r = lift.absolute_lift, lift.relative_lift
    absolute = _with_interval(
        _metric_difference(metric, a.value, currency),
        _metric_difference(metric, a.interval.lower, currency),
        _metric_difference(metric, a.interval.upper, currency),
    )
    relative = _with_interval(
        f'<span class="{_signed_class(r.value)}">{_pct(r.value, signed=True)}</span>',
        _pct(r.interval.lower, signed=True),
        _pct(r.interval.upper, signed=True),
    )
    significant = (
        '<span class="badge yes">yes</span>'
        if lift.significant
        else '<span class="badge no">no</span>'
    )
    cuped = DASH
    if lift.HasField("cuped"):
        c = lift.cuped
        cuped = (
            f"{_pct(c.relative_lift.value, signed=True)}"
            f'<span class="ci">p {_p_value(c.p_value)}</span>'
            f'<span class="ci">variance -{_pct(c.variance_reduction)}</span>'
        )
    sequential = DASH
    if lift.HasField("sequential"):
        s = lift.sequential
        stop = "can stop" if s.can_stop else "keep running"
        sequential = f'{_p_value(s.p_value)}<span class="ci">{stop}</span>'
    return [
        f'<strong class="arm-id">{_esc(lift.arm)}</strong>',
        f"{_metric_value(metric, lift.treatment_value, currency)}"
        f'<span class="ci">holdout {_metric_value(metric, lift.control_value, currency)}</span>',
        absolute,
        relative,
        f'{_p_value(lift.p_value)}<span class="ci">Holm {_p_value(lift.holm_p_value)}</span>'
        f'<span class="ci">BH {_p_value(lift.bh_p_value)}</span>',
        significant,
        cuped,
        sequential,
        _probability(lift.chance_to_win),
    ]


def _lift_table(report: pb.CampaignReport) -> str:
    if not report.lifts:
        return (
            '<p class="note">No comparison with a holdout: without a holdout (or before it has '
            "subjects) lift cannot be measured.</p>"
        )
    currency = report.campaign.currency
    metrics = list(dict.fromkeys(lift.metric for lift in report.lifts))
    rows: list[list[str]] = []
    for metric in metrics:
        rows.append([_esc(_metric_label(metric)) if metric else "Primary metric"])
        rows += [_lift_row(lift, currency) for lift in report.lifts if lift.metric == metric]
    headers = [
        "Arm",
        "Arm vs holdout",
        "Absolute lift",
        "Relative lift",
        "p (adjusted)",
        "Significant",
        "CUPED",
        "Sequential p",
        "Chance to win",
    ]
    return _table(headers, rows, "lifts numeric") + (
        '<p class="note">p (adjusted): two-sided p-value, then adjusted by Holm and by '
        "Benjamini-Hochberg across every arm and metric. Significant: Holm-adjusted p below "
        f"{_num(1 - _confidence(report), 3)}. CUPED: relative lift adjusted with the pre-period, "
        "and the variance it removed. Sequential p: always valid, safe to read at any time. "
        "Chance to win: the posterior probability that the arm beats the holdout.</p>"
    )


def _impact_table(report: pb.CampaignReport) -> str:
    if not report.impacts:
        return '<p class="note">No impact without a holdout to compare with.</p>'
    currency = report.campaign.currency
    rows = []
    for impact in report.impacts:
        conv, rev = impact.incremental_conversions, impact.incremental_revenue
        per_conversion = impact.cost_per_incremental_conversion
        rows.append(
            [
                f"<strong>{_esc(impact.arm_id)}</strong>",
                _with_interval(
                    _num(conv.value, 1), _num(conv.interval.lower, 1), _num(conv.interval.upper, 1)
                ),
                _with_interval(
                    _money(rev.value, currency, signed=True),
                    _money(rev.interval.lower, currency, signed=True),
                    _money(rev.interval.upper, currency, signed=True),
                ),
                _money(impact.cost, currency),
                f'<span class="{_signed_class(impact.roi)}">'
                f"{_pct(impact.roi, signed=True) if impact.cost else DASH}</span>",
                _money(per_conversion, currency) if per_conversion else DASH,
            ]
        )
    headers = [
        "Arm",
        "Incremental conversions",
        "Incremental revenue",
        "Cost",
        "ROI",
        "Cost per incremental conversion",
    ]
    return _table(headers, rows, "impacts numeric")


def _attribution_table(report: pb.CampaignReport) -> str:
    results = list(report.attribution.results)
    if not results:
        return ""
    channels: list[str] = []
    for result in results:
        for credit in result.credits:
            if credit.channel not in channels:
                channels.append(credit.channel)
    share = {(r.model, c.channel): c for r in results for c in r.credits}
    rows = []
    for channel in channels:
        cells = [f"<strong>{_esc(channel or '(none)')}</strong>"]
        for result in results:
            found = share.get((result.model, channel))
            cells.append(
                DASH
                if found is None
                else f'{_num(found.conversions, 1)}<span class="ci">{_pct(found.share)}</span>'
            )
        rows.append(cells)
    headers = ["Channel", *(_esc(_model_label(r.model)) for r in results)]
    return _table(headers, rows, "attribution numeric")


# --- header ---------------------------------------------------------------------------------


def _srm_verdict(report: pb.CampaignReport) -> str:
    if not report.HasField("srm") or not report.srm.arms:
        return (
            '<p class="srm unknown">Sample ratio: not checked (it needs two or more groups '
            "with subjects: arms and the holdout).</p>"
        )
    srm = report.srm
    stats = (
        f"χ² = {_num(srm.chi_square, 2)}, df = {srm.degrees_of_freedom}, "
        f"p {'' if srm.p_value < 0.001 else '= '}{_p_value(srm.p_value)}"
    )
    if srm.mismatch:
        return (
            '<p class="srm mismatch"><strong>Sample ratio mismatch</strong> '
            f"({stats}): the arms are not the sizes their weights say, so assignment or logging "
            "is broken. Do not trust these results.</p>"
        )
    return f'<p class="srm ok"><strong>No sample ratio mismatch</strong> ({stats}).</p>'


def _header(report: pb.CampaignReport) -> str:
    campaign = report.campaign
    name = campaign.name or campaign.campaign_id or "Untitled campaign"
    facts = [
        ("Channel", _enum_label(segmentation_pb2.Channel.Name, campaign.channel, "CHANNEL_")),
        ("Status", _enum_label(pb.CampaignStatus.Name, campaign.status, "CAMPAIGN_STATUS_")),
        ("Data as of", _timestamp(report.as_of)),
        ("Confidence level", _level(_confidence(report))),
        ("Primary metric", _metric_label(campaign.primary_metric)),
        ("Runs", f"{_timestamp(campaign.start_time)} to {_timestamp(campaign.end_time)}"),
        ("Holdout share", _pct(campaign.holdout_share) if campaign.holdout_share else "none"),
        ("Withheld without consent", _count(report.excluded_without_consent)),
    ]
    items = "".join(f"<div><dt>{_esc(k)}</dt><dd>{_esc(v)}</dd></div>" for k, v in facts)
    parts = [
        "<header>",
        '<p class="kicker">Campaign report</p>',
        f"<h1>{_esc(name)}</h1>",
    ]
    if campaign.description:
        parts.append(f'<p class="description">{_esc(campaign.description)}</p>')
    parts.append(f'<dl class="facts">{items}</dl>')
    if report.warnings:
        warnings = "".join(f"<li>{_esc(w)}</li>" for w in report.warnings)
        parts.append(
            f'<section class="warnings" role="alert"><h2>Warnings</h2><ul>{warnings}</ul></section>'
        )
    parts.append(_srm_verdict(report))
    if report.overlaps:
        overlaps = ", ".join(
            f"{_esc(o.campaign_id)} ({_count(o.subjects)} subjects)" for o in report.overlaps
        )
        parts.append(f'<p class="note">Subjects shared with other campaigns: {overlaps}.</p>')
    parts.append("</header>")
    return "".join(parts)


# --- the page -------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5d6678; --line: #dde1e8;
  --bg: #f6f7f9; --card: #ffffff; --pos: #0b6e4f; --neg: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 48px; }
header, section.card { background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; padding: 20px 20px; margin-bottom: 20px; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
  color: var(--muted); }
h1 { margin: 4px 0 6px; font-size: 26px; overflow-wrap: anywhere; }
h2 { font-size: 18px; margin: 0 0 12px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.description { margin: 0 0 12px; color: var(--muted); }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
  gap: 10px 20px; margin: 12px 0; }
dl.facts dt { font-size: 12px; color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
.warnings { background: #fff4e5; border: 1px solid #f0a44b; border-left: 6px solid #e07b00;
  border-radius: 8px; padding: 10px 16px; margin: 12px 0; }
.warnings h2 { font-size: 15px; margin: 0 0 4px; color: #8a4b00; }
.warnings ul { margin: 0; padding-left: 20px; }
.srm { border-radius: 8px; padding: 8px 14px; margin: 12px 0 0; }
.srm.ok { background: #e8f5ee; border: 1px solid #9fd3b6; }
.srm.mismatch { background: #fdecea; border: 1px solid #e8a29c; border-left: 6px solid #b3261e; }
.srm.unknown { background: #eef0f4; border: 1px solid var(--line); }
.table-scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table { font-size: 13px; }
th, td { padding: 6px 7px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-align: left;
  background: #fafbfc; vertical-align: bottom; }
table.numeric td:nth-child(n+2), table.numeric th:nth-child(n+2) { text-align: right; }
tr.group th { text-align: left; color: var(--ink); font-size: 13px; background: #eef2f7;
  padding-top: 8px; }
.arm-id { white-space: nowrap; }
.sub { display: block; font-size: 12px; color: var(--muted); max-width: 220px; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.ci { display: block; font-size: 11.5px; color: var(--muted); white-space: nowrap; }
.pos { color: var(--pos); font-weight: 600; }
.neg { color: var(--neg); font-weight: 600; }
.muted { color: var(--muted); fill: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; }
.badge.yes { background: #e1f3ea; color: var(--pos); }
.badge.no { background: #eef0f4; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 6px; }
.note { color: var(--muted); }
.charts { display: grid; grid-template-columns: 1fr; gap: 20px; }
figure.chart { margin: 0; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; padding: 16px 20px; }
figure.chart.empty { background: #fbfbfc; border-style: dashed; }
figure.chart.empty .note { margin: 8px 0; padding: 18px; text-align: center;
  background: #f1f3f6; border-radius: 8px; }
figure.chart svg { display: block; width: 100%; height: auto; overflow: visible; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0 0 4px;
  padding: 0 0 0 70px; font-size: 13px; color: #3b4252; }
ul.legend li { display: flex; align-items: center; gap: 6px; overflow-wrap: anywhere; }
.key { flex: none; display: inline-block; width: 18px; }
.key.box { height: 12px; background: var(--key); border-radius: 2px; width: 14px; }
.key.line { border-top: 3px solid var(--key); }
.key.dash { border-top: 3px dashed var(--key); }
svg text { font-size: 13px; fill: #3b4252; }
svg .axis-label { font-size: 13px; fill: var(--muted); }
svg .value { font-weight: 600; fill: var(--ink); }
svg .value.small { font-size: 11.5px; font-weight: 500; }
svg .grid { stroke: #e6e9ef; stroke-width: 1; }
svg .zero { stroke: #4a5160; stroke-width: 1.5; }
svg .error-bar { stroke: #1d2330; stroke-width: 2; fill: none; }
svg .line, svg .curve { fill: none; stroke-width: 2.5; stroke-linejoin: round; }
svg .random { fill: none; stroke-width: 2; stroke-dasharray: 6 4; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media print { body { background: #fff; } header, section.card, figure.chart {
  break-inside: avoid; } }
"""


def render_report_page(report: pb.CampaignReport) -> bytes:
    """The report as a self-contained UTF-8 HTML page (inline CSS and SVG, no script)."""
    colours = _arm_colours(report.arms)
    name = report.campaign.name or report.campaign.campaign_id or "Untitled campaign"
    charts = [
        _conversion_chart(report, colours),
        _cumulative_chart(report, colours),
        _decile_lift_chart(report),
        _gain_chart(report),
        _qini_chart(report),
        _attribution_chart(report),
    ]
    attribution = _attribution_table(report)
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing on the page is fetched; the policy makes sure nothing ever is.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_esc(name)} · campaign report</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _header(report),
        '<section class="card"><h2>Arms</h2>',
        _arm_table(report, colours),
        "</section>",
        '<section class="card"><h2>Lift against the holdout</h2>',
        _lift_table(report),
        "</section>",
        '<section class="card"><h2>Impact and return</h2>',
        _impact_table(report),
        "</section>",
        '<section class="charts">',
        *charts,
        "</section>",
    ]
    if attribution:
        page += [
            '<section class="card"><h2>Attribution by model</h2>',
            attribution,
            '<p class="note">Credited conversions, and each channel\'s share under the model.</p>',
            "</section>",
        ]
    page.append(
        f"<footer>Generated by Precis from the report as of {_esc(_timestamp(report.as_of))}."
        "</footer></main></body></html>"
    )
    return "".join(page).encode("utf-8")
