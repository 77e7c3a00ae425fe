"""Interaction records -> a user x item confidence matrix, and time-based train/test splits.

A record says a profile viewed, carted or purchased an item at a time. Each record contributes
``weight(kind) * decay(age)`` to the cell (profile, item); repeated records add up. The decay is
optional: with a half-life of ``h`` days, a record ``a`` days older than ``as_of`` counts
``0.5 ** (a / h)`` of its weight (records after ``as_of`` count fully).

Rows and columns follow :class:`IdIndex`: the ids sorted, so the same records always give the
same matrix whatever their order.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]  # scipy ships no type information

Kind = Literal["view", "cart", "purchase"]
KINDS: tuple[Kind, ...] = ("view", "cart", "purchase")
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Interaction:
    """A profile did ``kind`` with an item at ``time`` (timezone-aware)."""

    profile_id: str
    item_id: str
    kind: Kind
    time: datetime


@dataclass(frozen=True, slots=True)
class Weights:
    """The confidence one record of each kind adds (before decay)."""

    view: float = 1.0
    cart: float = 3.0
    purchase: float = 5.0

    def of(self, kind: Kind) -> float:
        if kind == "view":
            return self.view
        if kind == "cart":
            return self.cart
        if kind == "purchase":
            return self.purchase
        raise ValueError(f"unknown interaction kind {kind!r}; expected one of {KINDS}")


@dataclass(frozen=True, slots=True)
class IdIndex:
    """A stable two-way map between ids and 0-based positions (ids in sorted order)."""

    ids: tuple[str, ...]
    positions: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("ids must be unique")
        object.__setattr__(self, "positions", {id_: i for i, id_ in enumerate(self.ids)})

    @classmethod
    def of(cls, ids: Iterable[str]) -> IdIndex:
        return cls(tuple(sorted(set(ids))))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self.positions

    def position(self, id_: str) -> int:
        return self.positions[id_]

    def id(self, position: int) -> str:
        return self.ids[position]


@dataclass(frozen=True, slots=True)
class InteractionMatrix:
    """Confidence of each user (row) in each item (column), CSR float32, with the id maps."""

    matrix: sp.csr_matrix
    users: IdIndex
    items: IdIndex

    def items_of(self, profile_id: str) -> set[str]:
        """The items the profile has any confidence in."""
        if profile_id not in self.users:
            return set()
        row = self.users.position(profile_id)
        start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return {self.items.id(int(j)) for j in self.matrix.indices[start:end]}


def decay_factor(time: datetime, as_of: datetime, half_life_days: float) -> float:
    """``0.5 ** (age_days / half_life_days)``; 1.0 for records at or after ``as_of``."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    age_days = max(0.0, (as_of - time).total_seconds() / SECONDS_PER_DAY)
    return math.pow(0.5, age_days / half_life_days)


def build_matrix(
    records: Iterable[Interaction],
    *,
    weights: Weights | None = None,
    half_life_days: float | None = None,
    as_of: datetime | None = None,
    users: IdIndex | None = None,
    items: IdIndex | None = None,
) -> InteractionMatrix:
    """The confidence matrix of ``records``.

    ``as_of`` (the decay reference) defaults to the latest record. ``users``/``items`` default to
    the ids seen in the records; when given, records of other ids are dropped.
    """
    weights = weights or Weights()
    records = list(records)
    users = users if users is not None else IdIndex.of(r.profile_id for r in records)
    items = items if items is not None else IdIndex.of(r.item_id for r in records)
    if half_life_days is not None and as_of is None and records:
        as_of = max(r.time for r in records)
    cells: dict[tuple[int, int], float] = defaultdict(float)
    for r in records:
        if r.profile_id not in users or r.item_id not in items:
            continue
        value = weights.of(r.kind)
        if half_life_days is not None and as_of is not None:
            value *= decay_factor(r.time, as_of, half_life_days)
        cells[(users.position(r.profile_id), items.position(r.item_id))] += value
    rows = np.fromiter((k[0] for k in cells), dtype=np.int32, count=len(cells))
    cols = np.fromiter((k[1] for k in cells), dtype=np.int32, count=len(cells))
    data = np.fromiter(cells.values(), dtype=np.float32, count=len(cells))
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(items)), dtype=np.float32)
    matrix.sort_indices()
    return InteractionMatrix(matrix, users, items)


@dataclass(frozen=True, slots=True)
class Split:
    """Records to train on and records held out to evaluate against."""

    train: list[Interaction]
    test: list[Interaction]


def split_at(records: Iterable[Interaction], cutoff: datetime) -> Split:
    """Global time split: records strictly before ``cutoff`` train, the rest are test."""
    train: list[Interaction] = []
    test: list[Interaction] = []
    for r in records:
        (train if r.time < cutoff else test).append(r)
    return Split(train, test)


def split_per_user(records: Iterable[Interaction], test_fraction: float = 0.2) -> Split:
    """Per-user time split: each user's latest ``ceil(test_fraction * n)`` records are test (the
    earlier ones train), so every user with two or more records is in both parts; users with
    one record only train. Ties in time are ordered by item id, so the split is deterministic.
    Every test record of a user is at or after all of that user's training records."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for r in records:
        by_user[r.profile_id].append(r)
    train: list[Interaction] = []
    test: list[Interaction] = []
    for user in sorted(by_user):
        ordered = sorted(by_user[user], key=lambda r: (r.time, r.item_id, r.kind))
        held = math.ceil(test_fraction * len(ordered)) if len(ordered) > 1 else 0
        cut = len(ordered) - held
        train.extend(ordered[:cut])
        test.extend(ordered[cut:])
    return Split(train, test)


def held_out(test: Sequence[Interaction], train: InteractionMatrix) -> dict[str, set[str]]:
    """The relevant items per user to evaluate against: each known (trained) user's test items
    that they had not interacted with in training (those are never recommended). Users unknown
    to the training matrix are left out (cold start is not measured here)."""
    relevant: dict[str, set[str]] = defaultdict(set)
    seen: dict[str, set[str]] = {}
    for r in test:
        if r.profile_id not in train.users:
            continue
        if r.profile_id not in seen:
            seen[r.profile_id] = train.items_of(r.profile_id)
        if r.item_id not in seen[r.profile_id]:
            relevant[r.profile_id].add(r.item_id)
    return {user: items for user, items in relevant.items() if items}
