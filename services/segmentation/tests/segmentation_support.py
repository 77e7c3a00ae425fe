"""The segmentation read model in a test database: migrate, load a Dataset, run a rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from precis_common.db import Database, upgrade_database
from precis_segmentation.compile import compile_rule
from precis_segmentation.evaluate import Dataset, evaluate
from precis_segmentation.rules import Condition, parse_rule
from precis_segmentation.store import (
    event_fact_row,
    seg_consent,
    seg_event_facts,
    seg_memberships,
    seg_profile_tags,
    seg_profiles,
    seg_scores,
)

MIGRATIONS = Path(__file__).parents[1] / "src" / "precis_segmentation" / "migrations"
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
WORKSPACE = "ws_test"
TABLES = (
    seg_scores,
    seg_memberships,
    seg_consent,
    seg_event_facts,
    seg_profile_tags,
    seg_profiles,
)


class ReadModel:
    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def dialect(self) -> str:
        return self.database.dialect

    def clear(self) -> None:
        with self.database.engine.begin() as conn:
            for table in TABLES:
                conn.execute(delete(table))

    def load(self, dataset: Dataset, *, workspace_id: str = WORKSPACE) -> None:
        with self.database.engine.begin() as conn:
            if dataset.profiles:
                conn.execute(
                    insert(seg_profiles),
                    [
                        {
                            "workspace_id": workspace_id,
                            "profile_id": p.profile_id,
                            "traits": dict(p.traits),
                            "computed": dict(p.computed),
                            "updated_at": NOW,
                        }
                        for p in dataset.profiles
                    ],
                )
            tags = [
                {"workspace_id": workspace_id, "profile_id": pid, "tag": tag}
                for pid, names in dataset.tags.items()
                for tag in names
            ]
            if tags:
                conn.execute(insert(seg_profile_tags), tags)
            if dataset.events:
                conn.execute(
                    insert(seg_event_facts),
                    [
                        event_fact_row(
                            workspace_id=workspace_id,
                            profile_id=e.profile_id,
                            event=e.event,
                            occurred_at=e.occurred_at,
                            properties=e.properties,
                        )
                        for e in dataset.events
                    ],
                )
            consent = [
                {"workspace_id": workspace_id, "profile_id": pid, "purpose": purpose, "allowed": ok}
                for (pid, purpose), ok in dataset.consent.items()
            ]
            if consent:
                conn.execute(insert(seg_consent), consent)
            members = [
                {
                    "workspace_id": workspace_id,
                    "segment_id": sid,
                    "profile_id": pid,
                    "entered_at": NOW,
                }
                for sid, pids in dataset.memberships.items()
                for pid in pids
            ]
            if members:
                conn.execute(insert(seg_memberships), members)
            scores = [
                {"workspace_id": workspace_id, "model_id": mid, "profile_id": pid, "score": v}
                for (mid, pid), v in dataset.scores.items()
            ]
            if scores:
                conn.execute(insert(seg_scores), scores)

    def select(
        self, rule: Condition, *, now: datetime = NOW, workspace_id: str = WORKSPACE
    ) -> set[str]:
        statement = compile_rule(rule, workspace_id=workspace_id, now=now)
        with self.database.read_engine.connect() as conn:
            ids = list(conn.execute(statement).scalars())
        assert len(ids) == len(set(ids)), "a profile is listed twice"
        return set(ids)


def run_both(read_model: ReadModel, doc: Any, dataset: Dataset, now: datetime = NOW) -> set[str]:
    """SQL result of a rule document, after checking it equals the Python evaluator's."""
    rule = parse_rule(doc)
    found = read_model.select(rule, now=now)
    assert found == evaluate(rule, dataset, now=now)
    return found


def make_read_model(database_url_factory: Any) -> Iterator[ReadModel]:
    database = Database(database_url_factory("segmentation"))
    upgrade_database(database, MIGRATIONS)
    try:
        yield ReadModel(database)
    finally:
        database.dispose()


def persuadable_campaign(
    count: int, *, start: datetime, seed: int = 0
) -> tuple[Dataset, list[bool], list[bool]]:
    """A randomized campaign whose effect depends on who is reached, for uplift models.

    Each profile has traits ``region`` (north or south, half each), ``age`` (18..70, noise) and
    ``member`` (a boolean, noise), an order history before ``start`` (0 to 3 orders) and a
    sign-up. Half are treated at random. Converting within the campaign: 4% without treatment;
    treatment adds 16 points in the north and nothing in the south, so the persuadable are the
    northerners and a model must find ``traits.region=north``. Converters get an order after
    ``start`` (the outcome, which must never feed the features). Returns the read model's
    dataset, treated and converted per profile (profile ids "u00000".. in order).
    """
    import numpy as np

    from precis_segmentation.evaluate import EventRow, ProfileRow

    rng = np.random.default_rng(seed)
    dataset = Dataset()
    treated: list[bool] = []
    converted: list[bool] = []
    for index in range(count):
        pid = f"u{index:05d}"
        north = bool(rng.random() < 0.5)
        dataset.profiles.append(
            ProfileRow(
                pid,
                traits={
                    "region": "north" if north else "south",
                    "age": int(rng.integers(18, 71)),
                    "member": bool(rng.random() < 0.3),
                },
            )
        )
        dataset.events.append(EventRow(pid, "Signed Up", start - timedelta(days=200)))
        for n in range(int(rng.integers(0, 4))):
            dataset.events.append(
                EventRow(
                    pid,
                    "Order Completed",
                    start - timedelta(days=10 + 30 * n),
                    {"revenue": 20.0},
                )
            )
        t = bool(rng.random() < 0.5)
        p = 0.04 + (0.16 if t and north else 0.0)
        y = bool(rng.random() < p)
        treated.append(t)
        converted.append(y)
        if y:
            dataset.events.append(
                EventRow(pid, "Order Completed", start + timedelta(days=2), {"revenue": 30.0})
            )
    return dataset, treated, converted
