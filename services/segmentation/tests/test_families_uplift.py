"""Uplift models and the profile attributes they (and predictive models) use as features: the
attribute values by hand, features of given subjects, a synthetic randomized campaign whose
persuadable group a model must find (both methods), no leakage from the outcome window, the
stored model, and the refusals. Database tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from segmentation_support import WORKSPACE, ReadModel, persuadable_campaign
from sqlalchemy.orm import Session

import precis_uplift
from precis_common.errors import FailedPrecondition, InvalidArgument
from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow
from precis_segmentation.families import features, predictive, uplift
from precis_segmentation.families.predictive import PredictionKind
from precis_segmentation.families.uplift import CampaignSubjects, UpliftMethod

START = datetime(2026, 6, 1, tzinfo=UTC)
REGION = ("traits.region=north", "traits.age", "traits.member", "frequency")

# ---- profile attributes -------------------------------------------------------------------


def test_attribute_features_by_hand(read_model: ReadModel) -> None:
    read_model.load(
        Dataset(
            profiles=[
                ProfileRow(
                    "a",
                    traits={"age": 30, "plan": "gold", "vip": True, "address": {"zip": 2.0}},
                    computed={"clv": 120.5},
                ),
                ProfileRow("b", traits={"age": "thirty", "plan": "silver", "vip": False}),
                ProfileRow("c"),
            ]
        )
    )
    names = (
        "traits.age",
        "traits.plan=gold",
        "traits.vip",
        "traits.vip=true",
        "traits.address.zip=2",
        "traits.address.zip",
        "computed.clv",
    )
    with Session(read_model.database.read_engine) as session:
        values = features.attribute_features(session, WORKSPACE, ["c", "a", "b", "zz"], names)
    assert values.tolist() == [
        [0, 0, 0, 0, 0, 0, 0],  # no traits: 0 throughout
        [30, 1, 1, 1, 1, 2, 120.5],
        [0, 0, 0, 0, 0, 0, 0],  # "thirty" is not a number; silver is not gold; vip false
        [0, 0, 0, 0, 0, 0, 0],  # not in the read model
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("traits.", "needs a name"),
        ("traits.a..b", "needs a name"),
        ("traits.plan=", "needs a value"),
        ("computed.", "needs a name"),
        ("other.x", "unknown feature"),
    ],
)
def test_bad_attribute_names_are_refused_with_their_field(name: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        features.validate_features(["frequency", name], attributes=True)
    assert caught.value.violations[0].field == "features[1]"
    assert reason in caught.value.violations[0].description
    # Models of behaviour only (clustering, lookalikes) do not take attributes at all.
    with pytest.raises(InvalidArgument, match="unknown feature"):
        features.validate_features(["traits.age"])


def test_features_of_given_subjects_include_those_without_history(read_model: ReadModel) -> None:
    read_model.load(
        Dataset(
            profiles=[ProfileRow("new", traits={"age": 40}), ProfileRow("old")],
            events=[
                EventRow("old", "Order Completed", START - timedelta(days=5), {"revenue": 10.0}),
                # At the cutoff itself: not before it, so not a feature.
                EventRow("new", "Order Completed", START, {"revenue": 99.0}),
            ],
        )
    )
    with Session(read_model.database.read_engine) as session:
        matrix = features.profile_features(
            session,
            WORKSPACE,
            cutoff=START,
            names=("traits.age", "frequency", "monetary", "recency_days"),
            profile_ids=["new", "old", "ghost"],
        )
    assert matrix.profile_ids == ("new", "old", "ghost")
    assert matrix.values.tolist() == [[40, 0, 0, 0], [0, 1, 10, 5], [0, 0, 0, 0]]
    with Session(read_model.database.read_engine) as session:
        attributes_only = features.profile_features(
            session, WORKSPACE, cutoff=START, names=("traits.age",), profile_ids=["old", "new"]
        )
        # Without given profiles the population is those with a fact before the cutoff.
        population = features.profile_features(
            session, WORKSPACE, cutoff=START, names=("traits.age", "frequency")
        )
    assert attributes_only.values.tolist() == [[0], [40]]
    assert population.profile_ids == ("old",) and population.values.tolist() == [[0, 1]]


# ---- uplift models --------------------------------------------------------------------------


def _campaign(read_model: ReadModel, count: int, seed: int) -> CampaignSubjects:
    dataset, treated, converted = persuadable_campaign(count, start=START, seed=seed)
    read_model.load(dataset)
    return CampaignSubjects(
        tuple(p.profile_id for p in dataset.profiles),
        np.array(treated, dtype=np.bool_),
        np.array(converted, dtype=np.bool_),
    )


@pytest.mark.parametrize("method", list(UpliftMethod))
def test_an_uplift_model_finds_the_persuadable(read_model: ReadModel, method: UpliftMethod) -> None:
    """Treatment moves northerners by 16 points and southerners not at all: the model's held-out
    ranking puts the north first, so the top deciles carry the uplift, the Qini coefficient is
    clearly positive, and the importance goes to the region."""
    subjects = _campaign(read_model, 4000, seed=1)
    progress: list[float] = []
    with Session(read_model.database.read_engine) as session:
        trained = uplift.train_uplift(
            session,
            WORKSPACE,
            subjects,
            campaign_start=START,
            features=REGION,
            method=method,
            seed=7,
            progress=progress.append,
        )
    e = trained.evaluation
    assert (e.training_rows, e.test_rows) == (3200, 800)
    assert e.treated + e.control == 800
    # The split keeps each group's share: 20% of the treated and 20% of the control.
    assert e.treated == round(subjects.treated.sum() * 0.2)
    assert e.qini_coefficient > 0.3
    assert e.auuc > e.random_auuc
    assert e.average_uplift == pytest.approx(0.08, abs=0.04)
    top = e.deciles[0].uplift + e.deciles[1].uplift
    bottom = e.deciles[-1].uplift + e.deciles[-2].uplift
    assert top > 0.2 and bottom < 0.08
    assert [f for f, *_ in e.uplift_at_k] == [0.1, 0.2, 0.3, 0.5]
    assert e.uplift_at_k[2][1] > e.average_uplift
    assert max(e.feature_importances, key=e.feature_importances.__getitem__) == REGION[0]
    assert sum(e.feature_importances.values()) == pytest.approx(1.0)
    assert progress[0] == 0.0 and progress[-1] == 1.0
    lowest = [d.min_score for d in e.deciles]
    assert lowest == sorted(lowest, reverse=True)

    # The evaluation is precis_uplift's on the held-out rows: recompute it independently.
    test = uplift.stratified_split(subjects.treated, test_fraction=0.2, seed=7)
    with Session(read_model.database.read_engine) as session:
        matrix = features.profile_features(
            session, WORKSPACE, cutoff=START, names=REGION, profile_ids=subjects.profile_ids
        )
    scores = trained.model.estimator.predict(matrix.values[test])
    assert precis_uplift.qini_coefficient(
        scores, subjects.treated[test], subjects.converted[test].astype(float)
    ) == pytest.approx(e.qini_coefficient)


def test_outcomes_after_the_start_never_feed_the_model(read_model: ReadModel) -> None:
    """Features are as of the campaign's start: the converters' orders after it (the outcome)
    are in the read model, and removing them changes no feature and no score."""
    subjects = _campaign(read_model, 600, seed=3)
    names = ("frequency", "monetary", "recency_days", "events_30d", "traits.region=north")
    with Session(read_model.database.read_engine) as session:
        before = uplift.train_uplift(
            session, WORKSPACE, subjects, campaign_start=START, features=names, seed=2
        )
        matrix = features.profile_features(
            session, WORKSPACE, cutoff=START, names=names, profile_ids=subjects.profile_ids
        )
    dataset, _, _ = persuadable_campaign(600, start=START, seed=3)
    dataset.events = [e for e in dataset.events if e.occurred_at < START]
    read_model.load(dataset, workspace_id="ws_past_only")
    with Session(read_model.database.read_engine) as session:
        after = uplift.train_uplift(
            session, "ws_past_only", subjects, campaign_start=START, features=names, seed=2
        )
        past_only = features.profile_features(
            session, "ws_past_only", cutoff=START, names=names, profile_ids=subjects.profile_ids
        )
    assert matrix.values.tobytes() == past_only.values.tobytes()
    assert before.evaluation == after.evaluation


def test_the_stored_uplift_model_scores_every_profile(read_model: ReadModel) -> None:
    dataset, treated, converted = persuadable_campaign(1500, start=START, seed=4)
    dataset.profiles.append(ProfileRow("newcomer", traits={"region": "north"}))
    read_model.load(dataset)
    subjects = CampaignSubjects(
        tuple(p.profile_id for p in dataset.profiles[:-1]),
        np.array(treated, dtype=np.bool_),
        np.array(converted, dtype=np.bool_),
    )
    with Session(read_model.database.read_engine) as session:
        trained = uplift.train_uplift(
            session, WORKSPACE, subjects, campaign_start=START, features=REGION, seed=0
        )
        restored = predictive.PredictiveModel.from_bytes(trained.model.to_bytes())
        scores = predictive.score(session, WORKSPACE, restored, as_of=START + timedelta(days=30))
    assert restored.kind is PredictionKind.UPLIFT and restored.feature_names == REGION
    # Every profile, including one that never did anything; uplift scores are differences.
    assert len(scores.profile_ids) == 1501 and "newcomer" in scores.profile_ids
    assert np.all((scores.scores >= -1) & (scores.scores <= 1))
    north = {p.profile_id for p in dataset.profiles if p.traits["region"] == "north"}
    is_north = np.array([pid in north for pid in scores.profile_ids])
    assert scores.scores[is_north].mean() > scores.scores[~is_north].mean() + 0.08
    by_id = dict(zip(scores.profile_ids, scores.scores, strict=True))
    assert by_id["newcomer"] > float(np.median(scores.scores))


def test_refusals_name_the_reason(read_model: ReadModel) -> None:
    subjects = _campaign(read_model, 400, seed=5)
    with Session(read_model.database.read_engine) as session:

        def train(s: CampaignSubjects, **kw: object) -> object:
            return uplift.train_uplift(session, WORKSPACE, s, campaign_start=START, **kw)  # type: ignore[arg-type]

        with pytest.raises(InvalidArgument, match="test_fraction"):
            train(subjects, test_fraction=0.9)
        with pytest.raises(InvalidArgument) as caught:
            train(subjects, features=["traits.region="])
        assert caught.value.violations[0].field == "features[0]"
        everyone_treated = CampaignSubjects(
            subjects.profile_ids, np.ones(400, dtype=np.bool_), subjects.converted
        )
        with pytest.raises(FailedPrecondition, match="no holdout subject"):
            train(everyone_treated)
        nobody_converted = CampaignSubjects(
            subjects.profile_ids, subjects.treated, np.zeros(400, dtype=np.bool_)
        )
        with pytest.raises(FailedPrecondition, match="one outcome only"):
            train(nobody_converted)
