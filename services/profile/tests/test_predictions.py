"""Lifetime-value predictions as the profile service makes them, on the real CDNOW log: fitted
on the first 39 weeks, do they rank customers by what they really spent afterwards?"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from precis_devstack import cdnow
from precis_profile.predictions import Fitted, fit_and_score
from precis_profile.rfm import Order

REPO_ROOT = Path(__file__).resolve().parents[3]
CALIBRATION_END = datetime(1997, 10, 1, tzinfo=UTC)


def test_cdnow_predictions_rank_customers_by_their_future_spend() -> None:
    cache = Path(os.environ.get("PRECIS_DATA_CACHE") or REPO_ROOT / ".precis" / "cache")
    transactions = cdnow.load_cdnow(cache)
    calibration = [
        (
            t.customer_id,
            Order(
                order_id=str(t.line_no),
                placed_at=datetime.combine(t.date, datetime.min.time(), UTC),
                revenue=Decimal(str(t.amount)),
            ),
        )
        for t in transactions
        if datetime.combine(t.date, datetime.min.time(), UTC) < CALIBRATION_END
    ]
    fitted = fit_and_score(calibration, CALIBRATION_END)
    assert isinstance(fitted, Fitted), fitted
    assert fitted.models["bg_nbd"]["customers"] == 23_570
    holdout: dict[str, float] = {}
    for t in transactions:
        if datetime.combine(t.date, datetime.min.time(), UTC) >= CALIBRATION_END:
            holdout[t.customer_id] = holdout.get(t.customer_id, 0.0) + float(t.amount)
    ranked = sorted(
        fitted.predictions, key=lambda c: fitted.predictions[c]["clv_52w"], reverse=True
    )
    decile = len(ranked) // 10
    top = sum(holdout.get(c, 0.0) for c in ranked[:decile]) / decile
    bottom = sum(holdout.get(c, 0.0) for c in ranked[-decile:]) / decile
    everyone = sum(holdout.values()) / len(ranked)
    # The top decile by predicted value spends several times the average in the next 39 weeks,
    # the bottom decile far less.
    assert top > 3 * everyone > 3 * bottom, (top, everyone, bottom)
    predicted_total = sum(p["clv_52w"] for p in fitted.predictions.values())
    assert predicted_total > 0
