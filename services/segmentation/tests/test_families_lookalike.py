"""Lookalike audiences: on synthetic populations where the seed's kind is known, the expansion
finds more of that kind and its quality numbers say so; a random seed gets no lift; refusals;
on the read model (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from segmentation_support import ReadModel
from sqlalchemy.orm import Session

from precis_common.errors import InvalidArgument
from precis_segmentation.evaluate import Dataset, EventRow, ProfileRow
from precis_segmentation.families import lookalike
from precis_segmentation.families.features import ORDER_EVENT

NAMES = ("recency_days", "frequency", "monetary")


def population(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """6,000 profiles: 600 "high-value regulars" (recent, ~12 orders, ~$900) among lapsed
    one-off buyers and middling customers, all with overlapping noise."""
    rng = np.random.default_rng(seed)
    kinds = np.repeat([0, 1, 2], [600, 3000, 2400])
    recency = np.where(kinds == 0, rng.gamma(2, 10, 6000), rng.gamma(2, 90, 6000))
    frequency = (
        np.where(kinds == 0, rng.poisson(12, 6000), np.where(kinds == 1, 1, rng.poisson(4, 6000)))
        + 1
    )
    monetary = frequency * np.where(kinds == 0, rng.normal(75, 15, 6000), rng.normal(30, 8, 6000))
    values = np.column_stack([recency, frequency, np.clip(monetary, 1, None)]).astype(np.float64)
    profile_ids = [f"p{i:05d}" for i in range(6000)]
    return profile_ids, values, kinds == 0


def test_the_expansion_finds_the_seeds_kind() -> None:
    """Seed: 300 of the 600 regulars. The 300 most similar others are mostly the other
    regulars; held-out seed members score above the cutoff; lift is far above random.
    Measured: precision 0.97, holdout recall 0.98 (59 of 60), lift 18.7, cutoff 0.73."""
    profile_ids, values, regular = population()
    rng = np.random.default_rng(1)
    in_seed = np.zeros(len(profile_ids), dtype=np.bool_)
    in_seed[rng.choice(np.flatnonzero(regular), 300, replace=False)] = True

    result = lookalike.expand_matrix(profile_ids, values, in_seed, size=300, seed=2)

    chosen = np.isin(profile_ids, result.profile_ids)
    assert len(result.profile_ids) == 300 and not (chosen & in_seed).any()
    precision = (chosen & regular).sum() / 300
    assert precision > 0.8, precision
    quality = result.quality
    assert quality.holdout_size == 60
    assert quality.holdout_recall > 0.8, quality
    assert quality.lift_over_random == pytest.approx(quality.holdout_recall / (300 / 5700))
    assert quality.lift_over_random > 10
    assert 0 < quality.similarity_cutoff < 1
    assert quality.similarity_cutoff == pytest.approx(result.scores.min())
    assert list(result.scores) == sorted(result.scores, reverse=True)
    assert result.seed_used == 300 and result.candidates == 5700

    again = lookalike.expand_matrix(profile_ids, values, in_seed, size=300, seed=2)
    assert again.profile_ids == result.profile_ids and again.quality == result.quality


def test_a_random_seed_has_no_lift() -> None:
    """A seed drawn at random from everyone: the held-out members are no more similar than
    anybody else, so the recall is about the share selected. Measured: recall 0.21 with 20%
    of the candidates selected, lift 1.05."""
    profile_ids, values, _ = population(seed=3)
    rng = np.random.default_rng(4)
    in_seed = np.zeros(len(profile_ids), dtype=np.bool_)
    in_seed[rng.choice(len(profile_ids), 500, replace=False)] = True
    result = lookalike.expand_matrix(profile_ids, values, in_seed, size=1100, seed=5)
    assert result.quality.lift_over_random < 2.0, result.quality


def test_seed_and_size_are_checked() -> None:
    profile_ids, values, regular = population()
    small = np.zeros(len(profile_ids), dtype=np.bool_)
    small[np.flatnonzero(regular)[:99]] = True
    with pytest.raises(InvalidArgument) as refused:
        lookalike.expand_matrix(profile_ids, values, small, size=10)
    assert refused.value.violations[0].field == "seed_segment_id"
    assert "99 members" in refused.value.violations[0].description

    enough = np.zeros(len(profile_ids), dtype=np.bool_)
    enough[np.flatnonzero(regular)[:100]] = True
    for size in (0, 5901):
        with pytest.raises(InvalidArgument) as refused:
            lookalike.expand_matrix(profile_ids, values, enough, size=size)
        assert refused.value.violations[0].field == "size"


NOW = datetime(2026, 11, 1, tzinfo=UTC)


def customers() -> Dataset:
    """150 regulars (orders every ~10 days, recent) and 150 one-off buyers (long ago)."""
    rng = np.random.default_rng(8)
    profiles: list[ProfileRow] = []
    events: list[EventRow] = []
    for i in range(150):
        pid = f"regular{i:03d}"
        profiles.append(ProfileRow(pid))
        for day in range(int(rng.integers(1, 10)), 120, 10):
            events.append(EventRow(pid, ORDER_EVENT, NOW - timedelta(days=day), {"revenue": 80}))
    for i in range(150):
        pid = f"oneoff{i:03d}"
        profiles.append(ProfileRow(pid))
        day = int(rng.integers(150, 400))
        events.append(EventRow(pid, ORDER_EVENT, NOW - timedelta(days=day), {"revenue": 25}))
    return Dataset(profiles=profiles, events=events)


def test_expand_lookalike_on_the_read_model(read_model: ReadModel) -> None:
    read_model.load(customers())
    seed_ids = [f"regular{i:03d}" for i in range(110)] + ["not_a_profile"]
    with Session(read_model.database.read_engine) as session:
        result = lookalike.expand_lookalike(
            session, "ws_test", seed_ids, size=40, as_of=NOW, seed=1
        )
        with pytest.raises(InvalidArgument):
            lookalike.expand_lookalike(
                session, "ws_test", seed_ids[:99], size=40, as_of=NOW, features=["frequency"]
            )
    assert result.seed_used == 110 and result.candidates == 190
    assert all(pid.startswith("regular") for pid in result.profile_ids)
    assert result.quality.holdout_size == 22 and result.quality.holdout_recall > 0.9
