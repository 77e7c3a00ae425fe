"""The campaign report page: HTML checks on hand-built reports (escaping, self-containment, no
NaN, empty data explained), then the page rendered in headless Chromium and measured there.

The browser test needs the Debian packages chromium and chromium-driver; without them it skips,
unless PRECIS_REQUIRE_BROWSER=1 (set by CI, which installs them), where it fails.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from precis.measurement.v1 import measurement_pb2 as pb
from precis.segmentation.v1 import segmentation_pb2
from precis_measurement.report_page import render_report_page, wilson_interval
from precis_uplift import UpliftEvaluation, evaluate_uplift

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHARTS = (
    "conversion-by-arm",
    "cumulative-lift",
    "lift-by-decile",
    "gain-by-decile",
    "qini",
    "attribution",
)
START = datetime(2026, 3, 2, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"

# --- reports built by hand ------------------------------------------------------------------


def _estimate(value: float, half_width: float) -> pb.Estimate:
    return pb.Estimate(
        value=value,
        interval=pb.ConfidenceInterval(lower=value - half_width, upper=value + half_width),
    )


def _arm(
    arm_id: str, subjects: int, converters: int, revenue: float, *, holdout: bool = False
) -> pb.ArmResult:
    conversions = round(converters * 1.18)
    return pb.ArmResult(
        arm_id=arm_id,
        holdout=holdout,
        subjects=subjects,
        sends=0 if holdout else subjects,
        converters=converters,
        conversions=conversions,
        conversion_rate=converters / subjects,
        revenue=revenue,
        revenue_per_user=revenue / subjects,
        average_order_value=revenue / conversions,
        repurchasers=round(converters * 0.15),
        repurchase_rate=0.15,
        cost=0.0 if holdout else subjects * 0.02 + 400.0,
    )


def _lift(
    arm: str, metric: int, control: float, treatment: float, p: float, *, significant: bool
) -> pb.LiftResult:
    absolute = treatment - control
    return pb.LiftResult(
        arm=arm,
        control_arm="holdout",
        metric=metric,
        test=pb.STATISTICAL_TEST_WELCH_T,
        control_value=control,
        treatment_value=treatment,
        absolute_lift=_estimate(absolute, abs(absolute) * 0.6),
        relative_lift=_estimate(absolute / control, abs(absolute / control) * 0.6),
        p_value=p,
        holm_p_value=min(1.0, p * 4),
        bh_p_value=min(1.0, p * 2),
        significant=significant,
        cuped=pb.CupedResult(
            theta=0.41,
            variance_reduction=0.18,
            absolute_lift=_estimate(absolute, abs(absolute) * 0.5),
            relative_lift=_estimate(absolute / control, abs(absolute / control) * 0.5),
            p_value=p / 3,
        ),
        sequential=pb.SequentialResult(
            p_value=min(1.0, p * 8),
            absolute_lift_interval=pb.ConfidenceInterval(
                lower=absolute * 0.1, upper=absolute * 1.9
            ),
            can_stop=p * 8 < 0.05,
            mixture_variance=1e-4,
        ),
        chance_to_win=1.0 - p / 2 if absolute > 0 else p / 2,
    )


def _uplift_proto(evaluation: UpliftEvaluation) -> pb.EvaluateUpliftResponse:
    """The servicer's mapping: None uplifts become 0."""
    return pb.EvaluateUpliftResponse(
        qini_coefficient=evaluation.qini_coefficient,
        auuc=evaluation.auuc,
        random_auuc=evaluation.random_auuc,
        uplift_at_k=[
            pb.UpliftAtFraction(
                fraction=a.fraction, uplift=a.uplift or 0.0, treated=a.treated, control=a.control
            )
            for a in evaluation.uplift_at_k
        ],
        curve=[
            pb.UpliftCurvePoint(
                fraction=p.fraction,
                qini=p.qini,
                uplift_gain=p.uplift_gain,
                random=p.random,
                qini_random=p.qini_random,
            )
            for p in evaluation.curve
        ],
        treated=evaluation.treated,
        control=evaluation.control,
        deciles=[
            pb.UpliftDecile(
                decile=d.decile,
                treated=d.treated,
                control=d.control,
                treated_mean=d.treated_mean,
                control_mean=d.control_mean,
                uplift=d.uplift or 0.0,
                cumulative_gain=d.cumulative_gain,
            )
            for d in evaluation.deciles
        ],
    )


def _simulated_uplift() -> pb.EvaluateUpliftResponse:
    """20,000 subjects, 80% treated; base conversion 3%, the offer adds 0..+4 points rising with
    the model's score (plus noise in the score)."""
    rng = np.random.default_rng(7)
    n = 20_000
    latent = rng.normal(size=n)
    treated = rng.random(n) < 0.8
    p = 0.03 + np.where(treated, 0.04 / (1 + np.exp(-2 * latent)), 0.0)
    converted = (rng.random(n) < p).astype(np.float64)
    scores = latent + rng.normal(scale=0.7, size=n)
    return _uplift_proto(evaluate_uplift(scores, treated, converted, curve_points=20))


def _attribution() -> pb.ComputeAttributionResponse:
    credits = {
        pb.ATTRIBUTION_MODEL_LAST_TOUCH: [410.0, 260.0, 180.0, 90.0],
        pb.ATTRIBUTION_MODEL_LINEAR: [350.0, 280.0, 190.0, 120.0],
        pb.ATTRIBUTION_MODEL_MARKOV: [330.0, 300.0, 170.0, 140.0],
    }
    channels = ["email", "paid_search", "wechat", "organic"]
    return pb.ComputeAttributionResponse(
        results=[
            pb.ModelAttribution(
                model=model,
                credits=[
                    pb.ChannelCredit(
                        channel=channel,
                        conversions=value,
                        revenue=value * 61.5,
                        share=value / sum(values),
                        removal_effect=0.2 if model == pb.ATTRIBUTION_MODEL_MARKOV else 0.0,
                    )
                    for channel, value in zip(channels, values, strict=True)
                ],
            )
            for model, values in credits.items()
        ],
        journeys=18_400,
        conversions=940,
        revenue=57_810.0,
    )


def _cumulative(arm_id: str, final_lift: float) -> list[pb.LiftPoint]:
    points = []
    for day in range(14):
        subjects = 900 * (day + 1)
        # Noisy early, settling towards the final lift; the always-valid interval narrows.
        value = final_lift + 0.25 * math.sin(day * 1.3) / (day + 1)
        half = 1.6 / math.sqrt(day + 1) * 0.45
        points.append(
            pb.LiftPoint(
                arm_id=arm_id,
                time=START + timedelta(days=day + 1),
                subjects=subjects,
                relative_lift=_estimate(value, half),
            )
        )
    return points


def full_report(name: str = "Spring re-engagement: 10% off or free shipping") -> pb.CampaignReport:
    arms = [
        _arm("discount_10", 12_040, 498, 31_120.0),
        _arm("free_shipping", 11_960, 431, 27_340.0),
        _arm("holdout", 6_010, 181, 11_010.0, holdout=True),
    ]
    holdout = arms[-1]
    lifts = [
        _lift(
            a.arm_id,
            pb.METRIC_CONVERSION_RATE,
            holdout.conversion_rate,
            a.conversion_rate,
            p,
            significant=sig,
        )
        for a, p, sig in ((arms[0], 0.0004, True), (arms[1], 0.083, False))
    ] + [
        _lift(
            a.arm_id,
            pb.METRIC_REVENUE_PER_USER,
            holdout.revenue_per_user,
            a.revenue_per_user,
            p,
            significant=False,
        )
        for a, p in ((arms[0], 0.021), (arms[1], 0.31))
    ]
    impacts = [
        pb.ArmImpact(
            arm_id=a.arm_id,
            incremental_conversions=_estimate(
                (a.conversion_rate - holdout.conversion_rate) * a.subjects, 45.0
            ),
            incremental_revenue=_estimate(
                (a.revenue_per_user - holdout.revenue_per_user) * a.subjects, 2900.0
            ),
            cost=a.cost,
            roi=((a.revenue_per_user - holdout.revenue_per_user) * a.subjects - a.cost) / a.cost,
            cost_per_incremental_conversion=a.cost
            / ((a.conversion_rate - holdout.conversion_rate) * a.subjects),
        )
        for a in arms[:2]
    ]
    return pb.CampaignReport(
        campaign=pb.Campaign(
            campaign_id="cmp_01HV",
            name=name,
            description="Lapsed buyers (no order in 90 days) in the Shanghai region.",
            segment_id="seg_lapsed",
            channel=segmentation_pb2.CHANNEL_EMAIL,
            arms=[
                pb.Arm(arm_id="discount_10", description="10% off bottles, template B", weight=1),
                pb.Arm(arm_id="free_shipping", description="Free shipping, template C", weight=1),
            ],
            holdout_share=0.2,
            start_time=START,
            end_time=START + timedelta(days=14),
            primary_metric=pb.METRIC_CONVERSION_RATE,
            secondary_metrics=[pb.METRIC_REVENUE_PER_USER],
            cost_per_send=0.02,
            fixed_cost=800.0,
            currency="EUR",
            status=pb.CAMPAIGN_STATUS_ENDED,
        ),
        as_of=START + timedelta(days=14, hours=6),
        confidence_level=0.95,
        arms=arms,
        lifts=lifts,
        impacts=impacts,
        srm=pb.SrmCheck(
            chi_square=0.41,
            degrees_of_freedom=2,
            p_value=0.81,
            mismatch=False,
            arms=[
                pb.SrmArm(arm=a.arm_id, observed=a.subjects, expected_share=s, expected=s * 30_010)
                for a, s in zip(arms, (0.4, 0.4, 0.2), strict=True)
            ],
        ),
        cumulative_lift=_cumulative("discount_10", 0.36) + _cumulative("free_shipping", 0.19),
        warnings=["3 profiles were assigned to both arms (merged identities) and were dropped."],
        uplift=_simulated_uplift(),
        attribution=_attribution(),
        excluded_without_consent=1_208,
        overlaps=[pb.CampaignOverlap(campaign_id="cmp_01HT", subjects=812)],
    )


def empty_report() -> pb.CampaignReport:
    """Running for a few hours without a holdout: no lift, no uplift, no attribution."""
    return pb.CampaignReport(
        campaign=pb.Campaign(
            campaign_id="cmp_02",
            name="Newsletter blast",
            channel=segmentation_pb2.CHANNEL_PUSH,
            arms=[pb.Arm(arm_id="all", description="Everyone", weight=1)],
            holdout_share=0.0,
            start_time=START,
            end_time=START + timedelta(days=7),
            primary_metric=pb.METRIC_CONVERSION_RATE,
            currency="USD",
            status=pb.CAMPAIGN_STATUS_RUNNING,
        ),
        as_of=START + timedelta(hours=5),
        confidence_level=0.9,
        arms=[_arm("all", 4_200, 37, 2_100.0)],
        warnings=["no holdout: lift cannot be measured"],
    )


def crowded_report() -> pb.CampaignReport:
    """The most a campaign can have: ten arms with long ids, 90 days, seven models over twelve
    channels with long names."""
    report = full_report(name="A campaign name that goes on " * 6)
    ids = [f"arm_{i}_with_a_rather_long_descriptive_id" for i in range(10)]
    del report.arms[:]
    report.arms.extend(
        _arm(arm_id, 5_000 + 37 * i, 150 + 9 * i, 9_000.0) for i, arm_id in enumerate(ids)
    )
    report.arms.append(_arm("holdout", 5_000, 140, 8_000.0, holdout=True))
    del report.cumulative_lift[:]
    for arm_id in ids:
        for day in range(90):
            report.cumulative_lift.append(
                pb.LiftPoint(
                    arm_id=arm_id,
                    time=START + timedelta(days=day + 1),
                    subjects=50 * (day + 1),
                    relative_lift=_estimate(0.05 + 0.01 * len(arm_id) % 7, 1 / math.sqrt(day + 1)),
                )
            )
    channels = [f"partner_network_{i}_display_retargeting" for i in range(12)]
    del report.attribution.results[:]
    for model in range(1, 8):
        report.attribution.results.append(
            pb.ModelAttribution(
                model=model,
                credits=[
                    pb.ChannelCredit(channel=c, conversions=10.0 + i * model, share=1 / 12)
                    for i, c in enumerate(channels)
                ],
            )
        )
    return report


# --- the HTML -------------------------------------------------------------------------------


def _figure(page: str, chart: str) -> str:
    match = re.search(
        rf'<figure class="chart( empty)?" data-chart="{chart}">.*?</figure>', page, re.S
    )
    assert match, chart
    return match.group(0)


def _svgs(page: str) -> Iterator[str]:
    yield from re.findall(r"<svg .*?</svg>", page, re.S)


def test_full_report_has_every_section_and_chart() -> None:
    page = render_report_page(full_report()).decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for heading in ("Arms", "Lift against the holdout", "Impact and return"):
        assert f"<h2>{heading}</h2>" in page
    for chart in CHARTS:
        figure = _figure(page, chart)
        assert 'class="chart"' in figure, chart  # not the empty variant
        assert '<svg viewBox="0 0 960' in figure and 'role="img"' in figure
        assert re.search(r'<title id="[\w-]+-title">\S', figure), chart
        assert "<figcaption>" in figure
    # Every chart is well-formed XML, so the browser cannot half-draw it.
    svgs = list(_svgs(page))
    assert len(svgs) == len(CHARTS)
    for svg in svgs:
        ET.fromstring(svg)
    # The header: status, confidence, currency, the SRM verdict and the warning.
    assert "Ended" in page and "<dd>95%</dd>" in page and "€" in page
    assert "No sample ratio mismatch" in page
    # Money in the campaign's currency: cents on small amounts, not on large sums.
    assert "€2.58" in page and "€31,120<" in page and "+€9,063" in page
    assert 'class="warnings" role="alert"' in page and "merged identities" in page
    # The Qini coefficient is in its caption; the conversion chart has a bar per arm.
    assert re.search(r"Qini coefficient <strong>0\.\d{3}</strong>", _figure(page, "qini"))
    assert _figure(page, "conversion-by-arm").count('class="bar"') == 3
    assert _figure(page, "qini").count('class="point"') == 20
    assert _figure(page, "attribution").count('class="bar"') == 12


def test_user_strings_are_escaped() -> None:
    report = full_report(name=HOSTILE)
    report.campaign.description = 'a "quoted" <b>description</b> & more'
    report.campaign.arms[0].description = "<img src=x onerror=alert(2)>"
    report.warnings.append("<iframe src=javascript:alert(3)>")
    report.attribution.results[0].credits[0].channel = '"><svg onload=alert(4)>'
    page = render_report_page(report).decode("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert "<img" not in page and "<iframe" not in page and "<svg onload" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;b&gt;description&lt;/b&gt; &amp; more" in page
    assert "&quot;&gt;&lt;svg onload=alert(4)&gt;" in page
    for svg in _svgs(page):
        ET.fromstring(svg)


def test_page_is_self_contained_and_prints_no_nan() -> None:
    report = full_report()
    # Broken numbers from upstream must not leak into the page.
    report.arms[0].revenue_per_user = math.nan
    report.lifts[0].p_value = math.inf
    report.impacts[0].roi = -math.inf
    report.uplift.curve[3].qini = math.nan
    report.cumulative_lift[5].relative_lift.value = math.nan
    page = render_report_page(report).decode("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert not re.search(r"(src|href)\s*=", page)  # nothing is loaded at all
    assert "@import" not in page and "url(http" not in page and "<link" not in page
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\b(nan|inf|infinity)\b", text, re.I)
    assert not re.search(r'="[^"]*\b(nan|inf)\b', page, re.I)  # nor in coordinates
    # The broken curve point is left out of the Qini curve, the rest is drawn.
    assert _figure(page, "qini").count('class="point"') == 19


any_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, -1e300, 1e308, 0.5]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(any_number, min_size=12, max_size=12))
def test_any_numbers_give_a_clean_page(numbers: list[float]) -> None:
    report = full_report()
    targets = [
        (report.arms[0], "conversion_rate"),
        (report.arms[2], "revenue"),
        (report.lifts[0].relative_lift, "value"),
        (report.lifts[1], "holm_p_value"),
        (report.impacts[1], "roi"),
        (report.cumulative_lift[0].relative_lift.interval, "upper"),
        (report.cumulative_lift[20].relative_lift, "value"),
        (report.uplift.curve[0], "qini_random"),
        (report.uplift.deciles[4], "uplift"),
        (report.uplift.deciles[9], "cumulative_gain"),
        (report.attribution.results[1].credits[2], "conversions"),
        (report.srm, "p_value"),
    ]
    for (message, field), value in zip(targets, numbers, strict=True):
        setattr(message, field, value)
    page = render_report_page(report).decode("utf-8")
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\b(nan|inf|infinity)\b", text, re.I)
    assert not re.search(r'="[^"]*\b(nan|inf)\b', page, re.I)
    for svg in _svgs(page):
        ET.fromstring(svg)


def test_empty_report_explains_each_missing_chart() -> None:
    page = render_report_page(empty_report()).decode("utf-8")
    assert 'data-chart="conversion-by-arm"' in page and "<svg" in _figure(page, "conversion-by-arm")
    notes = {
        "cumulative-lift": "There is no holdout",
        "lift-by-decile": "No uplift evaluation",
        "gain-by-decile": "No uplift evaluation",
        "qini": "No uplift evaluation",
        "attribution": "No attribution",
    }
    for chart, note in notes.items():
        figure = _figure(page, chart)
        assert figure.startswith('<figure class="chart empty"'), chart
        assert "<svg" not in figure and note in figure, chart
    assert "lift cannot be measured" in page
    assert "not checked" in page  # no SRM without a holdout
    assert "$" in page and "<dd>90%</dd>" in page


def test_suppressed_arm_is_shown_as_suppressed_not_zero() -> None:
    report = full_report()
    arm = report.arms[1]
    arm.suppressed = True
    for field in ("converters", "conversions", "revenue", "conversion_rate"):
        setattr(arm, field, 0)
    figure = _figure(render_report_page(report).decode("utf-8"), "conversion-by-arm")
    assert figure.count('class="bar"') == 2 and figure.count('class="bar suppressed"') == 1
    assert ">suppressed<" in figure
    assert 'data-arm="free_shipping"><title>free_shipping: suppressed' in figure


def test_wilson_interval_matches_statsmodels() -> None:
    for successes, trials, level in ((498, 12_040, 0.95), (0, 50, 0.9), (50, 50, 0.99)):
        lo, hi = proportion_confint(successes, trials, alpha=1 - level, method="wilson")
        assert wilson_interval(successes, trials, level) == pytest.approx((lo, hi))
    assert wilson_interval(0, 0, 0.95) is None


# --- in the browser -------------------------------------------------------------------------


def _browser_or_skip() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = (
            f"headless Chromium is not installed ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver"
        )
        if os.environ.get("PRECIS_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


def _driver(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1000,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


# Measures every chart in the page: the rendered size of its SVG, what it draws, and whether
# the tick labels along its x axis overlap.
MEASURE = """
const vertices = path => (path.getAttribute('d').match(/[ML]/g) || []).length;
const out = {};
for (const fig of document.querySelectorAll('figure[data-chart]')) {
  const svg = fig.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : null;
  const ticks = [...fig.querySelectorAll('svg text.tick')].map(t => t.getBoundingClientRect());
  let overlaps = 0;
  for (let i = 1; i < ticks.length; i++) if (ticks[i].left < ticks[i - 1].right) overlaps++;
  const qini = fig.querySelector('path.curve.qini');
  out[fig.dataset.chart] = {
    empty: fig.classList.contains('empty'),
    note: (fig.querySelector('.note') || {}).textContent || '',
    width: box ? box.width : 0,
    height: box ? box.height : 0,
    bars: fig.querySelectorAll('rect.bar').length,
    suppressed: fig.querySelectorAll('rect.bar.suppressed').length,
    lines: [...fig.querySelectorAll('path.line')].map(vertices),
    bands: fig.querySelectorAll('path.band').length,
    qiniPoints: qini ? vertices(qini) : 0,
    randomLines: fig.querySelectorAll('path.random').length,
    gainPoints: fig.querySelectorAll('path.curve.gain').length,
    tickOverlaps: overlaps,
  };
}
return {
  charts: out,
  scripts: document.querySelectorAll('script').length,
  title: document.title,
  scrollWidth: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight,
};
"""


def _open(driver: Any, page: bytes, path: Path) -> dict[str, Any]:
    path.write_bytes(page)
    driver.get(path.as_uri())
    result: dict[str, Any] = driver.execute_script(MEASURE)
    return result


def _screenshot(driver: Any, height: int, path: Path) -> None:
    driver.set_window_size(1000, min(height + 140, 12_000))
    assert driver.save_screenshot(str(path)), path


@pytest.mark.timeout(120)
def test_report_page_renders_in_chromium(tmp_path: Path) -> None:
    _browser_or_skip()
    report = full_report(name=f"Spring re-engagement {HOSTILE}")
    driver = _driver(tmp_path / "profile")
    try:
        seen = _open(driver, render_report_page(report), tmp_path / "report.html")
        charts = seen["charts"]
        assert sorted(charts) == sorted(CHARTS)
        for chart, facts in charts.items():
            assert not facts["empty"], chart
            assert facts["width"] > 800 and facts["height"] > 250, (chart, facts)
            assert facts["tickOverlaps"] == 0, (chart, facts)
        assert charts["conversion-by-arm"]["bars"] == len(report.arms)
        assert charts["cumulative-lift"]["lines"] == [14, 14]
        assert charts["cumulative-lift"]["bands"] == 2
        assert charts["lift-by-decile"]["bars"] == len(report.uplift.deciles) == 10
        assert charts["gain-by-decile"]["gainPoints"] == 1
        assert charts["gain-by-decile"]["randomLines"] == 1
        assert charts["qini"]["qiniPoints"] == len(report.uplift.curve) == 20
        assert charts["qini"]["randomLines"] == 1
        assert charts["attribution"]["bars"] == 3 * 4
        # The hostile name is text in the title, not a script; nothing is wider than the window.
        assert seen["scripts"] == 0 and HOSTILE in seen["title"]
        assert seen["scrollWidth"] <= 1000
        _screenshot(driver, seen["height"], tmp_path / "report.png")

        empty = _open(driver, render_report_page(empty_report()), tmp_path / "empty.html")
        for chart, facts in empty["charts"].items():
            if chart == "conversion-by-arm":
                assert facts["bars"] == 1 and facts["width"] > 800
            else:
                assert facts["empty"] and facts["width"] == 0 and facts["note"], chart
        _screenshot(driver, empty["height"], tmp_path / "empty.png")

        crowded = _open(driver, render_report_page(crowded_report()), tmp_path / "crowded.html")
        assert crowded["scrollWidth"] <= 1000
        for chart, facts in crowded["charts"].items():
            assert facts["tickOverlaps"] == 0 and facts["width"] > 800, (chart, facts)
        assert crowded["charts"]["conversion-by-arm"]["bars"] == 11
        assert crowded["charts"]["cumulative-lift"]["lines"] == [90] * 10
        assert crowded["charts"]["attribution"]["bars"] == 7 * 12
        _screenshot(driver, crowded["height"], tmp_path / "crowded.png")
    finally:
        driver.quit()
    shown = os.environ.get("PRECIS_REPORT_SCREENSHOT")
    if shown:  # to look at the page by hand: PRECIS_REPORT_SCREENSHOT=/tmp/report_page.png
        shutil.copy(tmp_path / "report.png", shown)
