"""Point-in-time behaviour features and outcome labels, on SQLite and on PostgreSQL.

A hand-made read model with facts on both sides of the cutoff (one exactly at it) and
hand-computed expected values: the same numbers from both databases is the dialect check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from segmentation_support import ReadModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from precis_common.errors import InvalidArgument
from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow
from precis_segmentation.families import features

CUTOFF = datetime(2026, 6, 1, tzinfo=UTC)
ORDER = features.ORDER_EVENT
SECOND = 1 / 86_400


def at(days: float, hours: float = 0) -> datetime:
    """``days`` before the cutoff (negative: after), plus ``hours``."""
    return CUTOFF - timedelta(days=days) + timedelta(hours=hours)


DATASET = Dataset(
    profiles=[ProfileRow("p1"), ProfileRow("p2"), ProfileRow("p3"), ProfileRow("p_later")],
    events=[
        EventRow("p1", ORDER, at(100), {"revenue": 50}),
        EventRow("p1", ORDER, at(10), {"revenue": 30.5}),
        EventRow("p1", "Page Viewed", at(5)),
        EventRow("p1", "Page Viewed", at(5, hours=1)),  # same UTC day as the one before
        EventRow("p1", ORDER, CUTOFF, {"revenue": 1000}),  # at the cutoff: an outcome only
        EventRow("p1", ORDER, at(-1), {"revenue": 1000}),
        EventRow("p2", "Page Viewed", at(200)),
        EventRow("p2", "Page Viewed", at(20)),
        EventRow("p2", "Page Viewed", at(-3)),
        EventRow("p3", ORDER, at(SECOND), {"revenue": "n/a"}),  # no numeric revenue: counts as 0
        EventRow("p_later", ORDER, at(0, hours=1), {"revenue": 10}),
        EventRow("ghost", ORDER, at(1), {"revenue": 10}),  # not a profile of the read model
    ],
    memberships={"s_vip": {"p2", "p3"}},
)

EXPECTED = {
    #       recency freq monetary aov  o90 r90  e30 tenure last_seen days
    "p1": (10.0, 2.0, 80.5, 40.25, 1.0, 30.5, 3.0, 100.0, 5 - 1 / 24, 3.0),
    "p2": (200.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 200.0, 20.0, 2.0),
    "p3": (SECOND, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, SECOND, SECOND, 1.0),
}


@pytest.fixture
def loaded(read_model: ReadModel) -> ReadModel:
    read_model.load(DATASET)
    # Another workspace's facts about the same profile id must not leak in.
    read_model.load(
        Dataset(
            profiles=[ProfileRow("p1")],
            events=[EventRow("p1", ORDER, at(1), {"revenue": 999})],
        ),
        workspace_id="ws_other",
    )
    return read_model


def session_of(read_model: ReadModel) -> Session:
    return Session(read_model.database.read_engine)


def test_every_builtin_feature_by_hand(loaded: ReadModel) -> None:
    with session_of(loaded) as session:
        matrix = features.behaviour_features(session, "ws_test", cutoff=CUTOFF)
    assert matrix.names == features.FEATURES
    assert matrix.profile_ids == ("p1", "p2", "p3")
    expected = np.array([EXPECTED[pid] for pid in matrix.profile_ids])
    np.testing.assert_allclose(matrix.values, expected, rtol=1e-9, atol=1e-9)


def test_the_cutoff_is_exclusive_and_moves_everything(loaded: ReadModel) -> None:
    """One second later the order at the cutoff counts; p_later appears an hour after it."""
    with session_of(loaded) as session:
        later = features.behaviour_features(
            session, "ws_test", cutoff=CUTOFF + timedelta(seconds=1), features=["frequency"]
        )
        hour = features.behaviour_features(
            session, "ws_test", cutoff=at(0, hours=2), features=["monetary", "recency_days"]
        )
    assert dict(zip(later.profile_ids, later.values[:, 0], strict=True)) == {
        "p1": 3.0,
        "p2": 0.0,
        "p3": 1.0,
    }
    assert hour.profile_ids == ("p1", "p2", "p3", "p_later")
    assert hour.values[0].tolist() == [1080.5, pytest.approx(2 / 24)]


def test_populations_and_requested_columns(loaded: ReadModel) -> None:
    with session_of(loaded) as session:
        ordered = features.behaviour_features(
            session, "ws_test", cutoff=CUTOFF, features=["aov", "frequency"], ordered_only=True
        )
        members = features.behaviour_features(
            session, "ws_test", cutoff=CUTOFF, features=["tenure_days"], segment_id="s_vip"
        )
        empty = features.behaviour_features(session, "ws_none", cutoff=CUTOFF)
    assert ordered.profile_ids == ("p1", "p3")
    assert ordered.names == ("aov", "frequency")
    assert ordered.values.tolist() == [[40.25, 2.0], [0.0, 1.0]]
    assert members.profile_ids == ("p2", "p3")
    assert len(empty) == 0 and empty.values.shape == (0, len(features.FEATURES))


def test_labels_are_read_from_the_window_after_the_cutoff(loaded: ReadModel) -> None:
    ids = ("p1", "p2", "p3", "p_later")
    with session_of(loaded) as session:

        def labels(hours: float, event: str | None) -> list[bool]:
            return features.event_labels(
                session,
                "ws_test",
                ids,
                cutoff=CUTOFF,
                horizon=timedelta(hours=hours),
                event=event,
            ).tolist()

        assert labels(0.5, ORDER) == [True, False, False, False]  # p1's order at the cutoff
        assert labels(1, ORDER) == [True, False, False, False]  # [cutoff, cutoff + 1h)
        assert labels(2, ORDER) == [True, False, False, True]
        assert labels(24 * 4, None) == [True, True, False, True]
        with pytest.raises(InvalidArgument):
            labels(0, ORDER)


@pytest.mark.parametrize(
    ("requested", "field", "reason"),
    [
        (["frequency", "favourite_colour"], "features[1]", "unknown feature 'favourite_colour'"),
        (["aov", "aov"], "features[1]", "feature 'aov' is repeated"),
    ],
)
def test_unknown_or_repeated_features_are_refused_with_the_field(
    requested: list[str], field: str, reason: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        features.validate_features(requested)
    assert refused.value.violations[0].field == field
    assert reason in refused.value.violations[0].description


def test_no_features_means_the_default_set() -> None:
    assert features.validate_features(None) == features.FEATURES
    assert features.validate_features([], default=features.RFM_FEATURES) == (
        "recency_days",
        "frequency",
        "monetary",
    )


def test_days_are_utc_days_whatever_the_session_time_zone(read_model: ReadModel) -> None:
    """23:30 and 00:30 UTC are two days; in Shanghai (UTC+8) they would be one. PostgreSQL
    turns timestamptz into a date in the session's zone unless told otherwise."""
    read_model.load(
        Dataset(
            profiles=[ProfileRow("night_owl")],
            events=[
                EventRow("night_owl", "Page Viewed", at(2, hours=-0.5)),
                EventRow("night_owl", "Page Viewed", at(2, hours=0.5)),
            ],
        )
    )
    with session_of(read_model) as session:
        if read_model.dialect == "postgresql":
            session.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
        matrix = features.behaviour_features(
            session, "ws_test", cutoff=CUTOFF, features=["distinct_event_days"]
        )
    assert matrix.values.tolist() == [[2.0]]
