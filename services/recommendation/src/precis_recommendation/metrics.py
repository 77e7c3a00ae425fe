"""Offline top-k metrics of recommendation lists against held-out items, and a popularity
baseline.

For one user, ``rec`` is the ranked list (only its first ``k`` entries count), ``rel`` the set of
held-out relevant items, ``hit(i)`` whether ``rec[i]`` (0-based rank ``i``) is in ``rel`` and
``m = min(k, |rel|)``, the most hits a top-k list can have:

- precision@k = (hits in the top k) / m. The denominator is ``m``, not ``k``, as in implicit's
  ``ranking_metrics_at_k`` so a user with fewer than ``k`` relevant items can reach 1.0
  (implicit pools hits and denominators over users; here each user is scored and the scores
  averaged).
- recall@k = (hits in the top k) / |rel|.
- nDCG@k = DCG / IDCG with binary gains: DCG = sum over hits of 1 / log2(i + 2), IDCG = sum
  over i < m of 1 / log2(i + 2) (all ``m`` first places hit).
- AP@k = (sum over hit ranks i of precision at cut-off i + 1) / m, where precision at cut-off
  j = (hits in the first j) / j; MAP@k is its mean over users (implicit's definition).
- catalog coverage@k = (distinct items in all users' top-k lists) / (catalog size).

The per-user metrics are averaged over the users that have at least one held-out item; a user
without a list scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from precis_recommendation.interactions import InteractionMatrix

T = TypeVar("T", bound=Hashable)


def _hits(recommended: Sequence[T], relevant: Collection[T], k: int) -> list[bool]:
    if k <= 0:
        raise ValueError("k must be positive")
    return [item in relevant for item in recommended[:k]]


def precision_at_k(recommended: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Hits in the top ``k`` divided by ``min(k, |relevant|)``; 0.0 when nothing is relevant."""
    if not relevant:
        return 0.0
    return sum(_hits(recommended, relevant, k)) / min(k, len(relevant))


def recall_at_k(recommended: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Hits in the top ``k`` divided by ``|relevant|``; 0.0 when nothing is relevant."""
    if not relevant:
        return 0.0
    return sum(_hits(recommended, relevant, k)) / len(relevant)


def ndcg_at_k(recommended: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Binary-gain DCG of the top ``k`` over the ideal DCG of ``min(k, |relevant|)`` hits."""
    if not relevant:
        return 0.0
    dcg = sum(
        1.0 / math.log2(i + 2) for i, hit in enumerate(_hits(recommended, relevant, k)) if hit
    )
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / idcg


def average_precision_at_k(recommended: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Sum of the precision at each hit's rank, divided by ``min(k, |relevant|)``."""
    if not relevant:
        return 0.0
    total, hits = 0.0, 0
    for i, hit in enumerate(_hits(recommended, relevant, k)):
        if hit:
            hits += 1
            total += hits / (i + 1)
    return total / min(k, len(relevant))


def catalog_coverage(lists: Collection[Sequence[T]], catalog_size: int, k: int) -> float:
    """Distinct items across all top-``k`` lists divided by ``catalog_size``."""
    if catalog_size <= 0:
        raise ValueError("catalog_size must be positive")
    return len({item for rec in lists for item in rec[:k]}) / catalog_size


@dataclass(frozen=True, slots=True)
class MetricReport:
    """Mean per-user metrics at ``k`` over ``users`` evaluated users, and catalog coverage."""

    k: int
    users: int
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float


def evaluate(
    recommendations: Mapping[str, Sequence[str]],
    relevant: Mapping[str, Collection[str]],
    *,
    k: int,
    catalog_size: int,
) -> MetricReport:
    """Scores ``recommendations`` against ``relevant`` (users with no relevant item are
    skipped; coverage counts the lists of the evaluated users)."""
    users = [user for user in sorted(relevant) if relevant[user]]
    if not users:
        raise ValueError("no user has a held-out item")
    lists = [list(recommendations.get(user, ())) for user in users]

    def mean(metric: Callable[[Sequence[str], Collection[str], int], float]) -> float:
        return float(
            np.mean([metric(rec, relevant[u], k) for u, rec in zip(users, lists, strict=True)])
        )

    return MetricReport(
        k=k,
        users=len(users),
        precision=mean(precision_at_k),
        recall=mean(recall_at_k),
        ndcg=mean(ndcg_at_k),
        map=mean(average_precision_at_k),
        coverage=catalog_coverage(lists, catalog_size, k),
    )


class PopularityRecommender:
    """Recommends the items most users interacted with in training (ties: lower item index,
    i.e. smaller id), skipping the items the user already has."""

    def __init__(self, train: InteractionMatrix) -> None:
        self._train = train
        counts = np.diff(train.matrix.tocsc().indptr)  # users per item
        self._ranking = np.lexsort((np.arange(len(counts)), -counts))

    def recommend(self, profile_ids: Sequence[str], n: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        items = self._train.items
        for user in profile_ids:
            seen = self._train.items_of(user)
            chosen: list[str] = []
            for position in self._ranking:
                item = items.id(int(position))
                if item not in seen:
                    chosen.append(item)
                    if len(chosen) == n:
                        break
            out[user] = chosen
        return out
