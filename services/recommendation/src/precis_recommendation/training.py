"""Train an implicit-feedback model (ALS or BPR, from the ``implicit`` library) on a confidence
matrix, recommend top-N unseen items, and evaluate it next to the popularity baseline.

Runs on the CPU (``use_gpu=False``) with a fixed ``random_state`` and, by default, one thread,
so the same data and seed give the same recommendations. Set ``OPENBLAS_NUM_THREADS=1`` in the
environment: implicit warns and is much slower otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from implicit.als import AlternatingLeastSquares  # type: ignore[import-untyped]  # no types
from implicit.bpr import BayesianPersonalizedRanking  # type: ignore[import-untyped]  # as above

from precis_recommendation.interactions import (
    Interaction,
    InteractionMatrix,
    Weights,
    build_matrix,
    held_out,
)
from precis_recommendation.metrics import MetricReport, PopularityRecommender, evaluate

Algorithm = Literal["als", "bpr"]


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Hyperparameters. ``alpha`` scales confidence in ALS; ``learning_rate`` is BPR's only."""

    algorithm: Algorithm = "als"
    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 1.0
    learning_rate: float = 0.01
    seed: int = 0
    num_threads: int = 1


class Recommender:
    """A fitted implicit model over the users and items of its training matrix."""

    def __init__(self, model: Any, train: InteractionMatrix) -> None:
        self._model = model
        self._train = train

    @property
    def model(self) -> Any:
        """The fitted implicit model (its factors, or implicit's own evaluation)."""
        return self._model

    def recommend(self, profile_ids: Sequence[str], n: int) -> dict[str, list[str]]:
        """Top ``n`` items per known profile, excluding items it interacted with in training;
        unknown profiles get an empty list."""
        known = [user for user in profile_ids if user in self._train.users]
        out: dict[str, list[str]] = {user: [] for user in profile_ids}
        if not known:
            return out
        rows = np.array([self._train.users.position(user) for user in known], dtype=np.int32)
        ids, _scores = self._model.recommend(
            rows, self._train.matrix[rows], N=n, filter_already_liked_items=True
        )
        items = self._train.items
        for user, row in zip(known, np.atleast_2d(ids), strict=True):
            # implicit pads with -1 when fewer than n items are left
            out[user] = [items.id(int(j)) for j in row if j >= 0]
        return out


def train(
    matrix: InteractionMatrix,
    config: ModelConfig | None = None,
    *,
    callback: Callable[..., None] | None = None,
) -> Recommender:
    """Fits ALS (the default) or BPR on the user x item confidence matrix; ``callback`` is
    called after each iteration (epoch) with (iteration, seconds, loss or progress)."""
    config = config or ModelConfig()
    model: Any
    if config.algorithm == "als":
        model = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            alpha=config.alpha,
            iterations=config.iterations,
            random_state=config.seed,
            num_threads=config.num_threads,
            use_gpu=False,
        )
    elif config.algorithm == "bpr":
        model = BayesianPersonalizedRanking(
            factors=config.factors,
            learning_rate=config.learning_rate,
            regularization=config.regularization,
            iterations=config.iterations,
            random_state=config.seed,
            num_threads=config.num_threads,
            use_gpu=False,
        )
    else:
        raise ValueError(f"unknown algorithm {config.algorithm!r}")
    model.fit(matrix.matrix, show_progress=False, callback=callback)
    return Recommender(model, matrix)


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """The model and the popularity baseline scored on the same split and users."""

    config: ModelConfig
    model: MetricReport
    popularity: MetricReport

    def table(self) -> str:
        """A Markdown table of both rows."""
        k = self.model.k
        lines = [
            f"| recommender | users | precision@{k} | recall@{k} | nDCG@{k} | MAP@{k} "
            f"| coverage@{k} |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in (
            (self.config.algorithm.upper(), self.model),
            ("popularity", self.popularity),
        ):
            lines.append(
                f"| {name} | {r.users} | {r.precision:.4f} | {r.recall:.4f} | {r.ndcg:.4f} "
                f"| {r.map:.4f} | {r.coverage:.4f} |"
            )
        return "\n".join(lines)


def train_and_evaluate(
    train_records: Iterable[Interaction],
    test_records: Iterable[Interaction],
    *,
    config: ModelConfig | None = None,
    k: int = 10,
    weights: Weights | None = None,
    half_life_days: float | None = None,
    as_of: datetime | None = None,
) -> EvaluationReport:
    """Builds the training matrix, fits the model, and scores its top-``k`` lists and the
    popularity baseline's against each trained user's unseen test items (see
    :func:`precis_recommendation.interactions.held_out`). Coverage is over the training
    catalog."""
    config = config or ModelConfig()
    matrix = build_matrix(
        train_records, weights=weights, half_life_days=half_life_days, as_of=as_of
    )
    relevant = held_out(list(test_records), matrix)
    users = sorted(relevant)
    catalog = len(matrix.items)
    model = train(matrix, config)
    model_report = evaluate(model.recommend(users, k), relevant, k=k, catalog_size=catalog)
    popularity = PopularityRecommender(matrix).recommend(users, k)
    popularity_report = evaluate(popularity, relevant, k=k, catalog_size=catalog)
    return EvaluationReport(config, model_report, popularity_report)
