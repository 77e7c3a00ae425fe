"""Uplift models: who is moved by a campaign, learned from a randomized campaign's subjects.

A predictive audience ranks people by how likely they are to convert; an uplift audience ranks
them by how much *more* likely a campaign makes them to convert (treated minus untreated
probability), which is what a marketer paying per contact wants: the persuadable, not the sure
things who would have bought anyway.

Training data come from the measurement service (``ListCampaignSubjects``): every subject of a
campaign with a holdout, treated (an arm; one arm with ``arm_id``) or control (the holdout,
never contacted), and whether it converted within the campaign's attribution window, counted the
way the campaign's report counts it. Because assignment was random, the treated-control
difference conditional on features is the campaign's causal effect; nothing else here could
give that (a propensity model trained on who bought cannot tell the persuadable from the sure
things).

Features are the predictive models' (:mod:`.features`: event aggregates, profile attributes) as
of the campaign's ``start_time``: a subject's behaviour before the campaign could reach it, so
the campaign's own effects never feed the model (no leakage). Subjects that had no event yet
have zeros.

Split and evaluation: ``test_fraction`` of the subjects (seeded, stratified by group so both
keep their treated share) is held out; the model is fitted on the rest and the held-out
subjects are ranked by its score. Qini coefficient, AUUC, uplift at 10/20/30/50% and deciles
are :mod:`precis_uplift`'s, the measurement service's own EvaluateUplift computation, so a
model's held-out Qini and the Qini a campaign later reports for it are the same measure.
Importances are permutation importances of the held-out Qini (drop when a feature is shuffled),
as shares.

Models (``method``): two-model (default; one classifier per group, uplift = the difference of
their probabilities) or class transformation (one classifier of z = y t + (1 - y)(1 - t),
weighted to propensity 1/2; uplift = 2 P(z) - 1). Both on the predictive models' base learner
(log1p of counts and money, standardized, logistic regression), for the reasons given in
:mod:`.predictive`. Outcomes are binary: converted (at least one attributed conversion) or not,
whatever the campaign's primary metric.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

import precis_uplift
from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.families.features import (
    ORDER_EVENT,
    BoolVector,
    FloatMatrix,
    Progress,
    profile_features,
    validate_features,
)
from precis_segmentation.families.predictive import (
    PredictionKind,
    PredictiveModel,
    classifier,
)
from precis_segmentation.store import utc

FRACTIONS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)
IMPORTANCE_REPEATS = 3


class UpliftMethod(enum.StrEnum):
    """How an uplift model is fitted (the proto's UpliftMethod)."""

    TWO_MODEL = "two_model"
    CLASS_TRANSFORMATION = "class_transformation"


@dataclass(frozen=True, slots=True)
class CampaignSubjects:
    """A campaign's subjects: profile ids, whether treated (else holdout), whether converted."""

    profile_ids: tuple[str, ...]
    treated: BoolVector
    converted: BoolVector

    def __post_init__(self) -> None:
        if not len(self.profile_ids) == len(self.treated) == len(self.converted):
            raise ValueError("profile_ids, treated and converted differ in length")


@dataclass(frozen=True, slots=True)
class UpliftDecileRow:
    """One decile of held-out subjects (the proto's UpliftModelDecile)."""

    decile: int
    treated: int
    control: int
    treated_rate: float
    control_rate: float
    uplift: float
    cumulative_gain: float
    min_score: float


@dataclass(frozen=True, slots=True)
class UpliftEvaluation:
    """How the model ranked held-out subjects (the proto's UpliftModelEvaluation, plus the
    training facts the PredictiveModel message carries)."""

    qini_coefficient: float
    auuc: float
    random_auuc: float
    treated: int
    control: int
    average_uplift: float
    uplift_at_k: tuple[tuple[float, float, int, int], ...]
    """(fraction, uplift, treated, control) for each of :data:`FRACTIONS`."""
    deciles: tuple[UpliftDecileRow, ...]
    positive_rate: float
    training_rows: int
    test_rows: int
    feature_importances: dict[str, float]

    def as_document(self) -> dict[str, Any]:
        """The evaluation as the JSON result of the model's row."""
        return {
            "positive_rate": self.positive_rate,
            "training_rows": self.training_rows,
            "test_rows": self.test_rows,
            "feature_importances": dict(self.feature_importances),
            "uplift": {
                "qini_coefficient": self.qini_coefficient,
                "auuc": self.auuc,
                "random_auuc": self.random_auuc,
                "treated": self.treated,
                "control": self.control,
                "average_uplift": self.average_uplift,
                "uplift_at_k": [
                    {"fraction": f, "uplift": u, "treated": t, "control": c}
                    for f, u, t, c in self.uplift_at_k
                ],
                "deciles": [
                    {
                        "decile": d.decile,
                        "treated": d.treated,
                        "control": d.control,
                        "treated_rate": d.treated_rate,
                        "control_rate": d.control_rate,
                        "uplift": d.uplift,
                        "cumulative_gain": d.cumulative_gain,
                        "min_score": d.min_score,
                    }
                    for d in self.deciles
                ],
            },
        }


@dataclass(frozen=True, slots=True)
class TrainedUplift:
    """The outcome of :func:`train_uplift`: the model (scored like any predictive model) and its
    held-out evaluation."""

    model: PredictiveModel
    evaluation: UpliftEvaluation


def stratified_split(treated: BoolVector, *, test_fraction: float, seed: int) -> BoolVector:
    """A seeded test mask holding ``round(test_fraction * size)`` of each group (treated,
    control), so training and test keep the campaign's treated share."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(treated), dtype=np.bool_)
    for group in (np.flatnonzero(treated), np.flatnonzero(~treated)):
        size = round(len(group) * test_fraction)
        if len(group) > 1:
            size = min(max(size, 1), len(group) - 1)
        mask[rng.permutation(group)[:size]] = True
    return mask


def _estimator(method: UpliftMethod, names: Sequence[str], seed: int) -> Any:
    base = classifier(names)
    if method is UpliftMethod.CLASS_TRANSFORMATION:
        return precis_uplift.ClassTransformationUplift(base, seed=seed)
    return precis_uplift.TwoModelUplift(base, seed=seed)


def _require_fit_data(treated: BoolVector, converted: BoolVector, which: str) -> None:
    for name, group in (("treated", treated), ("holdout", ~treated)):
        total, positives = int(group.sum()), int((converted & group).sum())
        if total == 0:
            raise FailedPrecondition(
                f"the {which} set has no {name} subject: an uplift model compares the treated "
                "with the holdout, so the campaign needs both"
            )
        if which == "training" and positives in (0, total):
            raise FailedPrecondition(
                f"the {name} subjects of the training set ({total}) have one outcome only "
                f"({positives} converted): an uplift model cannot be fitted; wait for more "
                "conversions or use a campaign with more subjects"
            )


def _importances(
    model: Any,
    values: FloatMatrix,
    treated: BoolVector,
    outcome: NDArray[np.float64],
    names: Sequence[str],
    *,
    baseline: float,
    seed: int,
) -> dict[str, float]:
    """Permutation importances of the held-out Qini coefficient, as shares summing to 1 (equal
    shares when no feature matters)."""
    rng = np.random.default_rng(seed)
    raw = np.zeros(len(names))
    for column in range(len(names)):
        drops = []
        for _ in range(IMPORTANCE_REPEATS):
            shuffled = values.copy()
            shuffled[:, column] = rng.permutation(shuffled[:, column])
            scores = np.asarray(model.predict(shuffled), dtype=np.float64)
            drops.append(baseline - precis_uplift.qini_coefficient(scores, treated, outcome))
        raw[column] = max(float(np.mean(drops)), 0.0)
    total = float(raw.sum())
    shares = raw / total if total > 0 else np.full(len(names), 1.0 / len(names))
    return {name: float(share) for name, share in zip(names, shares, strict=True)}


def evaluate(
    scores: NDArray[np.float64], treated: BoolVector, converted: BoolVector
) -> tuple[precis_uplift.UpliftEvaluation, tuple[UpliftDecileRow, ...]]:
    """precis_uplift's evaluation of held-out scores, with each decile's lowest score."""
    outcome = converted.astype(np.float64)
    result = precis_uplift.evaluate_uplift(scores, treated, outcome, fractions=FRACTIONS)
    ranked = np.sort(scores)[::-1]
    rows: list[UpliftDecileRow] = []
    seen = 0
    for d in result.deciles:
        size = d.treated + d.control
        seen += size
        rows.append(
            UpliftDecileRow(
                decile=d.decile,
                treated=d.treated,
                control=d.control,
                treated_rate=d.treated_mean,
                control_rate=d.control_mean,
                uplift=d.uplift or 0.0,
                cumulative_gain=d.cumulative_gain,
                min_score=float(ranked[seen - 1]) if size else 0.0,
            )
        )
    return result, tuple(rows)


def train_uplift(
    session: Session,
    workspace_id: str,
    subjects: CampaignSubjects,
    *,
    campaign_start: datetime,
    features: Sequence[str] | None = None,
    method: UpliftMethod = UpliftMethod.TWO_MODEL,
    seed: int = 0,
    test_fraction: float = 0.2,
    order_event: str = ORDER_EVENT,
    progress: Progress | None = None,
) -> TrainedUplift:
    """Fits and evaluates an uplift model on a campaign's subjects (see the module docstring).

    Raises InvalidArgument on bad features or fraction, FailedPrecondition when the data cannot
    support a model (no holdout, a group without both outcomes).
    """
    if not 0.05 <= test_fraction <= 0.5:
        raise InvalidArgument.field("test_fraction", "must be between 0.05 and 0.5")
    names = validate_features(features, attributes=True)
    report = progress or (lambda _: None)
    cutoff = utc(campaign_start)
    report(0.0)
    matrix = profile_features(
        session,
        workspace_id,
        cutoff=cutoff,
        names=names,
        order_event=order_event,
        profile_ids=subjects.profile_ids,
    )
    report(0.3)
    treated, converted = subjects.treated, subjects.converted
    test = stratified_split(treated, test_fraction=test_fraction, seed=seed)
    train = ~test
    _require_fit_data(treated[train], converted[train], "training")
    _require_fit_data(treated[test], converted[test], "test")
    model = _estimator(method, names, seed)
    model.fit(matrix.values[train], treated[train], converted[train])
    report(0.6)
    scores = np.asarray(model.predict(matrix.values[test]), dtype=np.float64)
    result, deciles = evaluate(scores, treated[test], converted[test])
    held_t, held_c = treated[test], ~treated[test]
    average = float(converted[test][held_t].mean() - converted[test][held_c].mean())
    importances = _importances(
        model,
        matrix.values[test],
        treated[test],
        converted[test].astype(np.float64),
        names,
        baseline=result.qini_coefficient,
        seed=seed,
    )
    report(1.0)
    evaluation = UpliftEvaluation(
        qini_coefficient=result.qini_coefficient,
        auuc=result.auuc,
        random_auuc=result.random_auuc,
        treated=result.treated,
        control=result.control,
        average_uplift=average,
        uplift_at_k=tuple(
            (a.fraction, a.uplift or 0.0, a.treated, a.control) for a in result.uplift_at_k
        ),
        deciles=deciles,
        positive_rate=float(converted[train].mean()),
        training_rows=int(train.sum()),
        test_rows=int(test.sum()),
        feature_importances=importances,
    )
    stored = PredictiveModel(
        kind=PredictionKind.UPLIFT,
        feature_names=names,
        horizon=timedelta(0),
        target_event=None,
        order_event=order_event,
        active_days=0,
        cutoff=cutoff,
        estimator=model,
    )
    return TrainedUplift(stored, evaluation)
