"""What the recommendation service holds about a person, for data-subject requests and retention.

A subject is found by its identifiers (rec_identities) and by the profile id the consent service
passes on. Its interactions, identifiers and segment memberships are exported and erased; so are
its factors in BPR model versions (the artifacts are rewritten without its row). ALS versions hold
no user factors (serving recomputes them), and item factors are aggregates over everyone: they
are renewed by the next training, which no longer sees the erased interactions.

Retention: `raw_events` expires interactions by event time; `training_data` expires model versions
registered before the cutoff, except the one serving (its promotion history goes with them, so a
rollback never returns to an expired version).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from precis_common.db import Database
from precis_common.retention import RetentionScope
from precis_common.subject_identities import profiles_of
from precis_recommendation.readmodel import CHUNK, remove_profiles
from precis_recommendation.registry import serving_version
from precis_recommendation.store import (
    rec_identities,
    rec_interactions,
    rec_models,
    rec_promotions,
    rec_segment_members,
)


def _iso(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        if getattr(value, "tzinfo", None) is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value


def without_users(artifact: bytes, profile_ids: set[str]) -> tuple[bytes, int]:
    """The artifact without the rows of these profiles' user factors; (artifact, rows removed)."""
    with np.load(io.BytesIO(artifact), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    if "user_ids" not in arrays:
        return artifact, 0
    keep = np.array([str(u) not in profile_ids for u in arrays["user_ids"]], dtype=bool)
    removed = int((~keep).sum())
    if not removed:
        return artifact, 0
    arrays["user_ids"] = arrays["user_ids"][keep]
    arrays["user_factors"] = arrays["user_factors"][keep]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue(), removed


class RecommendationPrivacy:
    def __init__(
        self, database: Database, on_models_changed: Callable[[str], None] | None = None
    ) -> None:
        self.db = database
        self.on_models_changed = on_models_changed

    def profiles_of(
        self, session: Session, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> list[str]:
        return profiles_of(session, rec_identities, workspace_id, keys, profile_id)

    def export(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, Any]:
        with self.db.read() as session:
            ids = self.profiles_of(session, workspace_id, keys, profile_id)
            profiles = []
            for pid in ids:
                i = rec_interactions.c
                interactions = [
                    {
                        "item_id": r.item_id,
                        "kind": r.kind,
                        "occurred_at": _iso(r.occurred_at),
                        "message_id": r.message_id,
                    }
                    for r in session.execute(
                        select(i.item_id, i.kind, i.occurred_at, i.message_id)
                        .where(i.workspace_id == workspace_id, i.profile_id == pid)
                        .order_by(i.occurred_at, i.interaction_id)
                    )
                ]
                segments = sorted(
                    session.execute(
                        select(rec_segment_members.c.segment_id).where(
                            rec_segment_members.c.workspace_id == workspace_id,
                            rec_segment_members.c.profile_id == pid,
                        )
                    ).scalars()
                )
                versions = [
                    int(v)
                    for v, artifact in session.execute(
                        select(rec_models.c.version, rec_models.c.artifact).where(
                            rec_models.c.workspace_id == workspace_id,
                            rec_models.c.algorithm == "bpr",
                        )
                    )
                    if without_users(artifact, {pid})[1]
                ]
                if interactions or segments or versions:
                    profiles.append(
                        {
                            "profile_id": pid,
                            "interactions": interactions,
                            "segments": segments,
                            "model_versions_with_user_factors": versions,
                        }
                    )
        return {"profiles": profiles}

    def erase(
        self, workspace_id: str, keys: Sequence[tuple[str, str]], profile_id: str
    ) -> dict[str, int]:
        with self.db.write() as session:
            ids = self.profiles_of(session, workspace_id, keys, profile_id)
            if not ids:
                return {}
            counts = remove_profiles(session, workspace_id, ids)
            factors = 0
            for version, artifact in session.execute(
                select(rec_models.c.version, rec_models.c.artifact).where(
                    rec_models.c.workspace_id == workspace_id, rec_models.c.algorithm == "bpr"
                )
            ).all():
                rewritten, removed = without_users(artifact, set(ids))
                if removed:
                    factors += removed
                    session.execute(
                        update(rec_models)
                        .where(
                            rec_models.c.workspace_id == workspace_id,
                            rec_models.c.version == version,
                        )
                        .values(artifact=rewritten, revision=rec_models.c.revision + 1)
                    )
            counts["rec_models.user_factors"] = factors
        if factors and self.on_models_changed is not None:
            self.on_models_changed(workspace_id)
        return {k: v for k, v in counts.items() if v}

    def expire(self, scope: RetentionScope) -> tuple[dict[str, int], bool] | None:
        if scope.data_kind == "raw_events":
            condition = scope.expired(
                rec_interactions.c.workspace_id, rec_interactions.c.occurred_at
            )
            if condition is None:
                return {}, False
            with self.db.write() as session:
                ids = list(
                    session.execute(
                        select(rec_interactions.c.interaction_id)
                        .where(condition)
                        .limit(scope.max_rows + 1)
                    ).scalars()
                )
                more = len(ids) > scope.max_rows
                ids = ids[: scope.max_rows]
                for start in range(0, len(ids), CHUNK):
                    session.execute(
                        delete(rec_interactions).where(
                            rec_interactions.c.interaction_id.in_(ids[start : start + CHUNK])
                        )
                    )
            return ({rec_interactions.name: len(ids)} if ids else {}), more
        if scope.data_kind == "training_data":
            condition = scope.expired(rec_models.c.workspace_id, rec_models.c.created_at)
            if condition is None:
                return {}, False
            removed: dict[str, int] = {}
            with self.db.write() as session:
                # Versions are few (one per training): read them all, leave out the serving ones.
                rows = session.execute(
                    select(rec_models.c.workspace_id, rec_models.c.version)
                    .where(condition)
                    .order_by(rec_models.c.workspace_id, rec_models.c.version)
                ).all()
                serving: dict[str, int] = {}
                for workspace, _ in rows:
                    if workspace not in serving:
                        serving[workspace] = serving_version(session, workspace)
                expired = [(w, v) for w, v in rows if v != serving[w]]
                more = len(expired) > scope.max_rows
                for workspace, version in expired[: scope.max_rows]:
                    session.execute(
                        delete(rec_models).where(
                            rec_models.c.workspace_id == workspace, rec_models.c.version == version
                        )
                    )
                    session.execute(
                        delete(rec_promotions).where(
                            rec_promotions.c.workspace_id == workspace,
                            rec_promotions.c.version == version,
                        )
                    )
                    removed[rec_models.name] = removed.get(rec_models.name, 0) + 1
            return removed, more
        return None
