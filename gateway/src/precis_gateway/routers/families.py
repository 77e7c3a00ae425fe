"""Built-in audience families through the segmentation service: RFM cells, clustering jobs,
predictive models and the audiences made from them, lookalike audiences. Generated audiences are
ordinary segments (their rule a `score` condition), read and released through the segment
routes; what is here are the models and jobs that make them, and their evaluation.

Every count of profiles shown here (cell and cluster sizes, test-set deciles, holdout sizes)
goes through the small-cell rule like the segment sizes; ratios that would give a withheld
count away (a withheld cell's share, a withheld decile's rate and lift) are withheld with it."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Path, Query

from precis.segmentation.v1 import segmentation_pb2 as pb
from precis_gateway.deps import CallerDep, SegmentationStub, SettingsDep, WorkspaceDep, requires
from precis_gateway.disclosure import disclose
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.models import (
    MAX_SEGMENT_ID,
    Cluster,
    ClusterFeature,
    ClusteringBody,
    ClusteringJob,
    JobStateName,
    LiftDecile,
    LookalikeAudience,
    LookalikeBody,
    LookalikeQuality,
    PredictionKindName,
    PredictiveAudience,
    PredictiveAudienceBody,
    PredictiveModel,
    PredictiveModelBody,
    PredictiveModelPage,
    PredictiveModelParameters,
    RfmCell,
    RfmCells,
    RfmCellsBody,
    SilhouetteScore,
    UpliftModelAtFraction,
    UpliftModelDecile,
    UpliftModelEvaluation,
)
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.routers.segments import (
    MATERIALIZE_DEADLINE_SECONDS,
    SERVICE,
    Cursor,
    SegmentId,
    _time,
    segment_view,
)
from precis_gateway.scopes import Caller, Scope
from precis_gateway.upstream import call

KINDS: dict[str, int] = {
    "propensity": pb.PREDICTION_KIND_PROPENSITY,
    "churn": pb.PREDICTION_KIND_CHURN,
    "uplift": pb.PREDICTION_KIND_UPLIFT,
}
KIND_NAMES = {v: k for k, v in KINDS.items()}
UPLIFT_METHODS: dict[str, int] = {
    "two_model": pb.UPLIFT_METHOD_TWO_MODEL,
    "class_transformation": pb.UPLIFT_METHOD_CLASS_TRANSFORMATION,
}
UPLIFT_METHOD_NAMES = {v: k for k, v in UPLIFT_METHODS.items()}
STATE_NAMES: dict[int, JobStateName] = {
    pb.JOB_STATE_QUEUED: "queued",
    pb.JOB_STATE_RUNNING: "running",
    pb.JOB_STATE_SUCCEEDED: "succeeded",
    pb.JOB_STATE_FAILED: "failed",
}
# The service names job parameters inside `parameters`; the REST body is the parameters.
PARAMETER_FIELDS = {"parameters": ""}

router = APIRouter(
    tags=["audience families"],
    responses=error_responses(401, 403, 422, *UPSTREAM_ERRORS),
)

JobId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_SEGMENT_ID, description="The clustering job's id."),
]
ModelId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_SEGMENT_ID, description="The model version's id."),
]


# ---- RFM cells -------------------------------------------------------------------------------


def _rfm_cells(
    workspace: str, caller: Caller, stub: Any, deadline: float, create_segments: bool, k: int
) -> RfmCells:
    response = call(
        stub.GetRfmCells,
        pb.GetRfmCellsRequest(create_segments=create_segments),
        service=SERVICE,
        workspace=workspace,
        deadline=deadline,
    )
    cells = list(response.cells)
    # The cells partition the profiles with an order: complementary suppression, and a share
    # (count over that total) goes with its count, and all of them with the total.
    shown = disclose(
        {"profiles_with_orders": sum(c.profile_count for c in cells)}
        | {f"cells[{i}].profile_count": c.profile_count for i, c in enumerate(cells)},
        caller,
        k=k,
        total="profiles_with_orders",
    )
    total_shown = shown["profiles_with_orders"] is not None
    views = []
    for i, cell in enumerate(cells):
        count = shown[f"cells[{i}].profile_count"]
        views.append(
            RfmCell(
                name=cell.name,
                description=cell.description,
                recency_score_min=cell.recency_score_min,
                recency_score_max=cell.recency_score_max,
                frequency_monetary_score_min=cell.frequency_monetary_score_min,
                frequency_monetary_score_max=cell.frequency_monetary_score_max,
                profile_count=count,
                share=cell.share if count is not None and total_shown else None,
                average_monetary=cell.average_monetary if count is not None else None,
                rule=orjson.loads(cell.rule_json) if cell.rule_json else {},
                segment_id=cell.segment_id or None,
            )
        )
    return RfmCells(
        cells=views,
        profiles_with_orders=shown["profiles_with_orders"],
        computed_at=_time(response, "computed_at"),
        suppressed_counts=shown.suppressed,
    )


@router.get(
    "/v1/segments/rfm-cells",
    summary="RFM cells",
    description=(
        "The RFM cells (champions, loyal, at risk, hibernating, ...) with their score ranges, "
        "current sizes and a rule selecting each, ready to save as a segment. For keys without "
        "privacy:admin the sizes follow the small-cell rule as parts of the profiles with an "
        "order; a withheld cell's share and average revenue are withheld with it."
    ),
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def get_rfm_cells(
    workspace: WorkspaceDep, caller: CallerDep, stub: SegmentationStub, settings: SettingsDep
) -> RfmCells:
    return _rfm_cells(
        workspace,
        caller,
        stub,
        settings.gateway_deadline_seconds,
        False,
        settings.gateway_small_cell_k,
    )


@router.post(
    "/v1/segments/rfm-cells",
    summary="RFM cells, optionally saved as segments",
    description=(
        "As `GET /v1/segments/rfm-cells`; with `create_segments` also creates (or refreshes) one "
        'materialized segment per cell, named "RFM: <cell>", whose id is in the cell\'s '
        "`segment_id`. Asking again reuses the same segments."
    ),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def create_rfm_segments(
    body: RfmCellsBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> RfmCells:
    return _rfm_cells(
        workspace,
        caller,
        stub,
        max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
        body.create_segments,
        settings.gateway_small_cell_k,
    )


# ---- clustering ------------------------------------------------------------------------------


def clustering_view(job: pb.ClusteringJob, caller: Caller, k: int) -> ClusteringJob:
    done = job.state == pb.JOB_STATE_SUCCEEDED
    clusters = list(job.clusters)
    shown = disclose(
        {"profile_count": job.profile_count}
        | {f"clusters[{c.index}].size": c.size for c in clusters},
        caller,
        k=k,
        total="profile_count",
    )
    total_shown = shown["profile_count"] is not None
    views = []
    for c in clusters:
        size = shown[f"clusters[{c.index}].size"]
        views.append(
            Cluster(
                index=c.index,
                size=size,
                share=c.share if size is not None and total_shown else None,
                features=[
                    ClusterFeature(feature=f.feature, mean=f.mean, z_score=f.z_score)
                    for f in c.features
                ]
                if size is not None
                else [],
                description=c.description,
                segment_id=c.segment_id or None,
            )
        )
    p = job.parameters
    return ClusteringJob(
        job_id=job.job_id,
        state=STATE_NAMES.get(job.state, "queued"),
        progress=job.progress,
        error=job.error or None,
        parameters=ClusteringBody(
            k_min=p.k_min,
            k_max=p.k_max,
            features=list(p.features),
            segment_id=p.segment_id or None,
            seed=p.seed,
            max_profiles=p.max_profiles,
            create_segments=p.create_segments,
        ),
        silhouettes=[SilhouetteScore(k=s.k, silhouette=s.silhouette) for s in job.silhouettes],
        chosen_k=job.chosen_k if done and job.chosen_k else None,
        clusters=views,
        profile_count=shown["profile_count"] if done else None,
        created_at=job.created_at.ToDatetime(tzinfo=UTC),
        finished_at=_time(job, "finished_at"),
        suppressed_counts=shown.suppressed if done else [],
    )


@router.post(
    "/v1/clustering-jobs",
    status_code=202,
    summary="Start a clustering job",
    description=(
        "Starts k-means on standardized behaviour features, trying k from `k_min` to `k_max` "
        "and keeping the one with the highest silhouette. Answers at once with the job, "
        "queued: poll `GET /v1/clustering-jobs/{job_id}` until it has succeeded or failed. "
        "With `create_segments` each cluster becomes a segment (family cluster) on success. "
        "Refused parameters are a 422 naming the field (`k_max` below `k_min`)."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def start_clustering_job(
    body: ClusteringBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> ClusteringJob:
    response = call(
        stub.StartClusteringJob,
        pb.StartClusteringJobRequest(
            parameters=pb.ClusteringParameters(
                k_min=body.k_min,
                k_max=body.k_max,
                features=body.features,
                segment_id=body.segment_id or "",
                seed=body.seed,
                max_profiles=body.max_profiles,
                create_segments=body.create_segments,
            )
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=PARAMETER_FIELDS,
    )
    return clustering_view(response.job, caller, settings.gateway_small_cell_k)


@router.get(
    "/v1/clustering-jobs/{job_id}",
    summary="Get a clustering job",
    description=(
        "The job's state and progress and, once it has succeeded, the silhouette of each k "
        "tried and the clusters of the chosen k, each described by its most distinctive "
        "features. Cluster sizes follow the small-cell rule as parts of the clustered profiles."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def get_clustering_job(
    job_id: JobId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> ClusteringJob:
    response = call(
        stub.GetClusteringJob,
        pb.GetClusteringJobRequest(job_id=job_id),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return clustering_view(response.job, caller, settings.gateway_small_cell_k)


# ---- predictive models -----------------------------------------------------------------------


def _deciles(
    model: pb.PredictiveModel, caller: Caller, k: int
) -> tuple[list[LiftDecile], int | None, list[str]]:
    """The lift table as `caller` may see it, the test rows, and the paths withheld. Decile sizes
    partition the test set, decile positives all the positives; the lift of any decile gives
    the overall rate and so the positives' total, which is why that total takes part in
    complementary suppression (though it is not a field). A rate goes with its counts; the
    cumulative columns from the first withheld decile on, as differences between them would
    give it away."""
    deciles = list(model.deciles)
    sizes = disclose(
        {"test_rows": model.test_rows}
        | {f"deciles[{i}].profile_count": d.profile_count for i, d in enumerate(deciles)},
        caller,
        k=k,
        total="test_rows",
    )
    positives = disclose(
        {"positives": sum(d.positives for d in deciles)}
        | {f"deciles[{i}].positives": d.positives for i, d in enumerate(deciles)},
        caller,
        k=k,
        total="positives",
    )
    overall_shown = positives["positives"] is not None and sizes["test_rows"] is not None
    views = []
    cumulative_shown = overall_shown
    for i, d in enumerate(deciles):
        count = sizes[f"deciles[{i}].profile_count"]
        hits = positives[f"deciles[{i}].positives"]
        rate_shown = count is not None and hits is not None
        cumulative_shown = cumulative_shown and rate_shown
        views.append(
            LiftDecile(
                decile=d.decile,
                profile_count=count,
                positives=hits,
                min_score=d.min_score,
                rate=d.rate if rate_shown else None,
                lift=d.lift if rate_shown and overall_shown else None,
                cumulative_lift=d.cumulative_lift if cumulative_shown else None,
                cumulative_capture=d.cumulative_capture if cumulative_shown else None,
            )
        )
    withheld = [p for p in sizes.suppressed + positives.suppressed if p != "positives"]
    return views, sizes["test_rows"], withheld


def _uplift_view(
    evaluation: pb.UpliftModelEvaluation, caller: Caller, k: int
) -> tuple[UpliftModelEvaluation, int | None, list[str]]:
    """An uplift model's held-out evaluation as `caller` may see it, the test rows, and the
    paths withheld. Treated and holdout counts per decile partition their totals, and so do the
    converters of each group (a rate times its count), so each of the four goes through the
    small-cell rule with complementary suppression; a rate is shown only with its counts, an
    uplift only with both rates, and the cumulative gain only up to the first withheld uplift.
    The top-k fractions cover whole deciles (1, 2, 3 and 5 of them), so their counts and
    uplifts are shown only when every decile they cover is. The Qini coefficient and AUUC are
    areas over the whole held-out set and are always shown."""
    deciles = list(evaluation.deciles)

    def parts(group: str, values: list[int], total: int) -> Any:
        return disclose(
            {f"uplift.{group}": total}
            | {f"uplift.deciles[{i}].{group}": v for i, v in enumerate(values)},
            caller,
            k=k,
            total=f"uplift.{group}",
        )

    treated = parts("treated", [d.treated for d in deciles], evaluation.treated)
    control = parts("control", [d.control for d in deciles], evaluation.control)
    t_hits = [round(d.treated_rate * d.treated) for d in deciles]
    c_hits = [round(d.control_rate * d.control) for d in deciles]
    t_conv = parts("treated_converters", t_hits, sum(t_hits))
    c_conv = parts("control_converters", c_hits, sum(c_hits))
    views: list[UpliftModelDecile] = []
    gain_shown = True
    for i, d in enumerate(deciles):
        n_t, n_c = treated[f"uplift.deciles[{i}].treated"], control[f"uplift.deciles[{i}].control"]
        t_ok = n_t is not None and t_conv[f"uplift.deciles[{i}].treated_converters"] is not None
        c_ok = n_c is not None and c_conv[f"uplift.deciles[{i}].control_converters"] is not None
        gain_shown = gain_shown and t_ok and c_ok
        views.append(
            UpliftModelDecile(
                decile=d.decile,
                treated=n_t,
                control=n_c,
                treated_rate=d.treated_rate if t_ok else None,
                control_rate=d.control_rate if c_ok else None,
                uplift=d.uplift if t_ok and c_ok else None,
                cumulative_gain=d.cumulative_gain if gain_shown else None,
                min_score=d.min_score,
            )
        )
    at_k: list[UpliftModelAtFraction] = []
    for a in evaluation.uplift_at_k:
        covered = views[: max(1, min(len(views), round(a.fraction * len(views))))]
        counts_ok = all(v.treated is not None and v.control is not None for v in covered)
        rates_ok = all(v.uplift is not None for v in covered)
        at_k.append(
            UpliftModelAtFraction(
                fraction=a.fraction,
                uplift=a.uplift if rates_ok else None,
                treated=a.treated if counts_ok else None,
                control=a.control if counts_ok else None,
            )
        )
    totals_ok = all(
        shown[name] is not None
        for shown, name in (
            (treated, "uplift.treated"),
            (control, "uplift.control"),
            (t_conv, "uplift.treated_converters"),
            (c_conv, "uplift.control_converters"),
        )
    )
    view = UpliftModelEvaluation(
        qini_coefficient=evaluation.qini_coefficient,
        auuc=evaluation.auuc,
        random_auuc=evaluation.random_auuc,
        treated=treated["uplift.treated"],
        control=control["uplift.control"],
        average_uplift=evaluation.average_uplift if totals_ok else None,
        uplift_at_k=at_k,
        deciles=views,
    )
    test_rows = (
        evaluation.treated + evaluation.control
        if view.treated is not None and view.control is not None
        else None
    )
    withheld = [
        name
        for shown in (treated, control, t_conv, c_conv)
        for name in shown.suppressed
        if "converters" not in name
    ]
    return view, test_rows, withheld


def model_view(model: pb.PredictiveModel, caller: Caller, k: int) -> PredictiveModel:
    p = model.parameters
    uplift_model = model.kind == pb.PREDICTION_KIND_UPLIFT
    parameters = PredictiveModelParameters(
        kind=KIND_NAMES.get(p.kind, "propensity"),  # type: ignore[arg-type]
        horizon_days=p.horizon_days,
        target_event=p.target_event,
        cutoff=_time(p, "cutoff"),
        features=list(p.features),
        seed=p.seed,
        test_fraction=p.test_fraction,
        name=p.name,
        campaign_id=p.campaign_id,
        uplift_method=UPLIFT_METHOD_NAMES.get(p.uplift_method) if uplift_model else None,  # type: ignore[arg-type]
        arm_id=p.arm_id,
    )
    trained = model.state == pb.JOB_STATE_SUCCEEDED
    training_rows = test_rows = positive_rate = auc = None
    deciles: list[LiftDecile] = []
    suppressed: list[str] = []
    uplift = None
    if trained and uplift_model:
        uplift, test_rows, suppressed = _uplift_view(model.uplift, caller, k)
    elif trained:
        deciles, test_rows, suppressed = _deciles(model, caller, k)
    if trained:
        training_positives = round(model.positive_rate * model.training_rows)
        training = disclose(
            {"training_rows": model.training_rows, "training_positives": training_positives},
            caller,
            k=k,
        )
        training_rows = training["training_rows"]
        # The rate times the rows is the training positives: withheld with them.
        if training["training_positives"] is not None and training_rows is not None:
            positive_rate = model.positive_rate
        suppressed = [*(s for s in training.suppressed if s == "training_rows"), *suppressed]
        auc = None if uplift_model else model.auc
    return PredictiveModel(
        model_id=model.model_id,
        version=model.version,
        name=model.name,
        kind=cast(PredictionKindName, KIND_NAMES.get(model.kind, "propensity")),
        state=STATE_NAMES.get(model.state, "queued"),
        progress=model.progress,
        error=model.error or None,
        parameters=parameters,
        training_rows=training_rows,
        test_rows=test_rows,
        positive_rate=positive_rate,
        auc=auc,
        deciles=deciles,
        uplift=uplift,
        feature_importances=dict(model.feature_importances),
        created_at=model.created_at.ToDatetime(tzinfo=UTC),
        finished_at=_time(model, "finished_at"),
        suppressed_counts=suppressed,
    )


@router.post(
    "/v1/predictive-models",
    status_code=202,
    summary="Train a predictive model",
    description=(
        "Starts training a new version of a propensity (converts within the horizon), churn "
        "(no activity within the horizon) or uplift model. Propensity and churn: features from "
        "events before `cutoff`, labels from the `horizon_days` after it. Uplift: trained on "
        "the treated and holdout subjects of the measurement campaign `campaign_id` and whether "
        "each converted (as its report counts), with features as of the campaign's start; its "
        "score is the difference the campaign makes to a profile's conversion, so an audience "
        "made from it (`POST .../audiences`) is the persuadable. Answers at once with the "
        "version, queued: poll `GET /v1/predictive-models/{model_id}` until it has succeeded "
        "(with its AUC and lift table, or for uplift its held-out Qini, AUUC and uplift by "
        "decile; and feature importances) or failed (with the reason). Refused parameters are "
        "a 422 naming the field; an unknown campaign or arm too."
    ),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def train_predictive_model(
    body: PredictiveModelBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> PredictiveModel:
    parameters = pb.PredictiveModelParameters(
        kind=KINDS[body.kind],  # type: ignore[arg-type]
        horizon_days=body.horizon_days,
        target_event=body.target_event,
        features=body.features,
        seed=body.seed,
        test_fraction=body.test_fraction,
        name=body.name,
        campaign_id=body.campaign_id,
        arm_id=body.arm_id,
    )
    if body.uplift_method is not None:
        parameters.uplift_method = UPLIFT_METHODS[body.uplift_method]  # type: ignore[assignment]
    if body.cutoff is not None:
        parameters.cutoff.FromDatetime(body.cutoff.astimezone(UTC))
    response = call(
        stub.TrainPredictiveModel,
        pb.TrainPredictiveModelRequest(parameters=parameters),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=PARAMETER_FIELDS,
    )
    return model_view(response.model, caller, settings.gateway_small_cell_k)


@router.get(
    "/v1/predictive-models",
    summary="List predictive models",
    description="Model versions, newest first, with cursor pagination.",
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def list_predictive_models(
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
    kind: Annotated[
        PredictionKindName | None, Query(description="Only models of this kind.")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=500, description="Models per page.")] = 50,
    cursor: Cursor = None,
) -> PredictiveModelPage:
    response = call(
        stub.ListPredictiveModels,
        pb.ListPredictiveModelsRequest(
            kind=KINDS[kind] if kind else 0,  # type: ignore[arg-type]
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"page_token": "cursor"},
    )
    k = settings.gateway_small_cell_k
    return PredictiveModelPage(
        models=[model_view(m, caller, k) for m in response.models],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/v1/predictive-models/{model_id}",
    summary="Get a predictive model",
    description=(
        "One model version: its state and progress, why it failed, and once trained its AUC, "
        "lift table by decile and feature importances, all on the held-out test set. The "
        "decile counts follow the small-cell rule; a rate or lift that would give a withheld "
        "count away is withheld with it."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.SEGMENTS_READ)],
)
def get_predictive_model(
    model_id: ModelId,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> PredictiveModel:
    response = call(
        stub.GetPredictiveModel,
        pb.GetPredictiveModelRequest(model_id=model_id),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return model_view(response.model, caller, settings.gateway_small_cell_k)


@router.post(
    "/v1/predictive-models/{model_id}/audiences",
    status_code=201,
    summary="Create an audience from a predictive model",
    description=(
        "Creates and materializes a segment (family predictive) of the profiles the model "
        "scores highest: the top `top_fraction` of scored profiles, or every profile scoring at "
        'least `min_score` (give exactly one). Its rule is `{"score": {"model": "<model_id>", '
        '"op": ">=", "value": <threshold>}}`. The expected outcome rate and lift come from the '
        "test set. For an uplift model the audience is the profiles the campaign moves most, "
        "its `expected_uplift` the held-out uplift of the deciles it covers, and `min_score` "
        "may be negative. Send a campaign to it with `targeting_model_id` set to the model, and "
        "the campaign's uplift evaluation reads the model's scores itself. The model must have "
        "succeeded (412 otherwise); a taken name is a 409."
    ),
    responses=error_responses(404, 409, 412),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def create_predictive_audience(
    model_id: ModelId,
    body: PredictiveAudienceBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> PredictiveAudience:
    if (body.top_fraction is None) == (body.min_score is None):
        raise ApiError.invalid(
            [
                ErrorDetail(
                    field="top_fraction", reason="give exactly one of top_fraction and min_score"
                )
            ]
        )
    cut = (
        {"top_fraction": body.top_fraction}
        if body.top_fraction is not None
        else {"min_score": body.min_score}
    )
    response = call(
        stub.CreatePredictiveAudience,
        pb.CreatePredictiveAudienceRequest(model_id=model_id, name=body.name, **cut),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
    )
    return PredictiveAudience(
        segment=segment_view(response.segment, caller, settings.gateway_small_cell_k),
        expected_rate=response.expected_rate,
        expected_lift=response.expected_lift,
        expected_uplift=response.expected_uplift,
    )


# ---- lookalikes ------------------------------------------------------------------------------


@router.post(
    "/v1/segments/{segment_id}/lookalikes",
    status_code=201,
    summary="Create a lookalike audience",
    description=(
        "Creates and materializes a segment (family lookalike) of the `size` profiles most "
        "similar to the seed segment's members, the seed excluded (the seed needs at least 100 "
        "members). Part of the seed is held out before fitting: the quality says how many of "
        "those the expansion would have found, and its lift over a random audience."
    ),
    responses=error_responses(404, 409, 412),
    dependencies=[requires(Scope.SEGMENTS_WRITE)],
)
def create_lookalike_audience(
    segment_id: SegmentId,
    body: LookalikeBody,
    workspace: WorkspaceDep,
    caller: CallerDep,
    stub: SegmentationStub,
    settings: SettingsDep,
) -> LookalikeAudience:
    response = call(
        stub.CreateLookalikeAudience,
        pb.CreateLookalikeAudienceRequest(
            seed_segment_id=segment_id,
            name=body.name,
            size=body.size,
            features=body.features,
            seed=body.seed,
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=max(settings.gateway_deadline_seconds, MATERIALIZE_DEADLINE_SECONDS),
        fields={"seed_segment_id": "segment_id"},
    )
    k = settings.gateway_small_cell_k
    q = response.quality
    shown = disclose({"quality.holdout_size": q.holdout_size}, caller, k=k)
    return LookalikeAudience(
        segment=segment_view(response.segment, caller, k),
        quality=LookalikeQuality(
            holdout_size=shown["quality.holdout_size"],
            holdout_recall=q.holdout_recall,
            lift_over_random=q.lift_over_random,
            similarity_cutoff=q.similarity_cutoff,
        ),
        suppressed_counts=shown.suppressed,
    )
