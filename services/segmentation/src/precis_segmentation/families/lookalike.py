"""Lookalike audiences: the profiles outside a seed that behave most like it.

Method: a classifier learns seed (1) against the rest of the population (0) on the behaviour
features; its probability is the similarity score (0..1), and the expansion is the ``size``
non-seed profiles with the highest scores. The rest of the population is unlabelled rather
than negative (positive-unlabelled learning): the profiles most like the seed are exactly the
"negatives" the classifier cannot separate, which is what ranks them first.

A model must not score the profiles it was trained to call negative: boosted trees would push
every one of them down and the lookalikes with them. So the population is split in two folds
(seeded); the model of one fold is trained on the other fold's non-seed profiles and scores its
own fold's, and each expansion candidate is scored by a model that never saw it.

Quality: before fitting, :data:`HOLDOUT_SHARE` of the seed is held out (seeded) and treated as
neither seed nor candidate; it is scored the same way (by its fold's model). ``holdout_recall``
is the share of those held-out members scoring at least the expansion's lowest admitted score
(``similarity_cutoff``); ``lift_over_random`` divides it by the share of candidates admitted,
i.e. by the recall a random audience of the same size would have. The classifier is
gradient-boosted trees (:func:`fit_similarity`), with the classes weighed equally so
that the score is comparable between a seed of 100 and one of 100,000.

Seed members without any fact before ``as_of`` have no features and cannot take part; the
result says how many seed members were used.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import (  # type: ignore[import-untyped]  # scikit-learn ships no types
    HistGradientBoostingClassifier,
)
from sqlalchemy.orm import Session

from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.families.features import (
    FEATURES,
    FloatMatrix,
    behaviour_features,
    validate_features,
)
from precis_segmentation.families.predictive import positive_scores

MIN_SEED = 100
HOLDOUT_SHARE = 0.2
FOLDS = 2
MAX_NEGATIVES_PER_FOLD = 100_000
"""Non-seed training rows per fold model (a seeded sample beyond it), to bound fitting time."""


@dataclass(frozen=True, slots=True)
class LookalikeQuality:
    """Expected quality of an expansion (the proto's LookalikeQuality)."""

    holdout_size: int
    holdout_recall: float
    lift_over_random: float
    similarity_cutoff: float


@dataclass(frozen=True, slots=True)
class Lookalike:
    """The expansion, most similar first, with each member's score; and its quality."""

    profile_ids: tuple[str, ...]
    scores: NDArray[np.float64]
    quality: LookalikeQuality
    seed_used: int
    candidates: int


def fit_similarity(
    values: FloatMatrix, labels: NDArray[np.bool_], *, seed: int
) -> HistGradientBoostingClassifier:
    """Seed-vs-population boosted trees with the classes weighed equally.

    Trees rather than the predictive family's logistic regression: a seed is any set a
    marketer picked (buyers of one category, a cluster in the middle of the distribution), so
    the boundary around it need not be monotone in any feature; trees also need no scaling.
    Fixed iterations (no early stopping) so that a small seed is not cut short by a noisy
    validation split.
    """
    model = HistGradientBoostingClassifier(
        max_iter=150,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        class_weight="balanced",
        random_state=seed,
    )
    model.fit(values, labels.astype(np.int64))
    return model


def expand_matrix(
    profile_ids: Sequence[str],
    values: FloatMatrix,
    in_seed: NDArray[np.bool_],
    *,
    size: int,
    seed: int = 0,
) -> Lookalike:
    """The lookalike expansion over a feature matrix (see the module docstring); the pure core."""
    in_seed = np.asarray(in_seed, dtype=np.bool_)
    seed_count = int(in_seed.sum())
    if seed_count < MIN_SEED:
        raise InvalidArgument.field(
            "seed_segment_id",
            f"the seed has {seed_count} members with behaviour data; at least {MIN_SEED} needed",
        )
    candidates = np.flatnonzero(~in_seed)
    if size < 1:
        raise InvalidArgument.field("size", "must be at least 1")
    if size > len(candidates):
        raise InvalidArgument.field(
            "size", f"must be at most the {len(candidates)} profiles outside the seed"
        )
    rng = np.random.default_rng(seed)
    seed_rows = np.flatnonzero(in_seed)
    holdout = np.zeros(len(profile_ids), dtype=np.bool_)
    holdout[rng.choice(seed_rows, round(seed_count * HOLDOUT_SHARE), replace=False)] = True
    training_seed = in_seed & ~holdout
    fold = rng.integers(0, FOLDS, len(profile_ids))
    scores = np.full(len(profile_ids), np.nan)
    for k in range(FOLDS):
        negatives = np.flatnonzero(~in_seed & (fold != k))
        if len(negatives) > MAX_NEGATIVES_PER_FOLD:
            negatives = np.sort(rng.choice(negatives, MAX_NEGATIVES_PER_FOLD, replace=False))
        rows = np.concatenate([np.flatnonzero(training_seed), negatives])
        labels = np.zeros(len(rows), dtype=np.bool_)
        labels[: int(training_seed.sum())] = True
        if labels.all():
            raise FailedPrecondition("no profiles outside the seed to learn from")
        model = fit_similarity(values[rows], labels, seed=seed + k)
        scored = np.flatnonzero((fold == k) & (~in_seed | holdout))
        scores[scored] = positive_scores(model, values[scored])
    # Highest score first; ties by position (profile id order), so the result is reproducible.
    ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
    chosen = ranked[:size]
    cutoff = float(scores[chosen].min())
    recall = float((scores[holdout] >= cutoff).mean())
    admitted = size / len(candidates)
    return Lookalike(
        profile_ids=tuple(profile_ids[i] for i in chosen),
        scores=scores[chosen],
        quality=LookalikeQuality(
            holdout_size=int(holdout.sum()),
            holdout_recall=recall,
            lift_over_random=recall / admitted,
            similarity_cutoff=cutoff,
        ),
        seed_used=seed_count,
        candidates=len(candidates),
    )


def expand_lookalike(
    session: Session,
    workspace_id: str,
    seed_profile_ids: Collection[str],
    *,
    size: int,
    as_of: datetime,
    features: Sequence[str] | None = None,
    seed: int = 0,
) -> Lookalike:
    """The ``size`` profiles outside the seed most like it, on behaviour as of ``as_of``.

    The population is every profile with a fact before ``as_of``; seed members among them form
    the seed (at least :data:`MIN_SEED`, else InvalidArgument on ``seed_segment_id``).
    """
    names = validate_features(features, default=FEATURES)
    matrix = behaviour_features(session, workspace_id, cutoff=as_of, features=names)
    members = frozenset(seed_profile_ids)
    in_seed = np.array([pid in members for pid in matrix.profile_ids], dtype=np.bool_)
    return expand_matrix(matrix.profile_ids, matrix.values, in_seed, size=size, seed=seed)
