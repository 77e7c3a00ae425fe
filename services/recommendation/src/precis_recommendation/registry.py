"""The model registry: versions with their parameters, training data and metrics, the fitted
factors as an artifact, and the promotion history that decides which version serves.

Promotion history: PromoteModelVersion appends a promotion; RollbackModelVersion marks the
newest promotion rolled back, so the promotion before it serves again (and a second rollback goes
one further back). A version's status is derived: SERVING for the newest live promotion, RETIRED
for a version promoted before, CANDIDATE for one never promoted.

Artifact: a numpy .npz of the item ids and item factors, plus, for BPR (whose user factors
cannot be recomputed from a user's interactions), the user ids and user factors. ALS keeps no user
factors at all: serving recomputes a user's factors from their current interactions
(implicit's recalculate_user), so new interactions count at once and an erased person leaves
nothing in any ALS artifact. Erasure rewrites BPR artifacts without the person's row.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from implicit.als import AlternatingLeastSquares  # type: ignore[import-untyped]  # no types
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from precis_common.db import Database
from precis_common.errors import FailedPrecondition, NotFound
from precis_recommendation.interactions import IdIndex, Weights
from precis_recommendation.store import rec_models, rec_promotions

METRICS = ("precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage")


@dataclass(frozen=True, slots=True)
class Spec:
    """A training request with its defaults filled in (stored with the job and the version)."""

    algorithm: str = "als"
    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 1.0
    learning_rate: float = 0.01
    view: float = 1.0
    cart: float = 3.0
    purchase: float = 5.0
    half_life_days: float = 30.0
    history_days: int = 365
    test_days: int = 14
    test_fraction: float = 0.0
    k: int = 10
    seed: int = 0
    note: str = ""

    def weights(self) -> Weights:
        return Weights(view=self.view, cart=self.cart, purchase=self.purchase)

    def half_life(self) -> float | None:
        return self.half_life_days if self.half_life_days > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Spec:
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})


def pack_artifact(
    *,
    algorithm: str,
    items: IdIndex,
    item_factors: np.ndarray,
    users: IdIndex | None = None,
    user_factors: np.ndarray | None = None,
) -> bytes:
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {
        "algorithm": np.array(algorithm),
        "item_ids": np.array(items.ids, dtype=np.str_),
        "item_factors": np.ascontiguousarray(item_factors, dtype=np.float32),
    }
    if users is not None and user_factors is not None:
        arrays["user_ids"] = np.array(users.ids, dtype=np.str_)
        arrays["user_factors"] = np.ascontiguousarray(user_factors, dtype=np.float32)
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@dataclass
class LoadedModel:
    """A version ready to serve: factors, id maps and (ALS) an implicit model to recompute a
    user's factors with."""

    version: int
    revision: int
    spec: Spec
    as_of: datetime
    items: IdIndex
    item_factors: np.ndarray
    users: IdIndex | None
    user_factors: np.ndarray | None
    als: Any = None
    _normalized: np.ndarray | None = field(default=None, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, row: Any) -> LoadedModel:
        with np.load(io.BytesIO(row.artifact), allow_pickle=False) as data:
            items = IdIndex(tuple(str(i) for i in data["item_ids"]))
            item_factors = np.array(data["item_factors"], dtype=np.float32)
            users = user_factors = None
            if "user_ids" in data:
                users = IdIndex(tuple(str(u) for u in data["user_ids"]))
                user_factors = np.array(data["user_factors"], dtype=np.float32)
        spec = Spec.from_json(row.hyperparameters)
        as_of = datetime.fromisoformat(row.training_data["history_end"])
        model = cls(
            version=int(row.version),
            revision=int(row.revision),
            spec=spec,
            as_of=as_of,
            items=items,
            item_factors=item_factors,
            users=users,
            user_factors=user_factors,
        )
        if spec.algorithm == "als":
            als = AlternatingLeastSquares(
                factors=item_factors.shape[1],
                regularization=spec.regularization,
                alpha=spec.alpha,
                iterations=spec.iterations,
                random_state=spec.seed,
                num_threads=1,
                use_gpu=False,
            )
            als.item_factors = item_factors
            als.user_factors = np.zeros((0, item_factors.shape[1]), dtype=np.float32)
            model.als = als
        return model

    def normalized_items(self) -> np.ndarray:
        """Item factors scaled to unit length (cosine similarity)."""
        if self._normalized is None:
            norms = np.linalg.norm(self.item_factors, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            self._normalized = self.item_factors / norms
        return self._normalized

    def memory_bytes(self) -> int:
        total = self.item_factors.nbytes + sum(len(i) for i in self.items.ids) * 2
        if self.user_factors is not None and self.users is not None:
            total += self.user_factors.nbytes + sum(len(u) for u in self.users.ids) * 2
        return total


class ModelCache:
    """Loaded versions per (workspace, version, revision); replicas each keep their own."""

    def __init__(self, capacity: int = 8) -> None:
        self._capacity = capacity
        self._models: dict[tuple[str, int], LoadedModel] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, workspace: str, version: int) -> LoadedModel:
        revision = session.execute(
            select(rec_models.c.revision).where(
                rec_models.c.workspace_id == workspace, rec_models.c.version == version
            )
        ).scalar_one_or_none()
        if revision is None:
            raise NotFound(f"model version {version} not found")
        with self._lock:
            cached = self._models.get((workspace, version))
            if cached is not None and cached.revision == revision:
                return cached
        row = session.execute(
            select(rec_models).where(
                rec_models.c.workspace_id == workspace, rec_models.c.version == version
            )
        ).one()
        loaded = LoadedModel.load(row)
        with self._lock:
            self._models[(workspace, version)] = loaded
            while len(self._models) > self._capacity:
                self._models.pop(next(iter(self._models)))
        return loaded

    def forget(self, workspace: str) -> None:
        with self._lock:
            for key in [k for k in self._models if k[0] == workspace]:
                del self._models[key]


def serving_version(session: Session, workspace: str) -> int:
    """The version serving now; 0 when none."""
    p = rec_promotions.c
    version = session.execute(
        select(p.version)
        .where(p.workspace_id == workspace, p.rolled_back_at.is_(None))
        .order_by(p.promotion_id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return int(version or 0)


def promoted_versions(session: Session, workspace: str) -> dict[int, datetime]:
    """Every version ever promoted (and not only rolled back), with its latest promotion time."""
    p = rec_promotions.c
    rows = session.execute(
        select(p.version, func.max(p.promoted_at))
        .where(p.workspace_id == workspace)
        .group_by(p.version)
    ).all()
    return {int(v): at for v, at in rows}


class Registry:
    def __init__(self, database: Database) -> None:
        self.db = database

    def register(self, session: Session, workspace: str, row: dict[str, Any]) -> int:
        version = (
            session.execute(
                select(func.max(rec_models.c.version)).where(rec_models.c.workspace_id == workspace)
            ).scalar_one_or_none()
            or 0
        ) + 1
        session.execute(
            rec_models.insert().values(workspace_id=workspace, version=version, revision=1, **row)
        )
        return int(version)

    def versions(
        self, workspace: str, *, offset: int, limit: int
    ) -> tuple[list[Any], int, dict[int, datetime], bool]:
        """A page of versions (newest first, without artifacts), the serving version, the
        promoted versions, and whether more follow."""
        columns = [c for c in rec_models.c if c.name != "artifact"]
        with self.db.read() as session:
            rows = session.execute(
                select(*columns)
                .where(rec_models.c.workspace_id == workspace)
                .order_by(rec_models.c.version.desc())
                .offset(offset)
                .limit(limit + 1)
            ).all()
            return (
                list(rows[:limit]),
                serving_version(session, workspace),
                promoted_versions(session, workspace),
                len(rows) > limit,
            )

    def version(self, workspace: str, version: int) -> tuple[Any, int, dict[int, datetime]]:
        columns = [c for c in rec_models.c if c.name != "artifact"]
        with self.db.read() as session:
            row = session.execute(
                select(*columns).where(
                    rec_models.c.workspace_id == workspace, rec_models.c.version == version
                )
            ).one_or_none()
            if row is None:
                raise NotFound(f"model version {version} not found")
            return row, serving_version(session, workspace), promoted_versions(session, workspace)

    def promote(self, workspace: str, version: int) -> int:
        """Serves `version`; returns the version that served before (0: none)."""
        with self.db.write() as session:
            exists = session.execute(
                select(rec_models.c.version).where(
                    rec_models.c.workspace_id == workspace, rec_models.c.version == version
                )
            ).scalar_one_or_none()
            if exists is None:
                raise NotFound(f"model version {version} not found")
            previous = serving_version(session, workspace)
            if previous != version:
                session.execute(
                    rec_promotions.insert().values(
                        workspace_id=workspace, version=version, promoted_at=datetime.now(UTC)
                    )
                )
            return previous

    def rollback(self, workspace: str) -> tuple[int, int]:
        """Undoes the newest promotion; returns (serving now, rolled back from)."""
        p = rec_promotions.c
        with self.db.write() as session:
            live = session.execute(
                select(p.promotion_id, p.version)
                .where(p.workspace_id == workspace, p.rolled_back_at.is_(None))
                .order_by(p.promotion_id.desc())
                .limit(2)
            ).all()
            if len(live) < 2:
                raise FailedPrecondition(
                    "no previously promoted version to roll back to"
                    if live
                    else "no model version is serving"
                )
            session.execute(
                update(rec_promotions)
                .where(p.promotion_id == live[0].promotion_id)
                .values(rolled_back_at=datetime.now(UTC))
            )
            return int(live[1].version), int(live[0].version)


def metric_rows(
    base: dict[str, Any], candidate: dict[str, Any], names: Sequence[str] = METRICS
) -> list[tuple[str, float, float, float, float]]:
    """(metric, base, candidate, difference, relative difference) per metric."""
    out = []
    for name in names:
        b, c = float(base.get(name, 0.0)), float(candidate.get(name, 0.0))
        out.append((name, b, c, c - b, (c - b) / b if b else 0.0))
    return out
