"""The CLV fit on the real CDNOW log (69,659 orders of 23,570 customers, 1997-01..1998-06): the
BG/NBD and Gamma-Gamma maximum-likelihood fits of ``precis_profile.clv``, and the whole
``precis_profile.predictions.fit_and_score`` the profile service runs per workspace (summary,
both fits, every customer scored)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from precis_devstack import cdnow
from precis_profile import clv
from precis_profile.predictions import Fitted, fit_and_score
from precis_profile.rfm import Order

from .harness import REPO_ROOT

CACHE_DIR = REPO_ROOT / ".precis" / "cache"
OBSERVATION_END = date(1998, 6, 30)  # the last day of the log
T = TypeVar("T")


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    began = time.perf_counter()
    result = call()
    return result, time.perf_counter() - began


def load_orders(
    cache_dir: Path = CACHE_DIR, *, customers: int | None = None
) -> list[cdnow.Transaction]:
    """The log's transactions, or those of the first ``customers`` customers by id."""
    transactions = cdnow.load_cdnow(cache_dir)
    if customers is None:
        return transactions
    kept = set(sorted({t.customer_id for t in transactions})[:customers])
    return [t for t in transactions if t.customer_id in kept]


def fit_models(transactions: Sequence[cdnow.Transaction]) -> dict[str, Any]:
    """One fit, timed step by step: the per-customer summary (x, t_x, T, mean repeat value, in
    weeks), BG/NBD, Gamma-Gamma."""
    purchases = [clv.Purchase(t.customer_id, t.date, t.amount) for t in transactions]
    summary, summarize_s = _timed(
        lambda: clv.summarize_purchases(
            purchases, observation_end=OBSERVATION_END, time_unit=clv.TimeUnit.WEEKS
        )
    )
    bg, bg_s = _timed(
        lambda: clv.fit_bg_nbd(
            summary.frequency, summary.recency, summary.age, time_unit=clv.TimeUnit.WEEKS
        )
    )
    spend = summary.mean_repeat_value
    assert spend is not None  # every CDNOW order has an amount
    gg, gg_s = _timed(lambda: clv.fit_gamma_gamma(summary.frequency, spend))
    return {
        "customers": len(summary),
        "summarize_seconds": summarize_s,
        "bg_nbd_seconds": bg_s,
        "gamma_gamma_seconds": gg_s,
        "fit_seconds": summarize_s + bg_s + gg_s,
        "bg_nbd": {
            "r": bg.r,
            "alpha": bg.alpha,
            "a": bg.a,
            "b": bg.b,
            "log_likelihood": bg.log_likelihood,
            "customers": bg.n_customers,
        },
        "gamma_gamma": {
            "p": gg.p,
            "q": gg.q,
            "gamma": gg.gamma,
            "log_likelihood": gg.log_likelihood,
            "repeat_buyers": gg.n_customers,
        },
    }


def score_workspace(transactions: Sequence[cdnow.Transaction]) -> tuple[Fitted, float]:
    """``fit_and_score`` as the profile service calls it, from (profile, order) pairs."""
    orders = [
        (
            t.customer_id,
            Order(
                order_id=str(t.line_no),
                placed_at=datetime.combine(t.date, datetime.min.time(), UTC),
                revenue=Decimal(str(t.amount)),
            ),
        )
        for t in transactions
    ]
    as_of = datetime.combine(OBSERVATION_END, datetime.max.time(), UTC)
    fitted, seconds = _timed(lambda: fit_and_score(orders, as_of))
    if not isinstance(fitted, Fitted):
        raise RuntimeError(f"fit_and_score did not fit: {fitted}")
    return fitted, seconds


def run_clv(
    cache_dir: Path = CACHE_DIR, *, runs: int = 3, customers: int | None = None
) -> dict[str, Any]:
    """Median seconds over ``runs`` fits (and ``fit_and_score`` runs), with the fitted parameters
    of the last run (deterministic: every run finds the same optimum)."""
    transactions, load_s = _timed(lambda: load_orders(cache_dir, customers=customers))
    fits = [fit_models(transactions) for _ in range(runs)]
    scored = [score_workspace(transactions) for _ in range(runs)]
    last = fits[-1]

    def median(key: str) -> float:
        return round(statistics.median(f[key] for f in fits), 4)

    return {
        "transactions": len(transactions),
        "customers": last["customers"],
        "observation_end": OBSERVATION_END.isoformat(),
        "runs": runs,
        "load_seconds": round(load_s, 3),
        "fit_seconds_median": median("fit_seconds"),
        "fit_seconds_all": [round(f["fit_seconds"], 4) for f in fits],
        "summarize_seconds_median": median("summarize_seconds"),
        "bg_nbd_seconds_median": median("bg_nbd_seconds"),
        "gamma_gamma_seconds_median": median("gamma_gamma_seconds"),
        "fit_and_score_seconds_median": round(statistics.median(s for _, s in scored), 4),
        "profiles_scored": len(scored[-1][0].predictions),
        "bg_nbd": {k: _round(v) for k, v in last["bg_nbd"].items()},
        "gamma_gamma": {k: _round(v) for k, v in last["gamma_gamma"].items()},
    }


def _round(value: float | int) -> float | int:
    return value if isinstance(value, int) else round(value, 4)
