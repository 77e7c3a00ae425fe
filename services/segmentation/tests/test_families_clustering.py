"""Behaviour clusters: silhouette finds the true k of well-separated blobs, results are
reproducible, clusters are ordered and described; on the read model (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from segmentation_support import ReadModel
from sklearn.datasets import make_blobs  # type: ignore[import-untyped]  # no types shipped
from sklearn.metrics import adjusted_rand_score  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow
from precis_segmentation.families import clustering
from precis_segmentation.families.clustering import ClusterFeature
from precis_segmentation.families.features import ORDER_EVENT

# Day counts: not log-transformed, so the blobs reach k-means as generated (then standardized).
DAY_FEATURES = ("recency_days", "tenure_days", "last_seen_days")


def blobs(true_k: int, count: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    values, truth = make_blobs(
        n_samples=count,
        centers=true_k,
        n_features=3,
        cluster_std=1.0,
        center_box=(-40, 40),
        random_state=seed,
    )
    return np.asarray(values + 100.0), np.asarray(truth)


def ids(count: int) -> list[str]:
    return [f"p{i:05d}" for i in range(count)]


@pytest.mark.parametrize("true_k", [3, 4, 6])
def test_silhouette_picks_the_true_number_of_blobs(true_k: int) -> None:
    values, truth = blobs(true_k, seed=true_k)
    result = clustering.cluster_matrix(
        ids(len(values)), values, DAY_FEATURES, k_min=2, k_max=8, seed=1
    )
    assert result.chosen_k == true_k, result.silhouettes
    assert [k for k, _ in result.silhouettes] == list(range(2, 9))
    labels = np.empty(len(values), dtype=np.int64)
    position = {pid: i for i, pid in enumerate(ids(len(values)))}
    for cluster in result.clusters:
        labels[[position[pid] for pid in cluster.profile_ids]] = cluster.index
    assert adjusted_rand_score(truth, labels) == pytest.approx(1.0)


def test_a_fit_on_a_sample_still_assigns_everyone_and_is_reproducible() -> None:
    values, truth = blobs(4, count=3000, seed=4)
    run = [
        clustering.cluster_matrix(
            ids(3000), values, DAY_FEATURES, k_min=2, k_max=6, seed=9, max_profiles=400
        )
        for _ in range(2)
    ]
    assert run[0] == run[1]
    result = run[0]
    assert result.chosen_k == 4 and result.profile_count == 3000
    labels = np.zeros(3000, dtype=np.int64)
    for cluster in result.clusters:
        labels[np.isin(ids(3000), cluster.profile_ids)] = cluster.index
    assert adjusted_rand_score(truth, labels) == pytest.approx(1.0)
    sizes = [c.size for c in result.clusters]
    assert sum(sizes) == 3000 and sizes == sorted(sizes, reverse=True)
    assert [c.index for c in result.clusters] == [0, 1, 2, 3]
    assert sum(c.share for c in result.clusters) == pytest.approx(1.0)
    # Features are listed most distinctive first, with the members' mean in original units.
    for cluster in result.clusters:
        magnitudes = [abs(f.z_score) for f in cluster.features]
        assert magnitudes == sorted(magnitudes, reverse=True)
        rows = np.isin(ids(3000), cluster.profile_ids)
        for feature in cluster.features:
            column = DAY_FEATURES.index(feature.feature)
            assert feature.mean == pytest.approx(values[rows, column].mean())


def test_descriptions_name_the_distinctive_directions() -> None:
    def described(**z: float) -> str:
        ordered = sorted(
            (ClusterFeature(name, 0.0, value) for name, value in z.items()),
            key=lambda f: -abs(f.z_score),
        )
        return clustering.describe(ordered)

    assert described(recency_days=-1.2, frequency=1.1, monetary=0.9) == (
        "recent, frequent, high spend"
    )
    assert described(monetary=-2.0, recency_days=1.0, aov=0.3) == "low spend, lapsed"
    assert described(frequency=0.2, monetary=-0.1) == "typical"
    assert described(tenure_days=-3, events_30d=2, orders_90d=1, aov=0.9) == (
        "new, engaged this month, ordering lately"
    )


def test_progress_runs_from_zero_to_one() -> None:
    values, _ = blobs(3, count=600)
    progress: list[float] = []
    clustering.cluster_matrix(
        ids(600), values, DAY_FEATURES, k_min=2, k_max=4, seed=0, progress=progress.append
    )
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"k_min": 1}, "k_min"),
        ({"k_min": 21, "k_max": 21}, "k_min"),
        ({"k_min": 5, "k_max": 4}, "k_max"),
        ({"k_max": 21}, "k_max"),
        ({"max_profiles": 1}, "max_profiles"),
    ],
)
def test_bad_parameters_are_refused_with_their_field(arguments: dict[str, int], field: str) -> None:
    values, _ = blobs(3, count=100)
    with pytest.raises(InvalidArgument) as refused:
        clustering.cluster_matrix(ids(100), values, DAY_FEATURES, **arguments)
    assert refused.value.violations[0].field == field


def test_too_few_profiles_for_k_max_is_a_failed_precondition() -> None:
    values, _ = blobs(3, count=8)
    with pytest.raises(FailedPrecondition):
        clustering.cluster_matrix(ids(8), values, DAY_FEATURES, k_min=2, k_max=8)


NOW = datetime(2026, 11, 1, tzinfo=UTC)


def two_kinds_of_customer() -> Dataset:
    """30 regulars (an order of ~200 every 5 days for 100 days, up to last week) and 60
    one-off buyers (a single ~20 order 200-300 days ago); 10 visitors without orders."""
    rng = np.random.default_rng(5)
    profiles: list[ProfileRow] = []
    events: list[EventRow] = []
    for i in range(30):
        pid = f"regular{i:02d}"
        profiles.append(ProfileRow(pid))
        for day in range(7 + i % 5, 107, 5):
            revenue = round(float(rng.normal(200, 20)), 2)
            events.append(
                EventRow(pid, ORDER_EVENT, NOW - timedelta(days=day), {"revenue": revenue})
            )
    for i in range(60):
        pid = f"oneoff{i:02d}"
        profiles.append(ProfileRow(pid))
        day = int(rng.integers(200, 300))
        revenue = round(float(rng.normal(20, 3)), 2)
        events.append(EventRow(pid, ORDER_EVENT, NOW - timedelta(days=day), {"revenue": revenue}))
    for i in range(10):
        pid = f"visitor{i:02d}"
        profiles.append(ProfileRow(pid))
        events.append(EventRow(pid, "Page Viewed", NOW - timedelta(days=3)))
    members = {f"regular{i:02d}" for i in range(10)} | {f"oneoff{i:02d}" for i in range(20)}
    return Dataset(profiles=profiles, events=events, memberships={"s_sample": members})


def test_cluster_profiles_on_the_read_model(read_model: ReadModel) -> None:
    read_model.load(two_kinds_of_customer())
    with Session(read_model.database.read_engine) as session:
        result = clustering.cluster_profiles(
            session, "ws_test", as_of=NOW, k_min=2, k_max=4, seed=3
        )
        sample = clustering.cluster_profiles(
            session, "ws_test", as_of=NOW, k_min=2, k_max=3, seed=3, segment_id="s_sample"
        )
    # Visitors have no order: not clustered.
    assert result.profile_count == 90 and result.chosen_k == 2
    assert result.feature_names == ("recency_days", "frequency", "monetary")
    big, small = result.clusters
    assert (big.size, small.size) == (60, 30)
    assert all(pid.startswith("oneoff") for pid in big.profile_ids)
    # Terms come most distinctive first; which of the three leads depends on the data.
    assert set(small.description.split(", ")) == {"recent", "frequent", "high spend"}
    assert set(big.description.split(", ")) == {"lapsed", "infrequent", "low spend"}
    assert sample.profile_count == 30 and [c.size for c in sample.clusters] == [20, 10]
