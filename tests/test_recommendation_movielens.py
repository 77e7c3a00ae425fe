"""MovieLens through the gateway, end to end with the real processes (SQLite): the movies put in
the catalog, the ratings sent as "Product Viewed" events, a refusal of personalization recorded
for two users, an ALS model trained, evaluated against popularity on each user's latest 20% of
ratings, promoted, and asked for recommendations.

Two sizes of the same test. The default suite runs MovieLens users 1-300 (31,468 ratings, all of
theirs) with 16 factors; the full 100k (`-m slow`, `make test-slow`) keeps the defaults.

The metrics are the same definitions as precis_recommendation's library test (precision divided
by min(k, held-out items), as implicit's ranking_metrics_at_k does). Measured through the
gateway on all 100k (seed 0): ALS precision@10 0.1806, recall@10 0.1124, nDCG@10 0.1837, MAP@10
0.0890, coverage 0.369; popularity 0.1173, 0.0621, 0.1192, 0.0554, 0.045: the library test's
numbers. On users 1-300 with 16 factors, in process with the same split, seeds 0-4: popularity
precision@10 0.111 and nDCG@10 0.114; ALS at least 1.52x popularity's precision, 0.058 above it
in precision and 0.056 in nDCG, 4.8x its coverage (64 factors overfit these 300 users: 1.28x).
Users 301-600 and 601-900 gave at least 1.40x, +0.050, +0.043 and 5.5x. Through the gateway
(seed 0): ALS precision@10 0.1742, nDCG@10 0.1725, coverage 0.230; popularity 0.1114, 0.1138,
0.047, the in-process numbers. Both sizes assert the same margins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from precis_devstack import movielens
from precis_devstack.recommendations import (
    load_movielens,
    metrics_table,
    record_personalization,
)
from tests.bench.harness import REPO_ROOT, running_suite

pytestmark = pytest.mark.e2e

# The default suite's subset: every rating of MovieLens users 1..SUBSET_USERS.
SUBSET_USERS = 300
SUBSET_RATINGS = 31_468
SUBSET_ITEMS = 1_507


def cache_dir() -> Path:
    configured = os.environ.get("PRECIS_DATA_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".precis" / "cache"


def check_movielens_through_the_gateway(
    tmp_path: Path,
    ratings: list[movielens.Rating],
    *,
    users: int,
    min_train_items: int,
    hyperparameters: Mapping[str, Any] | None = None,
) -> None:
    """Loads ``ratings`` (whole users) through the gateway with the devstack loader, trains
    with ``hyperparameters`` (None: the service's defaults), and checks ALS against popularity
    and the recommendations served."""
    items_rated = {r.item_id for r in ratings}
    with (
        running_suite(tmp_path / "state") as suite,
        suite.client(timeout=60.0) as client,
        pytest.MonkeyPatch.context() as patch,
    ):
        # load_movielens sends every rating movielens.load_ratings returns, in file order.
        patch.setattr(movielens, "load_ratings", lambda _cache: ratings)
        load = load_movielens(client, cache_dir(), timeout=900)
        assert (load.report.accepted, load.report.rejected, load.report.failed) == (
            len(ratings),
            0,
            0,
        )
        assert (load.movies, len(load.users)) == (movielens.ITEMS, users)
        # Personalization is allowed by the consent service's built-in default; two users
        # turned it off.
        refusing = load.users[-2:]
        record_personalization(client, refusing, "denied")

        # As precis_devstack.recommendations.train_movielens: every rating a view of weight 1
        # without decay, each user's latest 20% held out.
        started = client.start_training(
            algorithm="als",
            hyperparameters=hyperparameters,
            weights={"view": 1, "half_life_days": 0},
            history_days=3650,
            test_fraction=0.2,
            k=10,
            seed=0,
            note=f"MovieLens, {users} users",
        )
        job = client.wait_for_training_job(started["job_id"], timeout=600)
        assert job["state"] == "succeeded", job
        version = client.get_model_version(job["model_version"])
        data = version["training_data"]
        # Every user is trained on and evaluated; films rated only in someone's latest 20% are
        # not in the training part.
        assert (data["users"], data["test_users"]) == (users, users)
        assert min_train_items < data["items"] <= len(items_rated)
        print(metrics_table(version))
        model, popularity = version["metrics"], version["baseline_metrics"]
        assert model["k"] == 10
        assert model["precision_at_k"] >= 1.3 * popularity["precision_at_k"]
        assert model["precision_at_k"] >= popularity["precision_at_k"] + 0.04
        assert model["ndcg_at_k"] >= popularity["ndcg_at_k"] + 0.04
        assert model["coverage"] > 4 * popularity["coverage"]

        client.promote_model_version(version["version"])
        user = load.users[0]
        seen = {r.item_id for r in ratings if f"ml-{r.user_id}" == user}
        recommended = client.recommend("user_id", user, k=10, exclude_seen=True)
        assert recommended["reason"] == "personalized"
        assert recommended["model_version"] == version["version"]
        items = [entry["item"]["item_id"] for entry in recommended["items"]]
        assert len(items) == 10 and not set(items) & seen
        assert all(
            entry["item"]["category"].startswith("Movies > ") for entry in recommended["items"]
        )
        # Someone who did not consent gets the popular films, and is told why.
        stranger = client.recommend("user_id", refusing[0], k=10)
        assert stranger["reason"] == "fallback_no_consent"
        popular = client.popular_items(k=10, window_days=365)
        assert [e["item"]["item_id"] for e in stranger["items"]] != []
        assert popular["interactions"] == len(ratings)
        similar = client.similar_items(items[0], k=5)
        assert similar["model_version"] == version["version"] and len(similar["items"]) == 5


# About 80 s on 2 shared cores, half of it starting the suite (31,468 events through it).
@pytest.mark.timeout(600)
def test_movielens_users_1_to_300_through_the_gateway_beat_popularity(tmp_path: Path) -> None:
    subset = {str(u) for u in range(1, SUBSET_USERS + 1)}
    ratings = [r for r in movielens.load_ratings(cache_dir()) if r.user_id in subset]
    assert len(ratings) == SUBSET_RATINGS
    assert len({r.item_id for r in ratings}) == SUBSET_ITEMS
    check_movielens_through_the_gateway(
        tmp_path,
        ratings,
        users=SUBSET_USERS,
        min_train_items=1400,
        hyperparameters={"factors": 16},
    )


# About 3 minutes alone on 2 cores (100,000 events through the whole suite); more when shared.
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_movielens_100k_through_the_gateway_beats_popularity(tmp_path: Path) -> None:
    ratings = movielens.load_ratings(cache_dir())
    assert len(ratings) == movielens.RATINGS
    check_movielens_through_the_gateway(
        tmp_path, ratings, users=movielens.USERS, min_train_items=1500
    )
