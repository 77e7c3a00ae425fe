"""Uplift evaluation (worked by hand, and properties), uplift models on a simulated campaign with
a known effect, and both models on dmba's randomized hair-care promotion.

The dmba wheel is cached in the gitignored ``.precis/cache`` (or ``$PRECIS_DATA_CACHE``) like the
segmentation real-data tests; no network means a failure, not a skip.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from precis_devstack import dmba
from precis_uplift import (
    ClassTransformationUplift,
    TwoModelUplift,
    UpliftDecile,
    UpliftObservation,
    choose_audience,
    evaluate_observations,
    evaluate_uplift,
    qini_coefficient,
    uplift_at_fraction,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
HAIR_CARE = "dmba/csvFiles/Hair-Care-Product.csv.gz"


# --- evaluation, by hand --------------------------------------------------------------------
#
# Four subjects, scores 0.9 .. 0.6: A treated bought, C treated did not, B control bought,
# D control did not. Ranked A, C, B, D. After x subjects (n_t, y_t | n_c, y_c):
#   x=1: 1,1 | 0,0  qini = 1 - 0 = 1             gain = (1/1 - 0) * 1 = 1
#   x=2: 2,1 | 0,0  qini = 1                     gain = (1/2 - 0) * 2 = 1
#   x=3: 2,1 | 1,1  qini = 1 - 1 * 2/1 = -1      gain = (1/2 - 1) * 3 = -1.5
#   x=4: 2,1 | 2,1  qini = 1 - 1 * 2/2 = 0       gain = 0
# Qini area (x in subjects, trapezoids) = 0.5 + 1 + 0 - 0.5 = 1; its random line ends at 0.
# The perfect ranking scores y*t - y*(1-t): A 1, C 0, D 0, B -1, with C and D tied in one block:
# vertices x=1: 1; x=3: 2,1 | 1,0 -> 1; x=4: 0; area = 0.5 + 2 + 0.5 = 3. Coefficient = 1/3.
# AUUC with the fraction on the x axis: 0.25 * (0.5 + 1 - 0.25 - 0.75) = 0.125; random AUUC 0.
# uplift@0.5: A, C are both treated -> no control: None (2 treated, 0 control).
# uplift@0.75: A, C, B -> 1/2 - 1 = -0.5 (2, 1). uplift@1: 1/2 - 1/2 = 0 (2, 2).

SCORES = [0.9, 0.8, 0.7, 0.6]
TREATED = [True, True, False, False]
OUTCOMES = [1.0, 0.0, 1.0, 0.0]


def test_hand_worked_example() -> None:
    result = evaluate_uplift(SCORES, TREATED, OUTCOMES, fractions=[0.5, 0.75, 1.0], curve_points=5)
    assert result.qini_coefficient == pytest.approx(1 / 3)
    assert result.auuc == pytest.approx(0.125)
    assert result.random_auuc == pytest.approx(0.0)
    assert (result.treated, result.control) == (2, 2)
    assert [p.fraction for p in result.curve] == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert [p.qini for p in result.curve] == pytest.approx([0, 1, 1, -1, 0])
    assert [p.uplift_gain for p in result.curve] == pytest.approx([0, 1, 1, -1.5, 0])
    assert [p.random for p in result.curve] == pytest.approx([0] * 5)
    at = result.uplift_at_k
    assert (at[0].uplift, at[0].treated, at[0].control) == (None, 2, 0)
    assert (at[1].uplift, at[1].treated, at[1].control) == (pytest.approx(-0.5), 2, 1)
    assert (at[2].uplift, at[2].treated, at[2].control) == (pytest.approx(0.0), 2, 2)


def test_observations_give_the_same_evaluation() -> None:
    observations = [
        UpliftObservation(s, t, y) for s, t, y in zip(SCORES, TREATED, OUTCOMES, strict=True)
    ]
    assert evaluate_observations(observations) == evaluate_uplift(SCORES, TREATED, OUTCOMES)


def test_ties_form_one_block() -> None:
    # C and B tied at 0.5: the vertices are x=1 (qini 1) and x=3 (qini -1, as above); at x=2 the
    # curve is the straight line between them, 0, whatever the input order of C and B.
    # uplift@0.5 takes ceil(0.5 * 4) = 2 subjects, the cut falls inside the tie block, so the
    # whole block is in: A, C, B -> -0.5 with 2 treated and 1 control.
    for order in ([0, 1, 2, 3], [0, 2, 1, 3]):
        scores = np.array([0.9, 0.5, 0.5, 0.1])[order]
        treated = np.array(TREATED)[order]
        outcomes = np.array(OUTCOMES)[order]
        result = evaluate_uplift(scores, treated, outcomes, fractions=[0.5], curve_points=5)
        assert [p.qini for p in result.curve] == pytest.approx([0, 1, 0, -1, 0])
        at = result.uplift_at_k[0]
        assert (at.uplift, at.treated, at.control) == (pytest.approx(-0.5), 2, 1)


def test_matches_scikit_uplift_reference_values() -> None:
    # Values printed by scikit-uplift 0.5.1 (qini_auc_score, and auc(*uplift_curve(...)) / n) for
    # this data, computed once outside the test suite (sklift is not a dependency).
    scores = [0.1, 0.4, 0.35, 0.8, 0.65, 0.2, 0.9, 0.5]
    treated = [1, 0, 1, 1, 0, 0, 1, 0]
    outcomes = [0, 1, 1, 1, 0, 0, 1, 1]
    result = evaluate_uplift(scores, treated, outcomes)
    assert result.qini_coefficient == pytest.approx(SKLIFT_QINI)
    assert result.auuc == pytest.approx(SKLIFT_AUUC)


SKLIFT_QINI = 0.4197530864197532
SKLIFT_AUUC = 2.0208333333333335


def test_empty_and_one_sided_inputs_are_finite() -> None:
    empty = evaluate_uplift([], [], [])
    assert (empty.qini_coefficient, empty.auuc, empty.treated, empty.control) == (0, 0, 0, 0)
    assert all(a.uplift is None for a in empty.uplift_at_k)
    only_treated = evaluate_uplift([0.3, 0.2, 0.1], [1, 1, 1], [1, 0, 1])
    assert only_treated.qini_coefficient == 0.0
    assert all(a.uplift is None and a.control == 0 for a in only_treated.uplift_at_k)
    assert all(math.isfinite(p.qini) and math.isfinite(p.uplift_gain) for p in only_treated.curve)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="treated must be 0/1"):
        evaluate_uplift([0.1], [2], [1])
    with pytest.raises(ValueError, match="finite"):
        evaluate_uplift([float("nan")], [1], [1])
    with pytest.raises(ValueError, match="differ in length"):
        evaluate_uplift([0.1, 0.2], [1], [1])
    with pytest.raises(ValueError, match="curve_points"):
        evaluate_uplift([0.1], [1], [1], curve_points=1)


# --- deciles, by hand -----------------------------------------------------------------------
#
# Twenty subjects with scores 20 .. 1, treated and control alternating (treated first), so each
# decile is two subjects, one of each. Outcomes by rank: 1 T:1, 2 C:0 | 3 T:1, 4 C:0 |
# 5 T:1, 6 C:1 | 7 T:0, 8 C:1 | 9..20 all 0.
#   decile 1: 1 - 0 = 1, incremental 1 * 2 = 2     decile 2: the same, 2
#   decile 3: 1 - 1 = 0                            decile 4: 0 - 1 = -1, incremental -2
#   deciles 5..10: 0.  Total 2, so the cumulative gain is 2/2, 4/2, 4/2, 2/2, then 1 to the end:
#   the gain overshoots 1 when a later decile has a negative uplift.

DECILE_SCORES = [float(s) for s in range(20, 0, -1)]
DECILE_TREATED = [rank % 2 == 0 for rank in range(20)]
DECILE_OUTCOMES = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0] + [0.0] * 12


def _decile_rows(result_deciles: tuple[UpliftDecile, ...]) -> list[tuple[object, ...]]:
    return [
        (d.decile, d.treated, d.control, d.treated_mean, d.control_mean, d.uplift)
        for d in result_deciles
    ]


def test_deciles_by_hand() -> None:
    deciles = evaluate_uplift(DECILE_SCORES, DECILE_TREATED, DECILE_OUTCOMES).deciles
    assert _decile_rows(deciles) == [
        (1, 1, 1, 1.0, 0.0, 1.0),
        (2, 1, 1, 1.0, 0.0, 1.0),
        (3, 1, 1, 1.0, 1.0, 0.0),
        (4, 1, 1, 0.0, 1.0, -1.0),
        *[(d, 1, 1, 0.0, 0.0, 0.0) for d in range(5, 11)],
    ]
    assert [d.cumulative_gain for d in deciles] == pytest.approx([1, 2, 2, 1, 1, 1, 1, 1, 1, 1])


def test_a_tie_block_straddling_a_decile_cut_goes_whole_to_the_higher_decile() -> None:
    # Ranks 2 and 3 tied: the first cut, after ceil(20 / 10) = 2 subjects, falls inside the
    # block, so decile 1 is ranks 1..3 (T:1, C:0, T:1 -> 1 - 0 = 1, incremental 3) and decile 2,
    # cut after 4, is rank 4 alone (one control: no uplift, incremental 0). Deciles 3 and 4 are
    # as before (0 and -2): total 1, cumulative gain 3, 3, 3, 1, ... The input order of the tied
    # pair changes nothing.
    scores = [20.0, 19.0, 19.0, *DECILE_SCORES[3:]]
    for swap in (False, True):
        order = [0, 2, 1, *range(3, 20)] if swap else list(range(20))
        deciles = evaluate_uplift(
            np.array(scores)[order],
            np.array(DECILE_TREATED)[order],
            np.array(DECILE_OUTCOMES)[order],
        ).deciles
        rows = _decile_rows(deciles)
        assert rows[:4] == [
            (1, 2, 1, 1.0, 0.0, 1.0),
            (2, 0, 1, 0.0, 0.0, None),
            (3, 1, 1, 1.0, 1.0, 0.0),
            (4, 1, 1, 0.0, 1.0, -1.0),
        ]
        assert [d.cumulative_gain for d in deciles] == pytest.approx([3, 3, 3] + [1] * 7)


def test_deciles_of_few_subjects_and_no_comparison() -> None:
    # The four subjects of the first example: cuts after ceil(4 d / 10) = 1, 1, 2, 2, 2, 3, 3, 4,
    # 4, 4 subjects, so A, C, B, D land in deciles 1, 3, 6 and 8 and the rest are empty. No
    # decile holds both groups: every uplift is None, the total is 0 and so is every gain.
    deciles = evaluate_uplift(SCORES, TREATED, OUTCOMES).deciles
    sizes = [d.treated + d.control for d in deciles]
    assert sizes == [1, 0, 1, 0, 0, 1, 0, 1, 0, 0]
    assert [d.treated_mean for d in deciles][:3] == [1.0, 0.0, 0.0]
    assert deciles[5].control_mean == 1.0
    assert all(d.uplift is None and d.cumulative_gain == 0.0 for d in deciles)
    empty = evaluate_uplift([], [], []).deciles
    assert empty == tuple(UpliftDecile(d, 0, 0, 0.0, 0.0, None, 0.0) for d in range(1, 11))


def test_a_constant_score_puts_everyone_in_the_first_decile() -> None:
    deciles = evaluate_uplift([0.5] * 6, [1, 0, 1, 0, 1, 0], [1, 0, 1, 0, 0, 0]).deciles
    assert (deciles[0].treated, deciles[0].control) == (3, 3)
    assert deciles[0].uplift == pytest.approx(2 / 3)
    assert all(d.treated + d.control == 0 for d in deciles[1:])
    assert all(d.cumulative_gain == pytest.approx(1.0) for d in deciles)


# --- evaluation, properties -----------------------------------------------------------------

subjects = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=6).map(float),  # few values: many ties
        st.booleans(),
        st.sampled_from([0.0, 1.0, 2.5]),
    ),
    min_size=1,
    max_size=40,
)


def _columns(
    rows: list[tuple[float, bool, float]],
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:
    return (
        np.array([r[0] for r in rows], dtype=np.float64),
        np.array([r[1] for r in rows], dtype=np.bool_),
        np.array([r[2] for r in rows], dtype=np.float64),
    )


@settings(max_examples=80, deadline=None)
@given(subjects)
def test_row_order_and_monotone_rescaling_change_nothing(
    rows: list[tuple[float, bool, float]],
) -> None:
    s, t, y = _columns(rows)
    base = evaluate_uplift(s, t, y, fractions=[0.1, 0.5, 0.9])
    perm = np.random.default_rng(len(rows)).permutation(len(rows))
    for other in (
        evaluate_uplift(s[perm], t[perm], y[perm], fractions=[0.1, 0.5, 0.9]),
        evaluate_uplift(np.exp(s) * 3 - 1, t, y, fractions=[0.1, 0.5, 0.9]),
    ):
        assert other.qini_coefficient == pytest.approx(base.qini_coefficient, abs=1e-9)
        assert other.auuc == pytest.approx(base.auuc, abs=1e-9)
        assert other.uplift_at_k == base.uplift_at_k or all(
            (a.treated, a.control) == (b.treated, b.control)
            and (a.uplift is None) == (b.uplift is None)
            and (a.uplift is None or a.uplift == pytest.approx(b.uplift))
            for a, b in zip(other.uplift_at_k, base.uplift_at_k, strict=True)
        )
        for p, q in zip(other.curve, base.curve, strict=True):
            assert (p.qini, p.uplift_gain) == (pytest.approx(q.qini), pytest.approx(q.uplift_gain))


@settings(max_examples=80, deadline=None)
@given(subjects)
def test_everything_is_finite_and_the_ends_are_the_average_effect(
    rows: list[tuple[float, bool, float]],
) -> None:
    s, t, y = _columns(rows)
    result = evaluate_uplift(s, t, y, fractions=[0.0, 0.3, 1.0])
    numbers = [result.qini_coefficient, result.auuc, result.random_auuc]
    numbers += [v for p in result.curve for v in (p.qini, p.uplift_gain, p.random, p.qini_random)]
    numbers += [a.uplift for a in result.uplift_at_k if a.uplift is not None]
    assert all(math.isfinite(v) for v in numbers)
    assert result.uplift_at_k[0] == result.uplift_at_k[0].__class__(0.0, None, 0, 0)
    whole = result.uplift_at_k[2]
    assert (whole.treated, whole.control) == (int(t.sum()), int((~t).sum()))
    if t.any() and (~t).any():
        effect = float(y[t].mean() - y[~t].mean())
        assert whole.uplift == pytest.approx(effect)
        assert result.curve[-1].uplift_gain == pytest.approx(effect * len(rows))
        assert result.curve[-1].qini == pytest.approx(effect * int(t.sum()))
        assert result.random_auuc == pytest.approx(effect * len(rows) / 2)
    else:
        assert whole.uplift is None


@settings(max_examples=60, deadline=None)
@given(subjects)
def test_a_constant_score_is_random_targeting(rows: list[tuple[float, bool, float]]) -> None:
    s, t, y = _columns(rows)
    result = evaluate_uplift(np.zeros_like(s), t, y)
    assert result.qini_coefficient == pytest.approx(0.0, abs=1e-9)
    assert result.auuc == pytest.approx(result.random_auuc)
    for p in result.curve:
        assert p.qini == pytest.approx(p.qini_random)
        assert p.uplift_gain == pytest.approx(p.random)


@settings(max_examples=60, deadline=None)
@given(subjects)
def test_the_oracle_ranking_scores_one(
    rows: list[tuple[float, bool, float]],
) -> None:
    """The perfect ranking's coefficient is 1 (or 0 when nothing can be ranked). Other rankings
    are NOT bounded by it: under scikit-uplift's convention the Qini is 0 while the control group
    is still empty, so scores [0, 1, 1], treated [T, C, C], outcomes [0, 1, 1] give 2."""
    s, t, y = _columns(rows)
    oracle = qini_coefficient(np.where(t, y, -y), t, y)
    assert oracle in (0.0, pytest.approx(1.0))
    assert math.isfinite(qini_coefficient(s, t, y))
    assert qini_coefficient([0.0, 1.0, 1.0], [True, False, False], [0.0, 1.0, 1.0]) == (
        pytest.approx(2.0)
    )


@settings(max_examples=80, deadline=None)
@given(subjects)
def test_deciles_partition_the_ranking_like_uplift_at_fraction(
    rows: list[tuple[float, bool, float]],
) -> None:
    s, t, y = _columns(rows)
    deciles = evaluate_uplift(s, t, y).deciles
    assert [d.decile for d in deciles] == list(range(1, 11))
    treated = control = 0
    for d in deciles:
        treated, control = treated + d.treated, control + d.control
        top = uplift_at_fraction(s, t, y, d.decile / 10)
        assert (treated, control) == (top.treated, top.control)
        assert (d.uplift is None) == (d.treated == 0 or d.control == 0)
        assert d.uplift is None or d.uplift == pytest.approx(d.treated_mean - d.control_mean)
        assert math.isfinite(d.cumulative_gain)
    assert (treated, control) == (int(t.sum()), int((~t).sum()))
    gains = [d.cumulative_gain for d in deciles]
    assert gains[-1] == pytest.approx(1.0) or gains == [0.0] * 10
    if len(set(s.tolist())) == len(rows):  # no ties: near-equal sizes
        sizes = [d.treated + d.control for d in deciles]
        assert max(sizes) - min(sizes) <= 1


# --- audience -------------------------------------------------------------------------------


def test_choose_audience() -> None:
    scores = [0.2, 0.9, 0.5, 0.9, -0.1]
    # ceil(0.5 * 5) = 3: both 0.9s (earlier index first), then 0.5.
    assert choose_audience(scores, top_fraction=0.5).tolist() == [1, 3, 2]
    assert choose_audience(scores, top_fraction=0.0).tolist() == []
    assert choose_audience(scores, threshold=0.2).tolist() == [1, 3, 2, 0]
    assert choose_audience(scores, threshold=1.0).tolist() == []
    with pytest.raises(ValueError, match="exactly one"):
        choose_audience(scores)
    with pytest.raises(ValueError, match="exactly one"):
        choose_audience(scores, top_fraction=0.5, threshold=0.1)


# --- models on a simulated campaign ---------------------------------------------------------


def _simulated_campaign(
    n: int, propensity: float, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64]]:
    """Base rate 10%; the offer adds 0..+30 points rising with feature 0, nothing for the rest."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    true_uplift = 0.3 / (1 + np.exp(-3 * x[:, 0]))
    treated = rng.random(n) < propensity
    p = 0.1 + np.where(treated, true_uplift, 0.0)
    outcome = (rng.random(n) < p).astype(np.int64)
    return x, treated, outcome, true_uplift


@pytest.mark.parametrize("propensity", [0.5, 0.2])
def test_models_recover_a_known_uplift(propensity: float) -> None:
    x, t, y, _ = _simulated_campaign(8000, propensity, seed=1)
    x_test, t_test, y_test, truth = _simulated_campaign(4000, propensity, seed=2)
    for model in (TwoModelUplift(seed=0), ClassTransformationUplift(seed=0)):
        scores = model.fit(x, t, y).predict(x_test)
        assert np.corrcoef(scores, truth)[0, 1] > 0.9, type(model).__name__
        # Ranking by the true uplift is the best a model can do on this sample.
        best = qini_coefficient(truth, t_test, y_test)
        assert qini_coefficient(scores, t_test, y_test) > 0.8 * best > 0.1
    fitted = ClassTransformationUplift(seed=0).fit(x, t, y)
    assert fitted.propensity_ == pytest.approx(t.mean())


def test_class_transformation_needs_the_reweighting_when_propensity_is_not_half() -> None:
    # With 20% treated, the unweighted transformation adds a constant 2 * (0.8 - 0.5) * ... bias:
    # its mean score is far from the true mean uplift; the reweighted one is close.
    x, t, y, truth = _simulated_campaign(20000, 0.2, seed=3)
    weighted = ClassTransformationUplift(seed=0).fit(x, t, y).predict(x)
    unweighted = ClassTransformationUplift(propensity=0.5, seed=0).fit(x, t, y).predict(x)
    assert abs(weighted.mean() - truth.mean()) < 0.03
    assert abs(unweighted.mean() - truth.mean()) > 0.3


def test_models_are_reproducible_and_check_their_input() -> None:
    x, t, y, _ = _simulated_campaign(2000, 0.5, seed=4)
    for make in (TwoModelUplift, ClassTransformationUplift):
        first = make(seed=7).fit(x, t, y).predict(x)
        assert np.array_equal(first, make(seed=7).fit(x, t, y).predict(x))
        with pytest.raises(RuntimeError):
            make().predict(x)
        with pytest.raises(ValueError, match="binary"):
            make().fit(x, t, y * 2)
        with pytest.raises(ValueError, match="control group needs both"):
            make().fit(x, t, np.where(t, y, 0))  # the control group never converts


# --- real data: dmba's hair-care promotion --------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    features: NDArray[np.float64]
    treated: NDArray[np.bool_]
    purchased: NDArray[np.int64]


def _load_hair_care() -> Promotion:
    """10,000 customers of a hair-care brand, half of them sent a promotion at random
    (Promotion_ord); Purchase is the response (about 1.1%). Features: age, gender, residence,
    and one-hot hair colour and U.S. region (first level dropped)."""
    configured = os.environ.get("PRECIS_DATA_CACHE")
    cache = Path(configured) if configured else REPO_ROOT / ".precis" / "cache"
    text = dmba.read_member(dmba.download_wheel(cache), HAIR_CARE)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10_000
    colours = sorted({r["Hair Color"] for r in rows})[1:]
    regions = sorted({r["U.S. Region"] for r in rows})[1:]
    features = np.array(
        [
            [float(r["Age"]), float(r["Gender_ord"]), float(r["Residence_ord"])]
            + [float(r["Hair Color"] == c) for c in colours]
            + [float(r["U.S. Region"] == g) for g in regions]
            for r in rows
        ]
    )
    treated = np.array([r["Promotion_ord"] == "1" for r in rows])
    purchased = np.array([int(r["Purchase"]) for r in rows], dtype=np.int64)
    return Promotion(features, treated, purchased)


def test_uplift_models_on_the_hair_care_promotion() -> None:
    data = _load_hair_care()
    # Randomized: 4,976 treated buy at 1.61%, 5,024 control at 0.64%.
    assert int(data.treated.sum()) == 4976
    assert data.purchased[data.treated].mean() == pytest.approx(0.0161, abs=1e-4)
    # With about 55 purchases in a 5,000-subject holdout one split's Qini is noisy (a random score
    # spreads with a standard deviation near 0.07), so five seeded 50/50 splits are averaged:
    # measured means 0.106 (two-model) and 0.074 (class transformation); random scores average
    # about 0 with a standard deviation near 0.03 over five splits.
    qini: dict[str, list[float]] = {"two_model": [], "class_transformation": []}
    top30: dict[str, list[float]] = {"two_model": [], "class_transformation": []}
    random_qini: list[float] = []
    average_effect: list[float] = []
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(data.purchased))
        train, test = order[:5000], order[5000:]
        t_test, y_test = data.treated[test], data.purchased[test]
        random_scores = np.random.default_rng(100 + seed).random(len(test))
        random_qini.append(qini_coefficient(random_scores, t_test, y_test))
        average_effect.append(float(y_test[t_test].mean() - y_test[~t_test].mean()))
        models = {
            "two_model": TwoModelUplift(seed=seed),
            "class_transformation": ClassTransformationUplift(seed=seed),
        }
        for name, model in models.items():
            model.fit(data.features[train], data.treated[train], data.purchased[train])
            evaluation = evaluate_uplift(model.predict(data.features[test]), t_test, y_test)
            qini[name].append(evaluation.qini_coefficient)
            top = evaluation.uplift_at_k[2]
            # Tied scores (the features are discrete) widen the top 30% to the end of a tie block.
            assert top.uplift is not None and top.treated + top.control >= 1500
            top30[name].append(top.uplift)
    for name in qini:
        assert np.mean(qini[name]) > 0.05, (name, qini[name])
        assert np.mean(qini[name]) > np.mean(random_qini) + 0.04, (name, random_qini)
        # Sending to the top 30% by score lifts purchases more than sending at random.
        assert np.mean(top30[name]) > np.mean(average_effect), (name, top30[name])
    assert min(qini["two_model"]) > 0.0
