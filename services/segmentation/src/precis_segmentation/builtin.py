"""The built-in families as service operations: RFM cells, clustering jobs, predictive models
and audiences, lookalike audiences (the statistics live in precis_segmentation.families).

Generated audiences are ordinary segments. A model's output per profile (cluster index,
propensity, similarity) is written to seg_scores under the model's id, and the segment's rule is
a `score` condition on it ({"score": {"model": "pm_...", "op": ">=", "value": 0.31}}), so a
generated audience is sized, materialized, released on consent and combined with other
conditions like any rule. A predictive audience is rescored with its model before each refresh
(daily by default); clusters and lookalike expansions keep the scores of their fit.

Uplift models (kind "uplift", :mod:`.families.uplift`) are predictive models trained on a
measurement campaign's subjects and outcomes, read from the measurement service when training
is requested (the campaign is checked then) and when it runs; their audiences are the profiles
with the highest predicted uplift, rescored like any predictive audience.

Clustering and training run as jobs on one background thread (scikit-learn keeps a core busy;
the service's other work keeps the other). A job's state and progress are in seg_models; a job
that was queued or running when the service stopped is marked failed at start, with the reason.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from precis_common.db import Database
from precis_common.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from precis_segmentation.campaigns import MeasurementCampaigns
from precis_segmentation.families import clustering, lookalike, predictive, rfm, uplift
from precis_segmentation.segments import NewSegment, SegmentStore
from precis_segmentation.store import (
    seg_memberships,
    seg_models,
    seg_scores,
    seg_segments,
    utc,
)

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
CLUSTERING, LOOKALIKE = "clustering", "lookalike"
UPLIFT = "uplift"
PREDICTIVE_KINDS = ("propensity", "churn", UPLIFT)
PREDICTIVE_REFRESH_SECONDS = 86_400
MAX_NAME = 200


@dataclass(frozen=True)
class ClusteringParameters:
    k_min: int
    k_max: int
    features: tuple[str, ...]
    segment_id: str
    seed: int
    max_profiles: int
    create_segments: bool


@dataclass(frozen=True)
class PredictiveParameters:
    kind: str
    horizon_days: int
    target_event: str
    cutoff: datetime | None
    features: tuple[str, ...]
    seed: int
    test_fraction: float
    name: str
    campaign_id: str = ""
    uplift_method: str = uplift.UpliftMethod.TWO_MODEL.value
    arm_id: str = ""


class JobRunner:
    """Runs jobs one at a time on a background thread, in the order they were started."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, job: Callable[[], None]) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(job)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="segment-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a job records its own failure; this only keeps the thread alive
                log.exception("segment job failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def drain(self, timeout: float = 300.0) -> bool:
        """Wait until every submitted job has run; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)


class Families:
    def __init__(
        self,
        database: Database,
        segments: SegmentStore,
        jobs: JobRunner,
        campaigns: MeasurementCampaigns | None = None,
    ) -> None:
        self.db = database
        self.segments = segments
        self.jobs = jobs
        self.campaigns = campaigns
        segments.before_refresh = self.rescore

    def rescore(self, workspace_id: str, segment: Any, now: datetime) -> None:
        """Before a predictive audience is refreshed, its model scores the profiles as of now
        (new profiles included; the audience's threshold stays what it was made with). Other
        families keep their scores: a cluster or a lookalike expansion is a fit of its own."""
        if segment.family != "predictive" or not segment.origin.startswith("predictive:"):
            return
        model_id = segment.origin.split(":", 1)[1]
        with self.db.read() as session:
            row = session.execute(
                select(seg_models.c.model, seg_models.c.state).where(
                    seg_models.c.workspace_id == workspace_id, seg_models.c.model_id == model_id
                )
            ).one_or_none()
        if row is None or row.state != SUCCEEDED or row.model is None:
            return
        model = predictive.PredictiveModel.from_bytes(row.model)
        with self.db.read() as session:
            scores = predictive.score(session, workspace_id, model, as_of=now)
        self._write_scores(workspace_id, model_id, scores.profile_ids, scores.scores.tolist())

    # ---- bookkeeping ------------------------------------------------------------------------

    def fail_interrupted(self) -> int:
        """Jobs left queued or running by a previous process: failed, with the reason."""
        with self.db.write() as session:
            result = session.execute(
                update(seg_models)
                .where(seg_models.c.state.in_((QUEUED, RUNNING)))
                .values(
                    state=FAILED,
                    error="interrupted: the service stopped before the job finished; start it "
                    "again",
                    finished_at=datetime.now(UTC),
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    def get(self, workspace_id: str, model_id: str, kinds: Sequence[str]) -> Any:
        with self.db.read() as session:
            row = session.execute(
                select(seg_models).where(
                    seg_models.c.workspace_id == workspace_id,
                    seg_models.c.model_id == model_id,
                    seg_models.c.kind.in_(kinds),
                )
            ).one_or_none()
        if row is None:
            raise NotFound(f"no {' or '.join(kinds)} job or model {model_id!r} in this workspace")
        return row

    def list_models(
        self, workspace_id: str, kind: str | None, page_size: int, token: str
    ) -> tuple[list[Any], str]:
        m = seg_models.c
        query = select(seg_models).where(
            m.workspace_id == workspace_id, m.kind.in_([kind] if kind else PREDICTIVE_KINDS)
        )
        if token:
            at_text, _, model_id = token.partition("|")
            try:
                at = datetime.fromisoformat(at_text)
            except ValueError:
                raise InvalidArgument.field("page_token", "not a token of this listing") from None
            query = query.where(
                (m.created_at < at) | ((m.created_at == at) & (m.model_id < model_id))
            )
        with self.db.read() as session:
            rows = session.execute(
                query.order_by(m.created_at.desc(), m.model_id.desc()).limit(page_size + 1)
            ).all()
        more = len(rows) > page_size
        rows = rows[:page_size]
        token = ""
        if more and rows:
            last = rows[-1]
            created = (
                last.created_at if last.created_at.tzinfo else last.created_at.replace(tzinfo=UTC)
            )
            token = f"{created.isoformat()}|{last.model_id}"
        return list(rows), token

    def _insert(
        self,
        session: Session,
        workspace_id: str,
        prefix: str,
        kind: str,
        name: str,
        parameters: dict[str, Any],
        state: str = QUEUED,
    ) -> str:
        model_id = f"{prefix}_{uuid.uuid4().hex[:20]}"
        version = 1
        if kind in PREDICTIVE_KINDS:
            version = 1 + int(
                session.execute(
                    select(func.count())
                    .select_from(seg_models)
                    .where(
                        seg_models.c.workspace_id == workspace_id,
                        seg_models.c.kind == kind,
                        seg_models.c.name == name,
                    )
                ).scalar_one()
            )
        session.execute(
            seg_models.insert().values(
                workspace_id=workspace_id,
                model_id=model_id,
                kind=kind,
                name=name,
                version=version,
                state=state,
                progress=0.0,
                error="",
                parameters=parameters,
                result=None,
                model=None,
                created_at=datetime.now(UTC),
                finished_at=None,
            )
        )
        return model_id

    def _set(self, workspace_id: str, model_id: str, **values: Any) -> None:
        with self.db.write() as session:
            session.execute(
                update(seg_models)
                .where(seg_models.c.workspace_id == workspace_id, seg_models.c.model_id == model_id)
                .values(**values)
            )

    def _progress(self, workspace_id: str, model_id: str) -> Callable[[float], None]:
        last = [0.0]

        def report(value: float) -> None:
            now = time.monotonic()
            if value < 1.0 and now - last[0] < 0.5:
                return
            last[0] = now
            self._set(workspace_id, model_id, progress=float(min(max(value, 0.0), 1.0)))

        return report

    def _write_scores(
        self, workspace_id: str, model_id: str, profile_ids: Sequence[str], scores: Sequence[float]
    ) -> None:
        with self.db.write() as session:
            session.execute(
                delete(seg_scores).where(
                    seg_scores.c.workspace_id == workspace_id, seg_scores.c.model_id == model_id
                )
            )
            rows = [
                {
                    "workspace_id": workspace_id,
                    "model_id": model_id,
                    "profile_id": pid,
                    "score": float(value),
                }
                for pid, value in zip(profile_ids, scores, strict=True)
            ]
            for start in range(0, len(rows), 5000):
                session.execute(seg_scores.insert(), rows[start : start + 5000])

    def _segment(
        self,
        workspace_id: str,
        name: str,
        rule: dict[str, Any],
        family: str,
        origin: str,
        refresh_interval_seconds: int = 0,
    ) -> Any:
        row, _ = self.segments.create(
            workspace_id,
            NewSegment(
                name=name[:MAX_NAME],
                description=f"Generated ({origin})",
                rule_doc=rule,
                refresh_interval_seconds=refresh_interval_seconds,
                materialize=True,
                family=family,
                origin=origin,
            ),
        )
        return row

    # ---- RFM ----------------------------------------------------------------------------------

    def rfm_cells(
        self, workspace_id: str, create_segments: bool
    ) -> list[tuple[rfm.RfmCellSize, str]]:
        with self.db.read() as session:
            sizes = rfm.cells(session, workspace_id)
            existing = {
                r.origin: r.segment_id
                for r in session.execute(
                    select(seg_segments.c.origin, seg_segments.c.segment_id).where(
                        seg_segments.c.workspace_id == workspace_id,
                        seg_segments.c.family == "rfm",
                    )
                )
            }
        out = []
        for cell in sizes:
            origin = f"rfm:{cell.name}"
            segment_id = existing.get(origin, "")
            if create_segments:
                if segment_id:
                    self.segments.refresh(workspace_id, segment_id, full=True)
                else:
                    segment_id = self._segment(
                        workspace_id, f"RFM: {cell.name}", cell.rule, "rfm", origin
                    ).segment_id
            out.append((cell, segment_id))
        return out

    # ---- clustering ---------------------------------------------------------------------------

    def start_clustering(self, workspace_id: str, params: ClusteringParameters) -> Any:
        if params.segment_id:
            self.segments.get(workspace_id, params.segment_id)
        with self.db.write() as session:
            model_id = self._insert(
                session, workspace_id, "cl", CLUSTERING, "clustering", _clustering_doc(params)
            )
        queued = self.get(workspace_id, model_id, (CLUSTERING,))  # as queued, before it runs
        self.jobs.submit(lambda: self._run_clustering(workspace_id, model_id, params))
        return queued

    def _run_clustering(
        self, workspace_id: str, model_id: str, params: ClusteringParameters
    ) -> None:
        self._set(workspace_id, model_id, state=RUNNING)
        try:
            with self.db.read() as session:
                result = clustering.cluster_profiles(
                    session,
                    workspace_id,
                    as_of=datetime.now(UTC),
                    features=params.features or None,
                    k_min=params.k_min,
                    k_max=params.k_max,
                    seed=params.seed,
                    max_profiles=params.max_profiles,
                    segment_id=params.segment_id or None,
                    progress=self._progress(workspace_id, model_id),
                )
            ids = [pid for c in result.clusters for pid in c.profile_ids]
            values = [float(c.index) for c in result.clusters for _ in c.profile_ids]
            self._write_scores(workspace_id, model_id, ids, values)
            doc = _clustering_result(result)
            if params.create_segments:
                for cluster, shown in zip(result.clusters, doc["clusters"], strict=True):
                    rule = {"score": {"model": model_id, "op": "=", "value": cluster.index}}
                    segment = self._segment(
                        workspace_id,
                        f"Cluster {model_id[-6:]}.{cluster.index}: {cluster.description}",
                        rule,
                        "cluster",
                        f"clustering:{model_id}:{cluster.index}",
                    )
                    shown["segment_id"] = segment.segment_id
            # Succeeded once everything it promised exists (segments included).
            self._set(
                workspace_id,
                model_id,
                state=SUCCEEDED,
                progress=1.0,
                result=doc,
                finished_at=datetime.now(UTC),
            )
        except Exception as exc:  # noqa: BLE001 - the job's failure is its result
            self._fail(workspace_id, model_id, exc)

    def _fail(self, workspace_id: str, model_id: str, exc: Exception) -> None:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if not isinstance(exc, InvalidArgument | FailedPrecondition | NotFound | Unavailable):
            log.exception("job %s failed", model_id)
            message = f"internal error ({type(exc).__name__})"
        self._set(
            workspace_id,
            model_id,
            state=FAILED,
            error=message[:2000],
            finished_at=datetime.now(UTC),
        )

    # ---- predictive ---------------------------------------------------------------------------

    def train(self, workspace_id: str, params: PredictiveParameters) -> Any:
        if params.kind == UPLIFT:
            return self._train_uplift(workspace_id, params)
        now = datetime.now(UTC)
        horizon = timedelta(days=params.horizon_days)
        cutoff = params.cutoff or now - horizon
        if cutoff + horizon > now + timedelta(minutes=1):
            raise InvalidArgument.field(
                "parameters.cutoff",
                "the outcome window (cutoff + horizon) must have ended: the evaluation needs "
                "observed outcomes",
            )
        doc = _predictive_doc(params, cutoff)
        with self.db.write() as session:
            model_id = self._insert(session, workspace_id, "pm", params.kind, params.name, doc)
        queued = self.get(workspace_id, model_id, PREDICTIVE_KINDS)  # as queued, before it runs
        self.jobs.submit(lambda: self._run_training(workspace_id, model_id, params, cutoff))
        return queued

    def _measurement(self) -> MeasurementCampaigns:
        if self.campaigns is None:
            raise FailedPrecondition(
                "uplift models need the measurement service, and this service has none "
                "configured (PRECIS_SEGMENTATION_MEASUREMENT_TARGET)"
            )
        return self.campaigns

    def _train_uplift(self, workspace_id: str, params: PredictiveParameters) -> Any:
        """Checks the campaign now (so a wrong id or arm is a clear error of the request, not a
        failed job), then queues the training."""
        facts = self._measurement().campaign(
            workspace_id, params.campaign_id, field="parameters.campaign_id"
        )
        if params.arm_id and params.arm_id not in facts.arm_ids:
            raise InvalidArgument.field(
                "parameters.arm_id",
                f"campaign {params.campaign_id} has no arm {params.arm_id!r} "
                f"(its arms: {', '.join(facts.arm_ids)})",
            )
        if facts.start_time > datetime.now(UTC):
            raise InvalidArgument.field(
                "parameters.campaign_id",
                f"campaign {params.campaign_id} has not started: it has no outcomes to learn from",
            )
        cutoff = utc(facts.start_time)
        doc = _predictive_doc(params, cutoff)
        with self.db.write() as session:
            model_id = self._insert(session, workspace_id, "pm", UPLIFT, params.name, doc)
        queued = self.get(workspace_id, model_id, PREDICTIVE_KINDS)
        self.jobs.submit(lambda: self._run_uplift(workspace_id, model_id, params, cutoff))
        return queued

    def _run_uplift(
        self, workspace_id: str, model_id: str, params: PredictiveParameters, cutoff: datetime
    ) -> None:
        self._set(workspace_id, model_id, state=RUNNING)
        try:
            subjects = self._measurement().subjects(workspace_id, params.campaign_id, params.arm_id)
            with self.db.read() as session:
                trained = uplift.train_uplift(
                    session,
                    workspace_id,
                    subjects,
                    campaign_start=cutoff,
                    features=params.features or None,
                    method=uplift.UpliftMethod(params.uplift_method),
                    seed=params.seed,
                    test_fraction=params.test_fraction,
                    progress=self._progress(workspace_id, model_id),
                )
            self._set(
                workspace_id,
                model_id,
                state=SUCCEEDED,
                progress=1.0,
                result=trained.evaluation.as_document(),
                model=trained.model.to_bytes(),
                finished_at=datetime.now(UTC),
            )
        except Exception as exc:  # noqa: BLE001 - the job's failure is its result
            self._fail(workspace_id, model_id, exc)

    def _run_training(
        self, workspace_id: str, model_id: str, params: PredictiveParameters, cutoff: datetime
    ) -> None:
        self._set(workspace_id, model_id, state=RUNNING)
        try:
            with self.db.read() as session:
                trained = predictive.train_predictive(
                    session,
                    workspace_id,
                    kind=predictive.PredictionKind(params.kind),
                    cutoff=cutoff,
                    horizon=timedelta(days=params.horizon_days),
                    target_event=params.target_event,
                    features=params.features or None,
                    seed=params.seed,
                    test_fraction=params.test_fraction,
                    progress=self._progress(workspace_id, model_id),
                )
            e = trained.evaluation
            result = {
                "auc": e.auc,
                "positive_rate": e.positive_rate,
                "training_rows": e.training_rows,
                "test_rows": e.test_rows,
                "feature_importances": dict(e.feature_importances),
                "deciles": [
                    {
                        "decile": d.decile,
                        "profile_count": d.profile_count,
                        "positives": d.positives,
                        "min_score": d.min_score,
                        "rate": d.rate,
                        "lift": d.lift,
                        "cumulative_lift": d.cumulative_lift,
                        "cumulative_capture": d.cumulative_capture,
                    }
                    for d in e.deciles
                ],
            }
            self._set(
                workspace_id,
                model_id,
                state=SUCCEEDED,
                progress=1.0,
                result=result,
                model=trained.model.to_bytes(),
                finished_at=datetime.now(UTC),
            )
        except Exception as exc:  # noqa: BLE001 - the job's failure is its result
            self._fail(workspace_id, model_id, exc)

    def predictive_audience(
        self,
        workspace_id: str,
        model_id: str,
        name: str,
        top_fraction: float | None,
        min_score: float | None,
    ) -> tuple[Any, float, float, float]:
        """The audience segment and what the test set expects of it: outcome rate and lift
        (propensity, churn) or uplift (uplift models; rate and lift are then 0)."""
        row = self.get(workspace_id, model_id, PREDICTIVE_KINDS)
        if row.state != SUCCEEDED or row.model is None:
            raise FailedPrecondition(f"model {model_id} is {row.state}, not succeeded")
        if min_score is not None and row.kind != UPLIFT and not 0 <= min_score <= 1:
            raise InvalidArgument.field(
                "min_score", f"must be in [0, 1] for a {row.kind} model (a probability)"
            )
        model = predictive.PredictiveModel.from_bytes(row.model)
        now = datetime.now(UTC)
        with self.db.read() as session:
            scores = predictive.score(session, workspace_id, model, as_of=now)
        if not scores.profile_ids:
            raise FailedPrecondition("the model applies to no profile now (nobody to score)")
        self._write_scores(workspace_id, model_id, scores.profile_ids, scores.scores.tolist())
        ordered = np.sort(scores.scores)[::-1]
        if top_fraction is not None:
            count = max(1, math.ceil(top_fraction * len(ordered)))
            threshold = float(ordered[count - 1])
            share = count / len(ordered)
        else:
            assert min_score is not None
            threshold = min_score
            share = float(np.mean(scores.scores >= threshold))
        rate = lift = expected_uplift = 0.0
        if row.kind == UPLIFT:
            expected_uplift = _expected_uplift(row.result or {}, share)
        else:
            rate, lift = _expected(row.result or {}, share)
        rule = {"score": {"model": model_id, "op": ">=", "value": threshold}}
        # Rescored and refreshed daily (see rescore): profiles that appear later get a score.
        segment = self._segment(
            workspace_id,
            name,
            rule,
            "predictive",
            f"predictive:{model_id}",
            refresh_interval_seconds=PREDICTIVE_REFRESH_SECONDS,
        )
        return segment, rate, lift, expected_uplift

    def model_scores(
        self, workspace_id: str, model_id: str, page_size: int, token: str
    ) -> tuple[list[tuple[str, float]], str]:
        """A model's current scores, paged by profile id (``token`` is the last id served)."""
        row = self.get(workspace_id, model_id, (*PREDICTIVE_KINDS, CLUSTERING, LOOKALIKE))
        sc = seg_scores.c
        query = select(sc.profile_id, sc.score).where(
            sc.workspace_id == workspace_id, sc.model_id == model_id
        )
        if token:
            query = query.where(sc.profile_id > token)
        with self.db.read() as session:
            rows = session.execute(query.order_by(sc.profile_id).limit(page_size + 1)).all()
        if not rows and not token:
            raise FailedPrecondition(
                f"model {model_id} ({row.kind}, {row.state}) has no scores yet: they are written "
                "when an audience is created from it"
            )
        more = len(rows) > page_size
        rows = rows[:page_size]
        return [(str(r.profile_id), float(r.score)) for r in rows], (
            str(rows[-1].profile_id) if more and rows else ""
        )

    # ---- lookalike ----------------------------------------------------------------------------

    def lookalike(
        self,
        workspace_id: str,
        seed_segment_id: str,
        name: str,
        size: int,
        features: Sequence[str],
        seed: int,
    ) -> tuple[Any, lookalike.LookalikeQuality]:
        source = self.segments.get(workspace_id, seed_segment_id)
        if not source.materialized:
            raise FailedPrecondition(
                f"seed segment {seed_segment_id} is not materialized; refresh it first"
            )
        with self.db.read() as session:
            members = (
                session.execute(
                    select(seg_memberships.c.profile_id).where(
                        seg_memberships.c.workspace_id == workspace_id,
                        seg_memberships.c.segment_id == seed_segment_id,
                    )
                )
                .scalars()
                .all()
            )
            expansion = lookalike.expand_lookalike(
                session,
                workspace_id,
                members,
                size=size,
                as_of=datetime.now(UTC),
                features=list(features) or None,
                seed=seed,
            )
        q = expansion.quality
        with self.db.write() as session:
            model_id = self._insert(
                session,
                workspace_id,
                "lal",
                LOOKALIKE,
                name[:MAX_NAME],
                {
                    "seed_segment_id": seed_segment_id,
                    "size": size,
                    "features": list(features),
                    "seed": seed,
                },
                state=SUCCEEDED,
            )
            session.execute(
                update(seg_models)
                .where(seg_models.c.workspace_id == workspace_id, seg_models.c.model_id == model_id)
                .values(
                    progress=1.0,
                    finished_at=datetime.now(UTC),
                    result={
                        "holdout_size": q.holdout_size,
                        "holdout_recall": q.holdout_recall,
                        "lift_over_random": q.lift_over_random,
                        "similarity_cutoff": q.similarity_cutoff,
                        "candidates": expansion.candidates,
                    },
                )
            )
        self._write_scores(workspace_id, model_id, expansion.profile_ids, expansion.scores.tolist())
        # Only the expansion is scored, so "scored at all" is the audience (seed excluded).
        rule = {"score": {"model": model_id, "op": ">=", "value": 0}}
        segment = self._segment(
            workspace_id, name, rule, "lookalike", f"lookalike:{seed_segment_id}"
        )
        return segment, q


def _covering(deciles: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """The deciles covering the top ``share`` of scores (at least one; all for share >= 1)."""
    return deciles[: max(1, min(len(deciles), math.ceil(share * len(deciles) - 1e-9)))]


def _expected(result: dict[str, Any], share: float) -> tuple[float, float]:
    """Outcome rate and lift expected in the top `share` of scores, read off the test set's
    lift table (the deciles covering the share; the whole table for share >= 1)."""
    deciles = result.get("deciles") or []
    if not deciles:
        return 0.0, 0.0
    top = _covering(deciles, share)
    count = sum(d["profile_count"] for d in top)
    positives = sum(d["positives"] for d in top)
    return (positives / count if count else 0.0), float(top[-1]["cumulative_lift"])


def _expected_uplift(result: dict[str, Any], share: float) -> float:
    """Uplift (treated minus control rate) expected in the top ``share`` of scores: the
    held-out deciles covering the share, each weighted by its subjects."""
    deciles = (result.get("uplift") or {}).get("deciles") or []
    if not deciles:
        return 0.0
    top = _covering(deciles, share)
    sizes = [d["treated"] + d["control"] for d in top]
    total = sum(sizes)
    return sum(d["uplift"] * n for d, n in zip(top, sizes, strict=True)) / total if total else 0.0


def _clustering_doc(p: ClusteringParameters) -> dict[str, Any]:
    return {
        "k_min": p.k_min,
        "k_max": p.k_max,
        "features": list(p.features),
        "segment_id": p.segment_id,
        "seed": p.seed,
        "max_profiles": p.max_profiles,
        "create_segments": p.create_segments,
    }


def _clustering_result(result: clustering.ClusteringResult) -> dict[str, Any]:
    return {
        "silhouettes": [{"k": k, "silhouette": s} for k, s in result.silhouettes],
        "chosen_k": result.chosen_k,
        "profile_count": result.profile_count,
        "feature_names": list(result.feature_names),
        "clusters": [
            {
                "index": c.index,
                "size": c.size,
                "share": c.share,
                "description": c.description,
                "features": [
                    {"feature": f.feature, "mean": f.mean, "z_score": f.z_score} for f in c.features
                ],
                "segment_id": "",
            }
            for c in result.clusters
        ],
    }


def _predictive_doc(p: PredictiveParameters, cutoff: datetime) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "horizon_days": p.horizon_days,
        "target_event": p.target_event,
        "cutoff": cutoff.isoformat(),
        "features": list(p.features),
        "seed": p.seed,
        "test_fraction": p.test_fraction,
        "name": p.name,
        "campaign_id": p.campaign_id,
        "uplift_method": p.uplift_method,
        "arm_id": p.arm_id,
    }
