"""The catalog and serving: top-k for a profile, similar items, popular items.

Personalized lists come from the serving model version. ALS recomputes the profile's factors from
its current interactions at each request (implicit's recalculate_user, a least-squares solve in
the item factors: about a millisecond), so an interaction counts as soon as the profile_changes
consumer has applied it, without retraining, and a profile that appeared after training is
personalized as soon as it has interacted with items the model knows. BPR's user factors cannot
be recomputed that way; a profile the BPR version was not trained on gets the cold-start
fallback.

Fallbacks are non-personal: the popular items of the workspace, or of a segment when the caller
names one. A subject without personalization consent gets exactly what anyone would get (even
`exclude_purchased` and `exclude_seen` are not applied: they would use their history).

Popularity: the decayed interaction weight (view 1, cart 3, purchase 5, half-life 30 days) of each
item over the window, counted back from the newest interaction of the workspace (so a history
imported from the past has popular items too). The database counts interactions per item, kind
and UTC day, and the decay is applied per day (at mid-day: at most half a day off, about 1% of
a weight at a 30-day half-life), so the work grows with items x days, not with events. Results
are cached per (workspace, segment, window): new interactions or memberships of the workspace
make an entry stale, and a stale entry is computed again at most every
`refresh_seconds` (default 5 s), so a steady stream of events does not make every fallback
recompute; an entry is also recomputed after a minute regardless.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]  # no types
from sqlalchemy import String, func, literal_column, select, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from precis_common.db import Database
from precis_common.errors import NotFound
from precis_recommendation.interactions import SECONDS_PER_DAY, Weights
from precis_recommendation.registry import LoadedModel, ModelCache, serving_version
from precis_recommendation.store import rec_interactions, rec_items, rec_segment_members

POPULAR_WEIGHTS = Weights()
POPULAR_HALF_LIFE_DAYS = 30.0
# A segment with fewer interactions than this in the window falls back to global popularity.
MIN_SEGMENT_INTERACTIONS = 20
# Co-occurrence (SimilarItems without a model) reads at most this many of the item's profiles.
MAX_COOCCURRENCE_PROFILES = 5000
CHUNK = 500

PERSONALIZED = "personalized"
NO_CONSENT = "fallback_no_consent"
CONSENT_UNAVAILABLE = "fallback_consent_unavailable"
COLD_START = "fallback_cold_start"
NO_MODEL = "fallback_no_model"
POPULAR = "popular"
SIMILAR = "similar"


@dataclass(frozen=True, slots=True)
class ItemFilter:
    exclude_purchased: bool = False
    exclude_seen: bool = False
    categories: tuple[str, ...] = ()
    available_only: bool = False
    min_price: float = 0.0
    max_price: float = 0.0
    exclude_item_ids: frozenset[str] = frozenset()

    def accepts(self, row: Any) -> bool:
        if row.item_id in self.exclude_item_ids:
            return False
        if self.available_only and not row.available:
            return False
        if self.min_price and row.price < self.min_price:
            return False
        if self.max_price and row.price > self.max_price:
            return False
        if self.categories:
            category = row.category or ""
            return any(category == c or category.startswith(c + " > ") for c in self.categories)
        return True


@dataclass
class Result:
    items: list[tuple[Any, float]]
    reason: str
    model_version: int = 0
    profile_id: str = ""
    fell_back_to_global: bool = False
    interactions: int = 0


@dataclass(frozen=True, slots=True)
class NewItem:
    item_id: str
    title: str
    category: str
    price: float
    currency: str
    available: bool
    attributes: dict[str, Any]


@dataclass
class _Popular:
    computed_at: float
    generation: int
    ranked: list[tuple[str, float]]
    interactions: int


@dataclass
class PopularCache:
    """Popular lists per (workspace, segment, window), with a generation per workspace that new
    interactions or memberships advance (see the module docstring)."""

    refresh_seconds: float = 5.0
    max_age_seconds: float = 60.0
    entries: dict[tuple[str, str, int], _Popular] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def forget(self, workspaces: Iterable[str]) -> None:
        """New data for these workspaces: their entries are stale from now on."""
        with self.lock:
            for workspace in workspaces:
                self.generations[workspace] = self.generations.get(workspace, 0) + 1

    def forget_all(self) -> None:
        with self.lock:
            for workspace in {key[0] for key in self.entries}:
                self.generations[workspace] = self.generations.get(workspace, 0) + 1

    def generation(self, workspace: str) -> int:
        with self.lock:
            return self.generations.get(workspace, 0)

    def usable(self, key: tuple[str, str, int], now: float) -> _Popular | None:
        with self.lock:
            entry = self.entries.get(key)
            if entry is None or now - entry.computed_at >= self.max_age_seconds:
                return None
            if entry.generation == self.generations.get(key[0], 0):
                return entry
            return entry if now - entry.computed_at < self.refresh_seconds else None

    def store(self, key: tuple[str, str, int], entry: _Popular) -> None:
        with self.lock:
            self.entries[key] = entry


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Catalog:
    def __init__(self, database: Database) -> None:
        self.db = database

    def upsert(self, workspace: str, items: Sequence[NewItem]) -> tuple[int, int]:
        """Creates or replaces the items; (created, replaced)."""
        now = datetime.now(UTC)
        rows = [
            {
                "workspace_id": workspace,
                "item_id": i.item_id,
                "title": i.title,
                "category": i.category,
                "price": i.price,
                "currency": i.currency,
                "available": i.available,
                "attributes": i.attributes,
                "source": "catalog",
                "updated_at": now,
            }
            for i in items
        ]
        with self.db.write() as session:
            existing = set(
                session.execute(
                    select(rec_items.c.item_id).where(
                        rec_items.c.workspace_id == workspace,
                        rec_items.c.item_id.in_([r["item_id"] for r in rows]),
                    )
                ).scalars()
            )
            module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            statement = module.insert(rec_items)
            statement = statement.on_conflict_do_update(
                index_elements=["workspace_id", "item_id"],
                set_={
                    name: statement.excluded[name]
                    for name in (
                        "title",
                        "category",
                        "price",
                        "currency",
                        "available",
                        "attributes",
                        "source",
                        "updated_at",
                    )
                },
            )
            for start in range(0, len(rows), CHUNK):
                session.execute(statement, rows[start : start + CHUNK])
        return len(rows) - len(existing), len(existing)

    def get(self, workspace: str, item_ids: Sequence[str]) -> dict[str, Any]:
        with self.db.read() as session:
            return rows_by_id(session, workspace, item_ids)

    def list(
        self, workspace: str, *, category: str, available_only: bool, after: str, limit: int
    ) -> tuple[list[Any], bool]:
        c = rec_items.c
        query = select(rec_items).where(c.workspace_id == workspace, c.item_id > after)
        if category:
            query = query.where((c.category == category) | c.category.startswith(category + " > "))
        if available_only:
            query = query.where(c.available.is_(True))
        with self.db.read() as session:
            rows = session.execute(query.order_by(c.item_id).limit(limit + 1)).all()
        return list(rows[:limit]), len(rows) > limit


def rows_by_id(session: Session, workspace: str, item_ids: Iterable[str]) -> dict[str, Any]:
    ids = list(dict.fromkeys(item_ids))
    out: dict[str, Any] = {}
    for start in range(0, len(ids), CHUNK):
        for row in session.execute(
            select(rec_items).where(
                rec_items.c.workspace_id == workspace,
                rec_items.c.item_id.in_(ids[start : start + CHUNK]),
            )
        ):
            out[row.item_id] = row
    return out


def pick(
    session: Session,
    workspace: str,
    ranked: Iterable[tuple[str, float]],
    k: int,
    item_filter: ItemFilter,
    exclude: set[str] | None = None,
) -> list[tuple[Any, float]]:
    """The first k ranked items that exist in the catalog and pass the filter."""
    exclude = exclude or set()
    chosen: list[tuple[Any, float]] = []
    batch: list[tuple[str, float]] = []
    size = max(4 * k, 50)

    def take(candidates: list[tuple[str, float]]) -> bool:
        rows = rows_by_id(session, workspace, [i for i, _ in candidates])
        for item_id, score in candidates:
            row = rows.get(item_id)
            if row is None or item_id in exclude or not item_filter.accepts(row):
                continue
            chosen.append((row, score))
            if len(chosen) >= k:
                return True
        return False

    for item_id, score in ranked:
        if item_id in exclude or item_id in item_filter.exclude_item_ids:
            continue
        batch.append((item_id, score))
        if len(batch) >= size:
            if take(batch):
                return chosen
            batch = []
            size = min(size * 2, 5000)
    if batch:
        take(batch)
    return chosen


def _ranked(
    scores: np.ndarray, ids: Sequence[str], skip: int | None = None
) -> Iterator[tuple[str, float]]:
    """Item ids by descending score (ties by id): the top 256 by a partial sort, the rest (a
    full sort) only when filters used those up."""
    n = len(scores)
    head = min(n, 256)
    if head == n:
        order = np.argsort(-scores, kind="stable")
        for j in order:
            if int(j) != skip:
                yield ids[int(j)], float(scores[j])
        return
    top = np.argpartition(-scores, head - 1)[:head]
    top = top[np.lexsort((top, -scores[top]))]
    for j in top:
        if int(j) != skip:
            yield ids[int(j)], float(scores[j])
    seen = {int(j) for j in top}
    for j in np.argsort(-scores, kind="stable"):
        if int(j) not in seen and int(j) != skip:
            yield ids[int(j)], float(scores[j])


class Serving:
    def __init__(
        self, database: Database, models: ModelCache, *, popular_refresh_seconds: float = 5.0
    ) -> None:
        self.db = database
        self.models = models
        self.popular_cache = PopularCache(refresh_seconds=popular_refresh_seconds)

    # ---- popular -------------------------------------------------------------------------

    def _popular(
        self, session: Session, workspace: str, segment_id: str, window_days: int
    ) -> _Popular:
        key = (workspace, segment_id, window_days)
        now = time.monotonic()
        cached = self.popular_cache.usable(key, now)
        if cached is not None:
            return cached
        generation = self.popular_cache.generation(workspace)
        c = rec_interactions.c
        latest = session.execute(
            select(func.max(c.occurred_at)).where(c.workspace_id == workspace)
        ).scalar_one_or_none()
        ranked: list[tuple[str, float]] = []
        count = 0
        if latest is not None:
            as_of = _utc(latest)
            since = as_of - timedelta(days=window_days)
            # Literal arguments, not bound parameters: PostgreSQL matches the GROUP BY
            # expression with the selected one only when their texts are the same.
            if session.get_bind().dialect.name == "postgresql":
                day: Any = func.to_char(
                    func.timezone(literal_column("'UTC'"), c.occurred_at),
                    literal_column("'YYYY-MM-DD'"),
                )
            else:  # stored as "YYYY-MM-DD HH:MM:SS..." in UTC
                day = func.substr(
                    type_coerce(c.occurred_at, String), literal_column("1"), literal_column("10")
                )
            n = func.count()
            query = select(c.item_id, c.kind, day, n).where(
                c.workspace_id == workspace, c.occurred_at >= since
            )
            if segment_id:
                m = rec_segment_members.c
                query = query.join(
                    rec_segment_members,
                    (m.workspace_id == c.workspace_id) & (m.profile_id == c.profile_id),
                ).where(m.segment_id == segment_id)
            query = query.group_by(c.item_id, c.kind, day)
            scores: dict[str, float] = {}
            decay: dict[str, float] = {}
            for item_id, kind, bucket, times in session.execute(query):
                factor = decay.get(bucket)
                if factor is None:
                    midday = datetime.fromisoformat(bucket).replace(tzinfo=UTC) + timedelta(
                        hours=12
                    )
                    age = max(0.0, (as_of - midday).total_seconds() / SECONDS_PER_DAY)
                    factor = decay[bucket] = math.pow(0.5, age / POPULAR_HALF_LIFE_DAYS)
                weight = POPULAR_WEIGHTS.of(kind) * int(times) * factor
                scores[item_id] = scores.get(item_id, 0.0) + weight
                count += int(times)
            ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        result = _Popular(now, generation, ranked, count)
        self.popular_cache.store(key, result)
        return result

    def popular(
        self,
        workspace: str,
        *,
        segment_id: str,
        k: int,
        item_filter: ItemFilter,
        window_days: int,
        reason: str = POPULAR,
        exclude: set[str] | None = None,
    ) -> Result:
        with self.db.read() as session:
            fell_back = False
            if segment_id:
                found = self._popular(session, workspace, segment_id, window_days)
                if found.interactions < MIN_SEGMENT_INTERACTIONS:
                    fell_back = True
                    found = self._popular(session, workspace, "", window_days)
            else:
                found = self._popular(session, workspace, "", window_days)
            items = pick(session, workspace, found.ranked, k, item_filter, exclude)
            if len(items) < k and segment_id and not fell_back:
                # The segment's list ran out: fill up with the global one.
                taken = {row.item_id for row, _ in items} | (exclude or set())
                overall = self._popular(session, workspace, "", window_days)
                items += pick(
                    session, workspace, overall.ranked, k - len(items), item_filter, taken
                )
        return Result(items, reason, fell_back_to_global=fell_back, interactions=found.interactions)

    # ---- personalized --------------------------------------------------------------------

    def recommend(
        self,
        workspace: str,
        profile_id: str,
        *,
        k: int,
        item_filter: ItemFilter,
        fallback_segment_id: str,
        consent: Callable[[], bool | None],
    ) -> Result:
        """Personalized when the profile is known, consents, a version serves and the profile
        has interactions the model can use; otherwise a popular fallback with the reason."""

        def fallback(reason: str) -> Result:
            result = self.popular(
                workspace,
                segment_id=fallback_segment_id,
                k=k,
                item_filter=item_filter,
                window_days=30,
                reason=reason,
            )
            result.profile_id = profile_id
            return result

        if not profile_id:
            return fallback(COLD_START)
        allowed = consent()
        if allowed is None:
            return fallback(CONSENT_UNAVAILABLE)
        if not allowed:
            return fallback(NO_CONSENT)
        with self.db.read() as session:
            version = serving_version(session, workspace)
            if not version:
                return fallback(NO_MODEL)
            model = self.models.get(session, workspace, version)
            history = session.execute(
                select(
                    rec_interactions.c.item_id,
                    rec_interactions.c.kind,
                    rec_interactions.c.occurred_at,
                ).where(
                    rec_interactions.c.workspace_id == workspace,
                    rec_interactions.c.profile_id == profile_id,
                )
            ).all()
            vector = self.user_vector(model, profile_id, history)
            if vector is None:
                return fallback(COLD_START)
            scores = model.item_factors @ vector
            exclude = {
                item
                for item, kind, _ in history
                if item_filter.exclude_seen
                or (item_filter.exclude_purchased and kind == "purchase")
            }
            items = pick(
                session, workspace, _ranked(scores, model.items.ids), k, item_filter, exclude
            )
        return Result(items, PERSONALIZED, model_version=version, profile_id=profile_id)

    @staticmethod
    def user_vector(
        model: LoadedModel, profile_id: str, history: Sequence[Any]
    ) -> np.ndarray | None:
        if model.spec.algorithm == "bpr":
            if model.users is None or model.user_factors is None or profile_id not in model.users:
                return None
            return np.asarray(model.user_factors[model.users.position(profile_id)])
        weights = model.spec.weights()
        half_life = model.spec.half_life()
        row: dict[int, float] = {}
        for item_id, kind, occurred_at in history:
            if item_id not in model.items:
                continue
            value = weights.of(kind)
            if half_life is not None:
                age = max(0.0, (model.as_of - _utc(occurred_at)).total_seconds() / SECONDS_PER_DAY)
                value *= math.pow(0.5, age / half_life)
            j = model.items.position(item_id)
            row[j] = row.get(j, 0.0) + value
        if not row:
            return None
        cols = np.fromiter(sorted(row), dtype=np.int32, count=len(row))
        data = np.array([row[int(j)] for j in cols], dtype=np.float32)
        matrix = sp.csr_matrix(
            (data, (np.zeros(len(cols), dtype=np.int32), cols)), shape=(1, len(model.items))
        )
        with model.lock:
            factors = model.als.recalculate_user(0, matrix)
        return np.asarray(factors, dtype=np.float32).reshape(-1)

    # ---- similar -------------------------------------------------------------------------

    def similar(
        self, workspace: str, item_id: str, *, k: int, item_filter: ItemFilter
    ) -> tuple[list[tuple[Any, float]], int]:
        with self.db.read() as session:
            version = serving_version(session, workspace)
            if version:
                model = self.models.get(session, workspace, version)
                if item_id in model.items:
                    normalized = model.normalized_items()
                    j = model.items.position(item_id)
                    scores = normalized @ normalized[j]
                    ranked = _ranked(scores, model.items.ids, skip=j)
                    return pick(session, workspace, ranked, k, item_filter, {item_id}), version
            ranked_list = self._cooccurrence(session, workspace, item_id)
            if ranked_list is None:
                raise NotFound(f"item {item_id} is not in the catalog")
            return pick(session, workspace, ranked_list, k, item_filter, {item_id}), 0

    def _cooccurrence(
        self, session: Session, workspace: str, item_id: str
    ) -> list[tuple[str, float]] | None:
        """Cosine of the items' sets of profiles (binary): co / sqrt(n_i * n_j)."""
        c = rec_interactions.c
        profiles = list(
            session.execute(
                select(c.profile_id)
                .where(c.workspace_id == workspace, c.item_id == item_id)
                .group_by(c.profile_id)
                .order_by(func.max(c.occurred_at).desc())
                .limit(MAX_COOCCURRENCE_PROFILES)
            ).scalars()
        )
        if not profiles:
            known = session.execute(
                select(rec_items.c.item_id).where(
                    rec_items.c.workspace_id == workspace, rec_items.c.item_id == item_id
                )
            ).scalar_one_or_none()
            return None if known is None else []
        co: dict[str, int] = {}
        for start in range(0, len(profiles), CHUNK):
            for other, n in session.execute(
                select(c.item_id, func.count(func.distinct(c.profile_id)))
                .where(
                    c.workspace_id == workspace,
                    c.profile_id.in_(profiles[start : start + CHUNK]),
                    c.item_id != item_id,
                )
                .group_by(c.item_id)
            ):
                co[other] = co.get(other, 0) + int(n)
        if not co:
            return []
        totals: dict[str, int] = {}
        others = sorted(co)
        for start in range(0, len(others), CHUNK):
            for other, n in session.execute(
                select(c.item_id, func.count(func.distinct(c.profile_id)))
                .where(c.workspace_id == workspace, c.item_id.in_(others[start : start + CHUNK]))
                .group_by(c.item_id)
            ):
                totals[other] = int(n)
        n_i = len(profiles)
        scored = [
            (other, count / math.sqrt(n_i * max(totals.get(other, count), 1)))
            for other, count in co.items()
        ]
        return sorted(scored, key=lambda kv: (-kv[1], kv[0]))
