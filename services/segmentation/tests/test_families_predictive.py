"""Predictive models: the lift table by hand, the point-in-time split (no leakage, proven by
mutating the future), the stored model and the refusals. Database tests run on SQLite and
PostgreSQL."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from segmentation_support import ReadModel
from sqlalchemy.orm import Session

from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow
from precis_segmentation.families import features, predictive
from precis_segmentation.families.predictive import PredictionKind

ORDER = features.ORDER_EVENT
END = datetime(2026, 1, 1, tzinfo=UTC)
HORIZON = timedelta(days=60)
CUTOFF = END - HORIZON

# ---- the lift table -------------------------------------------------------------------------


def test_lift_table_by_hand() -> None:
    """20 profiles, 6 positives (overall rate 0.3) at ranks 1, 2, 3, 5, 8 and 15; 2 per decile.
    Scores are given shuffled: the table ranks them itself."""
    ranked_scores = np.array([(20 - i) / 20 for i in range(20)])
    ranked_outcomes = np.zeros(20, dtype=np.bool_)
    ranked_outcomes[[0, 1, 2, 4, 7, 14]] = True
    shuffle = np.random.default_rng(3).permutation(20)
    table = predictive.lift_table(ranked_scores[shuffle], ranked_outcomes[shuffle])

    positives = [2, 1, 1, 1, 0, 0, 0, 1, 0, 0]
    cumulative = np.cumsum(positives)
    assert [d.decile for d in table] == list(range(1, 11))
    assert [d.profile_count for d in table] == [2] * 10
    assert [d.positives for d in table] == positives
    assert [d.min_score for d in table] == [(20 - (2 * d - 1)) / 20 for d in range(1, 11)]
    assert [d.rate for d in table] == [p / 2 for p in positives]
    assert [d.lift for d in table] == pytest.approx([p / 2 / 0.3 for p in positives])
    assert [d.cumulative_lift for d in table] == pytest.approx(
        [c / (2 * d) / 0.3 for d, c in enumerate(cumulative, start=1)]
    )
    assert [d.cumulative_capture for d in table] == pytest.approx([c / 6 for c in cumulative])
    # By hand, the values the marketer reads: 3.33x in the top 10%, 2.5x and half the buyers
    # in the top 20%.
    assert table[0].lift == pytest.approx(10 / 3)
    assert (table[1].cumulative_lift, table[1].cumulative_capture) == pytest.approx((2.5, 0.5))
    assert table[-1].cumulative_lift == pytest.approx(1.0)


def test_lift_table_sizes_ties_and_degenerate_inputs() -> None:
    uneven = predictive.lift_table(np.linspace(1, 0, 23), np.ones(23, dtype=np.bool_))
    assert [d.profile_count for d in uneven] == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert all(d.lift == pytest.approx(1.0) for d in uneven)

    # Equal scores keep their input order (stable), so the table is reproducible.
    tied = predictive.lift_table(np.full(10, 0.5), np.array([True] + [False] * 9))
    assert [d.positives for d in tied] == [1] + [0] * 9

    none = predictive.lift_table(np.linspace(1, 0, 10), np.zeros(10, dtype=np.bool_))
    assert all(d.lift == 0 and d.cumulative_capture == 0 for d in none)

    few = predictive.lift_table(np.array([0.9, 0.1]), np.array([True, False]))
    assert [d.profile_count for d in few] == [1, 1] + [0] * 8
    assert few[0].lift == pytest.approx(2.0) and few[5].rate == 0 and few[5].min_score == 0

    with pytest.raises(InvalidArgument):
        predictive.lift_table(np.zeros(3), np.zeros(4, dtype=np.bool_))


def test_train_and_evaluate_on_a_known_signal() -> None:
    """One informative feature and one noise feature: high AUC, and the importance goes to the
    informative one."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=2000)
    noise = rng.normal(size=2000)
    outcome = rng.random(2000) < 1 / (1 + np.exp(-3 * signal))
    values = np.column_stack([signal, noise])
    test = predictive.random_split(2000, test_fraction=0.25, seed=1)
    _, evaluation = predictive.train_and_evaluate(
        values[~test], outcome[~test], values[test], outcome[test], ("signal", "noise"), seed=1
    )
    assert evaluation.auc > 0.8
    assert evaluation.test_rows == 500 and evaluation.training_rows == 1500
    assert evaluation.feature_importances["signal"] > 0.95
    assert sum(evaluation.feature_importances.values()) == pytest.approx(1.0)
    assert evaluation.deciles[0].lift > 1.5


# ---- a synthetic workspace ------------------------------------------------------------------


def synthetic_events(seed: int = 42, profiles: int = 240) -> Dataset:
    """Regulars (an order every ~15 days) and occasional buyers (every ~150 days), joined at
    random in the first 100 days of 2025; orders as Poisson processes until END; page views
    now and then. Whether someone buys in a window is predictable from their history."""
    rng = np.random.default_rng(seed)
    start = END - timedelta(days=365)
    rows: list[ProfileRow] = []
    events: list[EventRow] = []
    for index in range(profiles):
        pid = f"p{index:04d}"
        rows.append(ProfileRow(pid))
        gap = 15.0 if index % 2 == 0 else 150.0
        t = float(rng.uniform(0, 100))
        events.append(EventRow(pid, "Signed Up", start + timedelta(days=t)))
        while True:
            t += float(rng.exponential(gap))
            if t >= 365:
                break
            moment = start + timedelta(days=t)
            events.append(
                EventRow(pid, ORDER, moment, {"revenue": round(float(rng.gamma(2, 30)), 2)})
            )
            if rng.random() < 0.5:
                events.append(EventRow(pid, "Page Viewed", moment - timedelta(hours=1)))
    return Dataset(profiles=rows, events=events)


def with_a_rewritten_future(dataset: Dataset, boundary: datetime) -> Dataset:
    """The same past; after ``boundary`` every fact is replaced by its profile's outcome made
    blatant: each buyer gets 20 more orders of 5000 inside the same window, and non-buyers a
    flood of page views *after* the outcome window. Outcomes ([boundary, boundary + HORIZON))
    stay the same, so honest features and labels must not change at all; any leak of facts
    at or after the boundary into the features would make the outcome trivially predictable."""
    past = [e for e in dataset.events if e.occurred_at < boundary]
    future = [e for e in dataset.events if e.occurred_at >= boundary]
    buyers = {
        e.profile_id for e in future if e.event == ORDER and e.occurred_at < boundary + HORIZON
    }
    rewritten = [e for e in future if e.event == ORDER and e.profile_id in buyers]
    rewritten = [e for e in rewritten if e.occurred_at < boundary + HORIZON]
    # The page views before each order must stay: churn's "any activity" outcome reads them.
    rewritten += [e for e in future if e.event != ORDER and e.occurred_at < boundary + HORIZON]
    for pid in sorted(buyers):
        rewritten += [
            EventRow(pid, ORDER, boundary + timedelta(hours=i), {"revenue": 5000})
            for i in range(20)
        ]
    for profile in dataset.profiles:
        if profile.profile_id not in buyers:
            rewritten += [
                EventRow(profile.profile_id, "Page Viewed", boundary + HORIZON + timedelta(days=d))
                for d in range(1, 4)
            ]
    return Dataset(profiles=dataset.profiles, events=past + rewritten)


@pytest.fixture
def two_workspaces(read_model: ReadModel) -> ReadModel:
    original = synthetic_events()
    read_model.load(original, workspace_id="ws_a")
    read_model.load(with_a_rewritten_future(original, CUTOFF), workspace_id="ws_b")
    return read_model


def test_no_leakage_rewriting_the_future_changes_nothing(two_workspaces: ReadModel) -> None:
    """Workspace b has the same facts as a before CUTOFF and a rewritten, label-revealing
    future. Features (as of the training and evaluation cutoffs) are byte-identical, labels are
    identical, and so is everything the evaluation reports and every score."""
    with Session(two_workspaces.database.read_engine) as session:
        for moment in (CUTOFF - HORIZON, CUTOFF):
            a = features.behaviour_features(session, "ws_a", cutoff=moment)
            b = features.behaviour_features(session, "ws_b", cutoff=moment)
            assert a.profile_ids == b.profile_ids
            assert a.values.tobytes() == b.values.tobytes()
        for kind in PredictionKind:
            trained = {
                ws: predictive.train_predictive(
                    session, ws, kind=kind, cutoff=CUTOFF, horizon=HORIZON, seed=5
                )
                for ws in ("ws_a", "ws_b")
            }
            a_eval, b_eval = trained["ws_a"].evaluation, trained["ws_b"].evaluation
            assert a_eval == b_eval, kind
            assert 0.7 < a_eval.auc < 0.99, (kind, a_eval.auc)
            scores = [
                predictive.score(session, "ws_a", trained[ws].model, as_of=CUTOFF).scores
                for ws in ("ws_a", "ws_b")
            ]
            assert scores[0].tobytes() == scores[1].tobytes()

        # The check can fail: features that read the outcome window (as of CUTOFF + HORIZON)
        # make workspace b's outcome trivially predictable.
        leaky = features.behaviour_features(session, "ws_b", cutoff=CUTOFF + HORIZON)
        honest_train = features.behaviour_features(session, "ws_b", cutoff=CUTOFF - HORIZON)
        leaky_rows = [leaky.profile_ids.index(pid) for pid in honest_train.profile_ids]
        train_labels = features.event_labels(
            session,
            "ws_b",
            honest_train.profile_ids,
            cutoff=CUTOFF - HORIZON,
            horizon=HORIZON,
            event=ORDER,
        )
        test_labels = features.event_labels(
            session, "ws_b", honest_train.profile_ids, cutoff=CUTOFF, horizon=HORIZON, event=ORDER
        )
        _, cheating = predictive.train_and_evaluate(
            honest_train.values,
            train_labels,
            leaky.values[leaky_rows],
            test_labels,
            features.FEATURES,
        )
        assert cheating.auc > 0.99
        assert a_eval.auc < cheating.auc - 0.05


def test_training_is_reproducible_and_reports_progress(read_model: ReadModel) -> None:
    read_model.load(synthetic_events(seed=7, profiles=160))
    progress: list[float] = []
    with Session(read_model.database.read_engine) as session:
        first = predictive.train_predictive(
            session,
            "ws_test",
            kind=PredictionKind.PROPENSITY,
            cutoff=CUTOFF,
            horizon=HORIZON,
            features=["recency_days", "frequency", "monetary"],
            seed=11,
            progress=progress.append,
        )
        second = predictive.train_predictive(
            session,
            "ws_test",
            kind=PredictionKind.PROPENSITY,
            cutoff=CUTOFF,
            horizon=HORIZON,
            features=["recency_days", "frequency", "monetary"],
            seed=11,
        )
        pure_time_split = predictive.train_predictive(
            session,
            "ws_test",
            kind=PredictionKind.PROPENSITY,
            cutoff=CUTOFF,
            horizon=HORIZON,
            seed=11,
            test_fraction=0,
        )
    assert first.evaluation == second.evaluation
    assert first.model.to_bytes() == second.model.to_bytes()
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)
    assert set(first.evaluation.feature_importances) == {"recency_days", "frequency", "monetary"}
    assert first.evaluation.test_rows == 32 and first.evaluation.training_rows == 128
    # Without a profile hold-out every profile is trained on (one horizon earlier) and tested.
    assert pure_time_split.evaluation.test_rows == 160
    assert pure_time_split.evaluation.training_rows == 160


def test_the_stored_model_scores_like_the_trained_one(read_model: ReadModel) -> None:
    read_model.load(synthetic_events(seed=8, profiles=120))
    with Session(read_model.database.read_engine) as session:
        trained = predictive.train_predictive(
            session, "ws_test", kind=PredictionKind.CHURN, cutoff=CUTOFF, horizon=HORIZON
        )
        data = trained.model.to_bytes()
        restored = predictive.PredictiveModel.from_bytes(data)
        before = predictive.score(session, "ws_test", trained.model, as_of=END)
        after = predictive.score(session, "ws_test", restored, as_of=END)
    assert restored.kind is PredictionKind.CHURN and restored.target_event is None
    assert restored.feature_names == features.FEATURES and restored.horizon == HORIZON
    assert before.profile_ids == after.profile_ids and len(before.profile_ids) == 120
    assert before.scores.tobytes() == after.scores.tobytes()

    payload = pickle.loads(data)
    payload["sklearn"] = "0.1.0"
    with pytest.raises(FailedPrecondition, match="retrain"):
        predictive.PredictiveModel.from_bytes(pickle.dumps(payload))
    with pytest.raises(FailedPrecondition, match="unknown format"):
        predictive.PredictiveModel.from_bytes(pickle.dumps({"format": 99}))


def test_churn_population_is_the_recently_active(read_model: ReadModel) -> None:
    """active_days decides who can churn: with 30 days only profiles seen in the last month."""
    read_model.load(synthetic_events(seed=9, profiles=200))
    with Session(read_model.database.read_engine) as session:
        everyone = features.behaviour_features(session, "ws_test", cutoff=END)
        trained = predictive.train_predictive(
            session,
            "ws_test",
            kind=PredictionKind.CHURN,
            cutoff=CUTOFF,
            horizon=HORIZON,
            active_days=30,
            test_fraction=0,
        )
        scored = predictive.score(session, "ws_test", trained.model, as_of=END)
    recent = {
        pid
        for pid, days in zip(everyone.profile_ids, everyone.column("last_seen_days"), strict=True)
        if days <= 30
    }
    assert set(scored.profile_ids) == recent and len(recent) < 200


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"horizon": timedelta(0)}, "horizon_days"),
        ({"horizon": timedelta(days=400)}, "horizon_days"),
        ({"test_fraction": 0.7}, "test_fraction"),
        ({"test_fraction": 0.01}, "test_fraction"),
        ({"active_days": 0}, "active_days"),
        ({"features": ["recency_days", "shoe_size"]}, "features[1]"),
    ],
)
def test_bad_parameters_are_refused_with_their_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        predictive.train_predictive(
            None,  # type: ignore[arg-type]  # refused before the database is touched
            "ws_test",
            kind=PredictionKind.PROPENSITY,
            cutoff=CUTOFF,
            **arguments,  # type: ignore[arg-type]
        )
    assert refused.value.violations[0].field == field


def test_an_outcome_window_without_outcomes_is_a_failed_precondition(
    read_model: ReadModel,
) -> None:
    """Evaluating a window that has not happened yet (cutoff = now) has no positives."""
    read_model.load(synthetic_events(seed=10, profiles=60))
    with (
        Session(read_model.database.read_engine) as session,
        pytest.raises(FailedPrecondition, match="one outcome only"),
    ):
        predictive.train_predictive(
            session, "ws_test", kind=PredictionKind.PROPENSITY, cutoff=END, horizon=HORIZON
        )
