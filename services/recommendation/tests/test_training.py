"""Training on a small synthetic catalog: reproducibility, filtering of seen items, the report."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from precis_recommendation.interactions import Interaction, build_matrix, held_out, split_per_user
from precis_recommendation.metrics import evaluate
from precis_recommendation.training import ModelConfig, train, train_and_evaluate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def two_taste_groups(seed: int = 0) -> list[Interaction]:
    """60 users; the first half only touch items g0-*, the second half only g1-*."""
    rng = random.Random(seed)
    records = []
    for u in range(60):
        group = u % 2
        for n, i in enumerate(rng.sample(range(15), 8)):
            kind = rng.choice(["view", "view", "cart", "purchase"])
            records.append(Interaction(f"u{u:02d}", f"g{group}-{i:02d}", kind, T0 + timedelta(n)))  # type: ignore[arg-type]
    return records


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(factors=8, iterations=10),
        ModelConfig(algorithm="bpr", factors=8, iterations=50, learning_rate=0.05),
    ],
    ids=["als", "bpr"],
)
def test_same_seed_same_recommendations(config: ModelConfig) -> None:
    matrix = build_matrix(two_taste_groups())
    users = list(matrix.users.ids)
    first = train(matrix, config).recommend(users, 5)
    second = train(matrix, config).recommend(users, 5)
    assert first == second
    for user in users:
        assert len(first[user]) == 5
        assert not set(first[user]) & matrix.items_of(user)  # already-interacted items excluded


def test_recommends_within_the_users_taste_and_handles_unknown_users() -> None:
    matrix = build_matrix(two_taste_groups())
    recs = train(matrix, ModelConfig(factors=8, iterations=10)).recommend(["u00", "u01", "x"], 3)
    assert all(item.startswith("g0-") for item in recs["u00"])
    assert all(item.startswith("g1-") for item in recs["u01"])
    assert recs["x"] == []


def test_train_and_evaluate_scores_model_and_popularity_on_the_same_users() -> None:
    split = split_per_user(two_taste_groups(), 0.25)
    report = train_and_evaluate(split.train, split.test, config=ModelConfig(factors=8), k=5)
    assert report.model.users == report.popularity.users == 60
    assert report.model.precision > report.popularity.precision
    assert "| ALS | 60 |" in report.table()


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="unknown algorithm"):
        train(build_matrix(two_taste_groups()), ModelConfig(algorithm="svd"))  # type: ignore[arg-type]


def test_metrics_agree_with_implicits_ranking_metrics_at_k() -> None:
    """implicit averages nDCG and MAP per user like we do; its precision pools hits and
    denominators over users (sum of hits / sum of min(k, |relevant|))."""
    from implicit.evaluation import ranking_metrics_at_k  # type: ignore[import-untyped]

    split = split_per_user(two_taste_groups(seed=1), 0.25)
    matrix = build_matrix(split.train)
    relevant = held_out(split.test, matrix)
    assert all(item in matrix.items for items in relevant.values() for item in items)
    test_matrix = build_matrix(split.test, users=matrix.users, items=matrix.items)
    fitted = train(matrix, ModelConfig(factors=8, iterations=10))
    k = 5
    theirs = ranking_metrics_at_k(
        fitted.model, matrix.matrix, test_matrix.matrix, K=k, show_progress=False
    )
    recs = fitted.recommend(sorted(relevant), k)
    ours = evaluate(recs, relevant, k=k, catalog_size=len(matrix.items))
    assert ours.ndcg == pytest.approx(theirs["ndcg"])
    assert ours.map == pytest.approx(theirs["map"])
    hits = sum(len(set(recs[u][:k]) & relevant[u]) for u in relevant)
    pooled = hits / sum(min(k, len(items)) for items in relevant.values())
    assert pooled == pytest.approx(theirs["precision"])
