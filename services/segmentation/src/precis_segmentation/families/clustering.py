"""Behaviour clusters: k-means on standardized features, k chosen by silhouette, each cluster
described by what sets it apart.

Preparation: counts and money (:data:`.features.SKEWED_FEATURES`) go through log1p first. Their
tails are long (one customer with 100 orders against a median of 1), and k-means minimizes
squared distances, so untransformed they would give one cluster per outlier and one for
everybody else. Then every feature is standardized (StandardScaler: mean 0, unit variance), so
that no unit (days against dollars) dominates the distance. Day counts are left linear: their
range is bounded by the data's history.

Choice of k: every k in ``[k_min, k_max]`` is fitted and the one with the highest mean silhouette
wins (ties: the smaller k). Silhouette is quadratic in rows, so it is measured on a seeded
sample of at most :data:`SILHOUETTE_SAMPLE` rows. Fitting uses at most ``max_profiles`` rows (a
seeded random sample); every profile is then assigned to its nearest centroid. Everything
random takes ``seed``, so the same data and seed give the same clusters.

Description: clusters are numbered by size (largest first). For each feature a cluster reports
its members' mean in the feature's own units and its centroid in the standardized space as a
z-score (the space k-means worked in, so "distinctive" means what the algorithm saw), features
ordered by |z|. The text names the up to three most distinctive features with |z| >= 0.5 with
a word for their direction ("recent", "frequent", "high spend").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans  # type: ignore[import-untyped]  # scikit-learn ships no types
from sklearn.metrics import silhouette_score  # type: ignore[import-untyped]  # as above
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]  # as above
from sqlalchemy.orm import Session

from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.families.features import (
    RFM_FEATURES,
    SKEWED_FEATURES,
    FloatMatrix,
    Progress,
    behaviour_features,
    log1p_nonnegative,
    validate_features,
)

SILHOUETTE_SAMPLE = 10_000
K_LIMIT = 20
DESCRIBE_MIN_Z = 0.5
DESCRIBE_MAX_TERMS = 3

# (word when the cluster is above the population, word when below). For recency and the day
# counts since something happened, "above" means longer ago.
_WORDS: dict[str, tuple[str, str]] = {
    "recency_days": ("lapsed", "recent"),
    "frequency": ("frequent", "infrequent"),
    "monetary": ("high spend", "low spend"),
    "aov": ("large baskets", "small baskets"),
    "orders_90d": ("ordering lately", "not ordering lately"),
    "revenue_90d": ("high recent spend", "low recent spend"),
    "events_30d": ("engaged this month", "quiet this month"),
    "tenure_days": ("long-standing", "new"),
    "last_seen_days": ("inactive", "active"),
    "distinct_event_days": ("habitual", "occasional"),
}


@dataclass(frozen=True, slots=True)
class ClusterFeature:
    """One feature of a cluster (the proto's ClusterFeature)."""

    feature: str
    mean: float
    z_score: float


@dataclass(frozen=True, slots=True)
class Cluster:
    """One cluster (the proto's Cluster, without segment_id); ``profile_ids`` are its members."""

    index: int
    size: int
    share: float
    features: tuple[ClusterFeature, ...]
    description: str
    profile_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClusteringResult:
    """Silhouette per k tried, the chosen k and its clusters (the proto's ClusteringJob result)."""

    silhouettes: tuple[tuple[int, float], ...]
    chosen_k: int
    clusters: tuple[Cluster, ...]
    profile_count: int
    feature_names: tuple[str, ...]


def prepare(values: FloatMatrix, names: Sequence[str]) -> FloatMatrix:
    """log1p of the skewed features (negative values clipped to 0 first), other columns as is."""
    prepared = np.array(values, dtype=np.float64, copy=True)
    for column, name in enumerate(names):
        if name in SKEWED_FEATURES:
            prepared[:, column] = log1p_nonnegative(prepared[:, column])
    return prepared


def _check_parameters(k_min: int, k_max: int, max_profiles: int) -> None:
    if not 2 <= k_min <= K_LIMIT:
        raise InvalidArgument.field("k_min", f"must be from 2 to {K_LIMIT}")
    if not k_min <= k_max <= K_LIMIT:
        raise InvalidArgument.field("k_max", f"must be from k_min to {K_LIMIT}")
    if max_profiles < 2:
        raise InvalidArgument.field("max_profiles", "must be at least 2")


def describe(features: Sequence[ClusterFeature]) -> str:
    """Words for the most distinctive features (``features`` ordered by |z|), or "typical"."""
    terms = [
        _WORDS.get(f.feature, (f"high {f.feature}", f"low {f.feature}"))[0 if f.z_score > 0 else 1]
        for f in features
        if abs(f.z_score) >= DESCRIBE_MIN_Z
    ][:DESCRIBE_MAX_TERMS]
    return ", ".join(terms) if terms else "typical"


def cluster_matrix(
    profile_ids: Sequence[str],
    values: FloatMatrix,
    names: Sequence[str],
    *,
    k_min: int = 2,
    k_max: int = 8,
    seed: int = 0,
    max_profiles: int = 200_000,
    progress: Progress | None = None,
) -> ClusteringResult:
    """Clusters rows of a feature matrix (see the module docstring); the pure core."""
    _check_parameters(k_min, k_max, max_profiles)
    report = progress or (lambda _: None)
    count = len(profile_ids)
    if count <= k_max:
        raise FailedPrecondition(
            f"{count} profiles cannot be split into up to {k_max} clusters; "
            "lower k_max or cluster a larger population"
        )
    report(0.0)
    scaler = StandardScaler()
    standardized = np.asarray(scaler.fit_transform(prepare(values, names)), dtype=np.float64)
    rng = np.random.default_rng(seed)
    fit_rows = (
        np.sort(rng.choice(count, max_profiles, replace=False))
        if count > max_profiles
        else np.arange(count)
    )
    fitting = standardized[fit_rows]
    # One sample for every k, so that the silhouettes compare like with like.
    sample_size = min(SILHOUETTE_SAMPLE, len(fitting))
    sample = np.sort(rng.choice(len(fitting), sample_size, replace=False))
    silhouettes: list[tuple[int, float]] = []
    models: dict[int, KMeans] = {}
    candidates = list(range(k_min, k_max + 1))
    for done, k in enumerate(candidates, start=1):
        model = KMeans(n_clusters=k, n_init=4, random_state=seed)
        labels = model.fit_predict(fitting)
        sample_labels = labels[sample]
        score = (
            float(silhouette_score(fitting[sample], sample_labels))
            if len(np.unique(sample_labels)) > 1
            else -1.0
        )
        silhouettes.append((k, score))
        models[k] = model
        report(0.9 * done / len(candidates))
    chosen_k = max(silhouettes, key=lambda pair: (pair[1], -pair[0]))[0]
    assignment = np.asarray(models[chosen_k].predict(standardized), dtype=np.int64)
    clusters = _describe_clusters(profile_ids, values, standardized, assignment, names)
    report(1.0)
    return ClusteringResult(
        silhouettes=tuple(silhouettes),
        chosen_k=chosen_k,
        clusters=clusters,
        profile_count=count,
        feature_names=tuple(names),
    )


def _describe_clusters(
    profile_ids: Sequence[str],
    values: FloatMatrix,
    standardized: FloatMatrix,
    assignment: NDArray[np.int64],
    names: Sequence[str],
) -> tuple[Cluster, ...]:
    count = len(profile_ids)
    labels, sizes = np.unique(assignment, return_counts=True)
    # Largest first; equal sizes by k-means' label, which is deterministic given the seed.
    ordered = sorted(zip(labels.tolist(), sizes.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    clusters: list[Cluster] = []
    for index, (label, size) in enumerate(ordered):
        members = assignment == label
        means = values[members].mean(axis=0)
        z_scores = standardized[members].mean(axis=0)
        described = sorted(
            (
                ClusterFeature(name, float(means[j]), float(z_scores[j]))
                for j, name in enumerate(names)
            ),
            key=lambda f: (-abs(f.z_score), f.feature),
        )
        clusters.append(
            Cluster(
                index=index,
                size=int(size),
                share=size / count,
                features=tuple(described),
                description=describe(described),
                profile_ids=tuple(pid for pid, m in zip(profile_ids, members, strict=True) if m),
            )
        )
    return tuple(clusters)


def cluster_profiles(
    session: Session,
    workspace_id: str,
    *,
    as_of: datetime,
    features: Sequence[str] | None = None,
    k_min: int = 2,
    k_max: int = 8,
    seed: int = 0,
    max_profiles: int = 200_000,
    segment_id: str | None = None,
    progress: Progress | None = None,
) -> ClusteringResult:
    """Clusters the workspace's profiles with at least one order before ``as_of`` (or the
    members of ``segment_id`` among them) on ``features`` (default recency, frequency, monetary).
    """
    names = validate_features(features, default=RFM_FEATURES)
    _check_parameters(k_min, k_max, max_profiles)
    report = progress or (lambda _: None)
    report(0.0)
    matrix = behaviour_features(
        session,
        workspace_id,
        cutoff=as_of,
        features=names,
        ordered_only=True,
        segment_id=segment_id,
    )
    report(0.1)
    return cluster_matrix(
        matrix.profile_ids,
        matrix.values,
        names,
        k_min=k_min,
        k_max=k_max,
        seed=seed,
        max_profiles=max_profiles,
        progress=lambda share: report(0.1 + 0.9 * share),
    )
