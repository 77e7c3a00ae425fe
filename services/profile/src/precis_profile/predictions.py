"""Predicted customer lifetime value per profile: the workspace's purchase history summarized
per profile (frequency, recency, age, mean repeat spend, in weeks), a BG/NBD model for repeat
purchases and a Gamma-Gamma model for spend fitted by maximum likelihood (precis_profile.clv),
and each profile scored. Refitted on a schedule with the RFM boundaries: a prediction is a
model's view at a moment, so unlike the order traits it is not updated event by event; a
profile merged since the last fit shows no prediction until the next one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from precis_profile.clv import (
    ClvError,
    Purchase,
    TimeUnit,
    customer_lifetime_value,
    fit_bg_nbd,
    fit_gamma_gamma,
    summarize_purchases,
)
from precis_profile.rfm import Order

HORIZON_WEEKS = 52.0
MONTHLY_DISCOUNT_RATE = 0.01  # about 12.7% a year, a common default for retail CLV


@dataclass(frozen=True)
class Fitted:
    models: dict[str, Any]
    predictions: dict[str, dict[str, float]]


def fit_and_score(orders: Iterable[tuple[str, Order]], as_of: datetime) -> Fitted | str:
    """Fit both models on (profile id, order) pairs and score every profile with orders.
    Returns the reason instead when the workspace's data cannot support a fit."""
    purchases = [
        Purchase(customer_id=pid, at=order.placed_at.date(), amount=float(order.revenue))
        for pid, order in orders
    ]
    if not purchases:
        return "no orders yet"
    try:
        summary = summarize_purchases(
            purchases, observation_end=as_of.date(), time_unit=TimeUnit.WEEKS
        )
        bg = fit_bg_nbd(summary.frequency, summary.recency, summary.age, time_unit=TimeUnit.WEEKS)
        spend = summary.mean_repeat_value
        assert spend is not None  # every purchase carries an amount
        gg = fit_gamma_gamma(summary.frequency, spend)
        x, t_x, t = summary.frequency, summary.recency, summary.age
        alive = bg.probability_alive(x, t_x, t)
        purchases_52w = bg.expected_purchases(HORIZON_WEEKS, x, t_x, t)
        clv = customer_lifetime_value(
            bg,
            gg,
            x,
            t_x,
            t,
            np.nan_to_num(spend),
            horizon=HORIZON_WEEKS,
            monthly_discount_rate=MONTHLY_DISCOUNT_RATE,
        )
    except ClvError as exc:
        return str(exc)
    models = {
        "bg_nbd": {
            "r": bg.r,
            "alpha": bg.alpha,
            "a": bg.a,
            "b": bg.b,
            "time_unit": "weeks",
            "log_likelihood": bg.log_likelihood,
            "customers": bg.n_customers,
        },
        "gamma_gamma": {
            "p": gg.p,
            "q": gg.q,
            "gamma": gg.gamma,
            "log_likelihood": gg.log_likelihood,
            "customers": gg.n_customers,
        },
        "horizon_weeks": HORIZON_WEEKS,
        "monthly_discount_rate": MONTHLY_DISCOUNT_RATE,
        "as_of": as_of.isoformat(),
    }
    predictions = {
        pid: {
            "clv_52w": round(float(clv[i]), 2),
            "expected_purchases_52w": round(float(purchases_52w[i]), 3),
            "probability_alive": round(float(alive[i]), 4),
        }
        for i, pid in enumerate(summary.customer_ids)
    }
    return Fitted(models, predictions)
