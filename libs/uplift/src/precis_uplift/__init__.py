"""Uplift (incremental response) modelling: evaluate how well scores rank subjects by what a
campaign causes (Qini, AUUC, uplift at k), fit uplift models, and pick an audience by score.

A library of its own because two services use it: measurement evaluates a campaign's scores with
it (EvaluateUplift) and segmentation trains its uplift models with it (PREDICTION_KIND_UPLIFT),
so a model's held-out Qini and a campaign's Qini are one computation.

The evaluation follows scikit-uplift 0.5 (``sklift.metrics``) so numbers can be compared with it:

* Subjects are ranked by score, highest first. Subjects with equal scores form one block that is
  never split: the curves have vertices only at the end of each block (as ``sklift``'s
  ``uplift_curve``/``qini_curve``, which take ``np.diff`` of the sorted scores), and between
  vertices they are straight lines, which is what the expected curve under a random order of the
  tied subjects looks like. So the result never depends on the order of the input.
* With ``n`` subjects of which ``n_t`` treated and ``n_c`` control among the first ``x``, and
  ``y_t``, ``y_c`` their outcome sums: Qini(x) = ``y_t - y_c * n_t / n_c``; uplift gain(x) =
  ``(y_t / n_t - y_c / n_c) * x``. A group with no subject contributes a mean of 0 (sklift's
  ``np.divide(..., where=n != 0)``): never NaN.
* The random-targeting line is the straight line from (0, 0) to the curve's end point.
* Qini coefficient = sklift's ``qini_auc_score(negative_effect=True)``: (area under the Qini
  curve - area under its random line) / (area under the perfect Qini curve - the same), where the
  perfect curve ranks by ``y * t - y * (1 - t)`` (treated responders first, control responders
  last). 0 when the denominator is not positive (no outcome at all, or one group empty).
* AUUC and random AUUC are raw areas (trapezoids at the vertices) with the fraction targeted on
  the x axis (0..1), so they are in outcome units: sklift's ``auc(*uplift_curve(...)) / n``.
* Deciles (for lift and gain charts) cut the ranking after the first ``ceil(d * n / 10)``
  subjects, d = 1..10, each cut widened to the end of the tie block it falls in, exactly as
  uplift at fraction d/10: deciles 1..d together are the subjects :func:`uplift_at_fraction`
  compares at d/10. Without ties the deciles differ in size by at most one; a tie block
  straddling a cut goes whole to the higher decile, which leaves the next one smaller or empty
  (every decile is empty after a constant score's first; with fewer than 10 subjects some are).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import clone  # type: ignore[import-untyped]  # scikit-learn ships no types
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]  # as above
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]  # as above
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]  # as above

DEFAULT_FRACTIONS: tuple[float, ...] = (0.1, 0.2, 0.3)
DEFAULT_CURVE_POINTS = 20
MAX_CURVE_POINTS = 1000


@dataclass(frozen=True, slots=True)
class UpliftObservation:
    """One subject: its score (higher means target first), whether it was treated, its outcome."""

    score: float
    treated: bool
    outcome: float


@dataclass(frozen=True, slots=True)
class UpliftAtFraction:
    """Uplift among the top-scored ``fraction``: treated mean minus control mean, with counts.

    ``uplift`` is None when the top fraction holds no treated or no control subject (no
    comparison is possible; the contract's mapping sends 0 and the counts show why)."""

    fraction: float
    uplift: float | None
    treated: int
    control: int


@dataclass(frozen=True, slots=True)
class UpliftCurvePoint:
    """One point of the curves. ``random`` is the random line of the uplift (gain) curve, the
    one ``random_auuc`` integrates; ``qini_random`` (not in the contract) is the Qini curve's."""

    fraction: float
    qini: float
    uplift_gain: float
    random: float
    qini_random: float


@dataclass(frozen=True, slots=True)
class UpliftDecile:
    """One tenth of the ranked subjects (decile 1 has the highest scores; see the module
    docstring for the cuts and ties).

    A mean is 0 when its group is empty, and ``uplift`` (treated mean minus control mean) is None
    when either group is (the contract's mapping sends 0). ``cumulative_gain`` is the incremental
    outcomes, uplift times subjects, of deciles 1..this one over those of all deciles: it ends at
    1, can leave 0..1 when some deciles have a negative uplift, and is 0 everywhere when the
    total is not positive (no gain to share out)."""

    decile: int
    treated: int
    control: int
    treated_mean: float
    control_mean: float
    uplift: float | None
    cumulative_gain: float


@dataclass(frozen=True, slots=True)
class UpliftEvaluation:
    """What EvaluateUpliftResponse carries."""

    qini_coefficient: float
    auuc: float
    random_auuc: float
    uplift_at_k: tuple[UpliftAtFraction, ...]
    curve: tuple[UpliftCurvePoint, ...]
    treated: int
    control: int
    deciles: tuple[UpliftDecile, ...]


@dataclass(frozen=True, slots=True)
class _Curves:
    """Vertices of the curves: subjects targeted (0..n) and the curve values there."""

    x: NDArray[np.float64]
    qini: NDArray[np.float64]
    gain: NDArray[np.float64]


def _as_arrays(
    scores: ArrayLike, treated: ArrayLike, outcomes: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(treated).ravel()
    y = np.asarray(outcomes, dtype=np.float64).ravel()
    if not (s.size == t.size == y.size):
        raise ValueError(
            f"scores, treated and outcomes differ in length: {s.size}, {t.size}, {y.size}"
        )
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(y))):
        raise ValueError("scores and outcomes must be finite")
    if not np.all((t == 0) | (t == 1)):
        raise ValueError("treated must be 0/1 or boolean")
    return s, t.astype(np.bool_), y


def _safe_divide(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _curves(s: NDArray[np.float64], t: NDArray[np.bool_], y: NDArray[np.float64]) -> _Curves:
    # Descending by score; the order inside a tie block is irrelevant since only block ends are
    # kept as vertices.
    order = np.argsort(-s, kind="stable")
    s, t, y = s[order], t[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tf = t.astype(np.float64)
    n_t = np.cumsum(tf)[ends]
    y_t = np.cumsum(y * tf)[ends]
    y_c = np.cumsum(y * (1.0 - tf))[ends]
    n_all = (ends + 1).astype(np.float64)
    n_c = n_all - n_t
    qini = y_t - y_c * _safe_divide(n_t, n_c)
    gain = (_safe_divide(y_t, n_t) - _safe_divide(y_c, n_c)) * n_all
    return _Curves(x=np.r_[0.0, n_all], qini=np.r_[0.0, qini], gain=np.r_[0.0, gain])


def _area(x: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2.0))


def qini_coefficient(scores: ArrayLike, treated: ArrayLike, outcomes: ArrayLike) -> float:
    """scikit-uplift's ``qini_auc_score(negative_effect=True)`` (see the module docstring)."""
    s, t, y = _as_arrays(scores, treated, outcomes)
    if s.size == 0:
        return 0.0
    return _qini_coefficient(_curves(s, t, y), t, y)


def _qini_coefficient(actual: _Curves, t: NDArray[np.bool_], y: NDArray[np.float64]) -> float:
    perfect = _curves(np.where(t, y, -y), t, y)
    n = float(actual.x[-1])
    baseline = n * float(actual.qini[-1]) / 2.0
    denominator = _area(perfect.x, perfect.qini) - baseline
    if not denominator > 0.0:
        return 0.0
    return (_area(actual.x, actual.qini) - baseline) / denominator


def uplift_at_fraction(
    s: NDArray[np.float64], t: NDArray[np.bool_], y: NDArray[np.float64], fraction: float
) -> UpliftAtFraction:
    """Uplift among the first ``ceil(fraction * n)`` subjects by score (sklift's ``uplift_at_k``,
    strategy "overall"), widened to the end of the tie block the cut falls in, so that tied
    subjects are all in or all out; the counts say how many subjects were actually compared."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in 0..1, got {fraction}")
    # The epsilon keeps 0.3 * 10 = 3.0000000000000004 from becoming 4.
    k = max(0, min(s.size, math.ceil(fraction * s.size - 1e-9)))
    if k == 0:
        return UpliftAtFraction(fraction=fraction, uplift=None, treated=0, control=0)
    cut = np.sort(s)[::-1][k - 1]
    inside = s >= cut
    treated_in = inside & t
    control_in = inside & ~t
    n_t, n_c = int(treated_in.sum()), int(control_in.sum())
    uplift = None
    if n_t and n_c:
        uplift = float(y[treated_in].mean() - y[control_in].mean())
    return UpliftAtFraction(fraction=fraction, uplift=uplift, treated=n_t, control=n_c)


DECILES = 10


def uplift_deciles(
    s: NDArray[np.float64], t: NDArray[np.bool_], y: NDArray[np.float64]
) -> tuple[UpliftDecile, ...]:
    """The subjects in ten groups by score, highest first (see the module docstring)."""
    ranked = np.sort(s)[::-1]
    ends = [0]
    for d in range(1, DECILES + 1):
        k = (d * s.size + DECILES - 1) // DECILES  # ceil(d * n / 10) in exact integer arithmetic
        ends.append(int(np.count_nonzero(s >= ranked[k - 1])) if k else 0)
    order = np.argsort(-s, kind="stable")
    tf = t[order].astype(np.float64)
    ys = y[order]
    cum_t = np.r_[0.0, np.cumsum(tf)]
    cum_yt = np.r_[0.0, np.cumsum(ys * tf)]
    cum_yc = np.r_[0.0, np.cumsum(ys * (1.0 - tf))]
    groups: list[tuple[int, int, float, float, float | None]] = []
    for lo, hi in itertools.pairwise(ends):
        n_t = int(cum_t[hi] - cum_t[lo])
        n_c = (hi - lo) - n_t
        mean_t = float(cum_yt[hi] - cum_yt[lo]) / n_t if n_t else 0.0
        mean_c = float(cum_yc[hi] - cum_yc[lo]) / n_c if n_c else 0.0
        groups.append((n_t, n_c, mean_t, mean_c, mean_t - mean_c if n_t and n_c else None))
    incremental = [(u or 0.0) * (n_t + n_c) for n_t, n_c, _, _, u in groups]
    total = math.fsum(incremental)
    deciles = []
    for d, (n_t, n_c, mean_t, mean_c, uplift) in enumerate(groups, start=1):
        share = math.fsum(incremental[:d]) / total if total > 0.0 else 0.0
        deciles.append(UpliftDecile(d, n_t, n_c, mean_t, mean_c, uplift, share))
    return tuple(deciles)


def evaluate_uplift(
    scores: ArrayLike,
    treated: ArrayLike,
    outcomes: ArrayLike,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    curve_points: int = DEFAULT_CURVE_POINTS,
) -> UpliftEvaluation:
    """Qini coefficient, AUUC, uplift at each fraction, the curves sampled at ``curve_points``
    evenly spaced fractions from 0 to 1 (both included), interpolated linearly between vertices,
    and the deciles.

    An empty input gives zeros everywhere (and ``uplift=None`` at every fraction)."""
    if not 2 <= curve_points <= MAX_CURVE_POINTS:
        raise ValueError(f"curve_points must be in 2..{MAX_CURVE_POINTS}, got {curve_points}")
    s, t, y = _as_arrays(scores, treated, outcomes)
    at_k = tuple(uplift_at_fraction(s, t, y, f) for f in fractions)
    grid = np.linspace(0.0, 1.0, curve_points)
    n_treated, n_control = int(t.sum()), int((~t).sum())
    if s.size == 0:
        flat = tuple(UpliftCurvePoint(float(f), 0.0, 0.0, 0.0, 0.0) for f in grid)
        return UpliftEvaluation(0.0, 0.0, 0.0, at_k, flat, 0, 0, uplift_deciles(s, t, y))
    curves = _curves(s, t, y)
    n = float(s.size)
    fx = curves.x / n
    qini_end, gain_end = float(curves.qini[-1]), float(curves.gain[-1])
    points = tuple(
        UpliftCurvePoint(
            fraction=float(f),
            qini=float(np.interp(f, fx, curves.qini)),
            uplift_gain=float(np.interp(f, fx, curves.gain)),
            random=float(f * gain_end),
            qini_random=float(f * qini_end),
        )
        for f in grid
    )
    return UpliftEvaluation(
        qini_coefficient=_qini_coefficient(curves, t, y),
        auuc=_area(fx, curves.gain),
        random_auuc=gain_end / 2.0,
        uplift_at_k=at_k,
        curve=points,
        treated=n_treated,
        control=n_control,
        deciles=uplift_deciles(s, t, y),
    )


def evaluate_observations(
    observations: Sequence[UpliftObservation],
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    curve_points: int = DEFAULT_CURVE_POINTS,
) -> UpliftEvaluation:
    """:func:`evaluate_uplift` on the contract's observations."""
    return evaluate_uplift(
        [o.score for o in observations],
        [o.treated for o in observations],
        [o.outcome for o in observations],
        fractions=fractions,
        curve_points=curve_points,
    )


# Uplift models. Logistic regression on standardized features is the default base learner: on
# campaign data the response is rare (about 1% on the dmba hair-care promotion) and an uplift is
# a small difference of two probabilities, which gradient boosting, fitting noise in each model,
# swamps; a smooth, regularized, convex model is deterministic and fast. Any scikit-learn
# classifier with predict_proba can be passed instead.


def default_classifier(seed: int = 0) -> Any:
    """Standardized features into an L2-regularized logistic regression."""
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=1.0, max_iter=1000, random_state=seed)
    )


def _seeded(estimator: Any, seed: int) -> Any:
    """A fresh copy of ``estimator`` with every ``random_state`` in it set to ``seed``."""
    copy = clone(estimator)
    seeds = {name: seed for name in copy.get_params(deep=True) if name.endswith("random_state")}
    if seeds:
        copy.set_params(**seeds)
    return copy


def _check_fit_inputs(
    x: ArrayLike, treated: ArrayLike, outcome: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64]]:
    features = np.asarray(x, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"X must be a 2-d feature matrix, got shape {features.shape}")
    t = np.asarray(treated).ravel()
    y = np.asarray(outcome).ravel()
    if not (features.shape[0] == t.size == y.size):
        raise ValueError("X, treated and outcome differ in length")
    if not np.all((t == 0) | (t == 1)) or not np.all((y == 0) | (y == 1)):
        raise ValueError("treated and outcome must be binary (0/1)")
    tb = t.astype(np.bool_)
    yi = y.astype(np.int64)
    for name, group in (("treated", tb), ("control", ~tb)):
        if len(np.unique(yi[group])) < 2:
            raise ValueError(f"the {name} group needs both outcomes (0 and 1) to fit a model")
    return features, tb, yi


class TwoModelUplift:
    """T-learner: one classifier fitted on the treated, one on the control; the uplift score is
    P(outcome | x, treated) - P(outcome | x, control). Binary outcomes only."""

    def __init__(self, classifier: Any | None = None, *, seed: int = 0) -> None:
        self._template = classifier if classifier is not None else default_classifier(seed)
        self._seed = seed
        self._treated_model: Any | None = None
        self._control_model: Any | None = None

    def fit(self, x: ArrayLike, treated: ArrayLike, outcome: ArrayLike) -> TwoModelUplift:
        features, t, y = _check_fit_inputs(x, treated, outcome)
        self._treated_model = _seeded(self._template, self._seed).fit(features[t], y[t])
        self._control_model = _seeded(self._template, self._seed).fit(features[~t], y[~t])
        return self

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        if self._treated_model is None or self._control_model is None:
            raise RuntimeError("fit the model before predicting")
        features = np.asarray(x, dtype=np.float64)
        p_t = self._treated_model.predict_proba(features)[:, 1]
        p_c = self._control_model.predict_proba(features)[:, 1]
        return np.asarray(p_t - p_c, dtype=np.float64)


class ClassTransformationUplift:
    """Class transformation (Jaskowski & Jaroszewicz 2012, "Uplift modeling for clinical trial
    data"): one classifier learns Z = 1 for treated responders and control non-responders, and
    with a treatment propensity of 1/2, uplift(x) = 2 P(Z = 1 | x) - 1.

    Valid for binary outcomes in a randomized campaign with a known propensity ``p`` (the share
    treated, which need not be 1/2): the treated are weighted 1 / (2p) and the control
    1 / (2 (1 - p)), so the weighted sample has propensity 1/2 while the outcome distribution
    within each group is unchanged, and the identity above holds for it. ``propensity=None``
    takes the treated share of the training data (right for a holdout drawn at a fixed rate).
    """

    def __init__(
        self, classifier: Any | None = None, *, propensity: float | None = None, seed: int = 0
    ) -> None:
        if propensity is not None and not 0.0 < propensity < 1.0:
            raise ValueError(f"propensity must be in (0, 1), got {propensity}")
        self._template = classifier if classifier is not None else default_classifier(seed)
        self._propensity = propensity
        self._seed = seed
        self._model: Any | None = None
        self.propensity_: float | None = None

    def fit(
        self, x: ArrayLike, treated: ArrayLike, outcome: ArrayLike
    ) -> ClassTransformationUplift:
        features, t, y = _check_fit_inputs(x, treated, outcome)
        p = self._propensity if self._propensity is not None else float(t.mean())
        z = np.where(t, y, 1 - y)
        weights = np.where(t, 1.0 / (2.0 * p), 1.0 / (2.0 * (1.0 - p)))
        model = _seeded(self._template, self._seed)
        # Pipelines route sample weights to their last step by name.
        steps = getattr(model, "steps", None)
        fit_params = (
            {f"{steps[-1][0]}__sample_weight": weights} if steps else {"sample_weight": weights}
        )
        self._model = model.fit(features, z, **fit_params)
        self.propensity_ = p
        return self

    def predict(self, x: ArrayLike) -> NDArray[np.float64]:
        if self._model is None:
            raise RuntimeError("fit the model before predicting")
        p_z = self._model.predict_proba(np.asarray(x, dtype=np.float64))[:, 1]
        return np.asarray(2.0 * p_z - 1.0, dtype=np.float64)


def choose_audience(
    scores: ArrayLike, *, top_fraction: float | None = None, threshold: float | None = None
) -> NDArray[np.int64]:
    """Indices of the subjects to target, best score first: either the first
    ``ceil(top_fraction * n)`` (ties at the cut broken by input order, earlier first, so the
    audience has exactly that size) or every subject whose score is at least ``threshold``.
    Exactly one of the two must be given."""
    if (top_fraction is None) == (threshold is None):
        raise ValueError("give exactly one of top_fraction and threshold")
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    order = np.argsort(-s, kind="stable").astype(np.int64)
    if threshold is not None:
        return order[s[order] >= threshold]
    if top_fraction is None or not 0.0 <= top_fraction <= 1.0:
        raise ValueError(f"top_fraction must be in 0..1, got {top_fraction}")
    return order[: max(0, min(s.size, math.ceil(top_fraction * s.size - 1e-9)))]
