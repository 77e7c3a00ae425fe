"""Each metric on tiny cases computed by hand, and the popularity baseline."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from precis_recommendation.interactions import Interaction, build_matrix
from precis_recommendation.metrics import (
    PopularityRecommender,
    average_precision_at_k,
    catalog_coverage,
    evaluate,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

REC = ["a", "b", "c", "d"]
REL = {"b", "d", "e"}
L2, L3, L4 = 1.0, 1 / math.log2(3), 0.5  # discounts of ranks 0, 1, 2
IDCG3 = L2 + L3 + L4


def test_metrics_at_3_one_hit_at_rank_2() -> None:
    # top 3 = a, b, c: one hit (b, 2nd place); m = min(3, 3) = 3
    assert precision_at_k(REC, REL, 3) == pytest.approx(1 / 3)
    assert recall_at_k(REC, REL, 3) == pytest.approx(1 / 3)
    assert ndcg_at_k(REC, REL, 3) == pytest.approx(L3 / IDCG3)  # 0.2961
    assert average_precision_at_k(REC, REL, 3) == pytest.approx((1 / 2) / 3)


def test_metrics_at_4_two_hits() -> None:
    # hits b (2nd) and d (4th); m = min(4, 3) = 3 so precision divides by 3, not 4
    assert precision_at_k(REC, REL, 4) == pytest.approx(2 / 3)
    assert recall_at_k(REC, REL, 4) == pytest.approx(2 / 3)
    assert ndcg_at_k(REC, REL, 4) == pytest.approx((L3 + 1 / math.log2(5)) / IDCG3)
    assert average_precision_at_k(REC, REL, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_precision_denominator_is_min_of_k_and_relevant() -> None:
    # one relevant item, found at rank 2 of a top-10: precision 1/min(10, 1) = 1
    assert precision_at_k(["x", "a"], {"a"}, 10) == 1.0
    assert recall_at_k(["x", "a"], {"a"}, 10) == 1.0
    assert ndcg_at_k(["x", "a"], {"a"}, 10) == pytest.approx(L3)
    assert average_precision_at_k(["x", "a"], {"a"}, 10) == pytest.approx(0.5)


def test_perfect_and_empty_lists() -> None:
    assert ndcg_at_k(["b", "d", "e"], REL, 3) == pytest.approx(1.0)
    assert average_precision_at_k(["b", "d", "e"], REL, 3) == pytest.approx(1.0)
    assert precision_at_k([], REL, 3) == 0.0
    assert ndcg_at_k(REC, set(), 3) == 0.0
    with pytest.raises(ValueError, match="k must be positive"):
        precision_at_k(REC, REL, 0)


def test_catalog_coverage() -> None:
    lists = [["a", "b"], ["b", "c"]]
    assert catalog_coverage(lists, 10, 2) == pytest.approx(3 / 10)
    assert catalog_coverage(lists, 10, 1) == pytest.approx(2 / 10)


def test_evaluate_averages_users_and_missing_list_scores_zero() -> None:
    report = evaluate(
        {"u1": ["a", "b"]}, {"u1": {"a"}, "u2": {"c"}, "u3": set()}, k=2, catalog_size=4
    )
    assert report.users == 2  # u3 has nothing held out
    assert report.precision == pytest.approx((1.0 + 0.0) / 2)
    assert report.map == pytest.approx(0.5)
    assert report.coverage == pytest.approx(2 / 4)


def test_popularity_ranks_by_users_and_skips_seen_items() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    pairs = [("u1", "x"), ("u2", "x"), ("u3", "x"), ("u1", "y"), ("u2", "y"), ("u3", "z")]
    # a heavy purchaser does not make z popular: the count is of users, not confidence
    records = [Interaction(u, i, "view", t) for u, i in pairs]
    records += [Interaction("u3", "z", "purchase", t)] * 5
    popularity = PopularityRecommender(build_matrix(records))
    recs = popularity.recommend(["u1", "u3", "new"], 3)
    assert recs == {"u1": ["z"], "u3": ["y"], "new": ["x", "y", "z"]}
