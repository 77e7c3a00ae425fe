"""Recommendation (精准推荐) through the recommendation service: the product catalog, training
jobs and versioned models with their offline metrics (promote, roll back, compare), and serving:
a person's recommendations, items similar to an item, popular items globally or in a segment.

Every query parameter of these routes is a filter or a page position, so an unknown one is
refused (422 naming it) rather than ignored: a misspelt filter would otherwise widen the answer
without anyone noticing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query
from pydantic import Field

from precis.recommendation.v1 import recommendation_pb2 as pb
from precis_common.identifiers import MAX_IDENTIFIER_LENGTH
from precis_gateway.deps import (
    RecommendationStub,
    SettingsDep,
    WorkspaceDep,
    documented_query_only,
    requires,
)
from precis_gateway.errors import ApiError, ErrorDetail
from precis_gateway.models import (
    MAX_CATEGORY,
    MAX_ITEM_ID,
    MAX_SEGMENT_ID,
    AlgorithmName,
    CatalogItem,
    CatalogItemPage,
    Hyperparameters,
    InteractionWeights,
    JobStateName,
    MetricComparison,
    ModelComparison,
    ModelPromotion,
    ModelRollback,
    ModelStatusName,
    ModelVersion,
    ModelVersionPage,
    OfflineMetrics,
    PopularItems,
    RecommendationReasonName,
    Recommendations,
    ScoredItem,
    SimilarItems,
    TrainingBody,
    TrainingData,
    TrainingJob,
    UpsertItemsBody,
    UpsertItemsResult,
)
from precis_gateway.profile_views import identifier_from_path
from precis_gateway.routers import UPSTREAM_ERRORS, error_responses
from precis_gateway.scopes import Scope
from precis_gateway.upstream import call

SERVICE = "recommendation"
MAX_K = 100
MAX_FILTER_VALUES = 100

ALGORITHMS: dict[str, int] = {"als": pb.ALGORITHM_ALS, "bpr": pb.ALGORITHM_BPR}
ALGORITHM_NAMES: dict[int, AlgorithmName] = {
    pb.ALGORITHM_UNSPECIFIED: "als",  # the contract's default
    pb.ALGORITHM_ALS: "als",
    pb.ALGORITHM_BPR: "bpr",
}
JOB_STATE_NAMES: dict[int, JobStateName] = {
    pb.TRAINING_JOB_STATE_QUEUED: "queued",
    pb.TRAINING_JOB_STATE_RUNNING: "running",
    pb.TRAINING_JOB_STATE_SUCCEEDED: "succeeded",
    pb.TRAINING_JOB_STATE_FAILED: "failed",
}
STATUS_NAMES: dict[int, ModelStatusName] = {
    pb.MODEL_VERSION_STATUS_CANDIDATE: "candidate",
    pb.MODEL_VERSION_STATUS_SERVING: "serving",
    pb.MODEL_VERSION_STATUS_RETIRED: "retired",
}
REASON_NAMES: dict[int, RecommendationReasonName] = {
    pb.RECOMMENDATION_REASON_PERSONALIZED: "personalized",
    pb.RECOMMENDATION_REASON_FALLBACK_NO_CONSENT: "fallback_no_consent",
    pb.RECOMMENDATION_REASON_FALLBACK_COLD_START: "fallback_cold_start",
    pb.RECOMMENDATION_REASON_FALLBACK_NO_MODEL: "fallback_no_model",
    pb.RECOMMENDATION_REASON_POPULAR: "popular",
    pb.RECOMMENDATION_REASON_SIMILAR: "similar",
    pb.RECOMMENDATION_REASON_FALLBACK_CONSENT_UNAVAILABLE: "fallback_consent_unavailable",
}
# The service names filter fields inside `filter`; the REST query names them on their own.
FILTER_FIELDS = {
    "filter": "",
    "filter.categories": "category",
    "filter.exclude_item_ids": "exclude",
}
PAGE_FIELDS = {"page_token": "cursor"}

_responses = error_responses(401, 403, 422, *UPSTREAM_ERRORS)
# Unknown query parameters are refused on every route here (see the module docstring).
router = APIRouter(
    tags=["recommendations"], responses=_responses, dependencies=[Depends(documented_query_only)]
)
# A person's recommendations live under the person, next to the profile routes; included before
# the profiles router, whose GET /{identifier_type}/{value:path} would take the path.
profile_router = APIRouter(
    prefix="/v1/profiles",
    tags=["recommendations"],
    responses=_responses,
    dependencies=[Depends(documented_query_only)],
)


ItemIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ITEM_ID,
        description="The item's id.",
        examples=["sku-10442"],
    ),
]
Version = Annotated[int, Path(ge=1, description="The model version.", examples=[3])]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=1024, description="`next_cursor` of the previous page."),
]
K = Annotated[int, Query(ge=1, le=MAX_K, description="Items wanted (1..100).")]
Categories = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_CATEGORY)]] | None,
    Query(
        alias="category",
        max_length=MAX_FILTER_VALUES,
        description=(
            "Only items whose category starts with this path (`Baby > Feeding`); repeat it for "
            "several: an item in any of them qualifies."
        ),
        examples=[["Baby > Feeding"]],
    ),
]
AvailableOnly = Annotated[bool, Query(description="Only items that can be bought now.")]
MinPrice = Annotated[float | None, Query(ge=0, description="Only items priced at least this.")]
MaxPrice = Annotated[float | None, Query(gt=0, description="Only items priced at most this.")]
Excluded = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_ITEM_ID)]] | None,
    Query(
        alias="exclude",
        max_length=MAX_FILTER_VALUES,
        description="Leave out this item (for example one already on the page); repeatable.",
        examples=[["sku-10442"]],
    ),
]
SegmentQuery = Annotated[
    str | None, Query(min_length=1, max_length=MAX_SEGMENT_ID, description="A segment's id.")
]


# ---- views ---------------------------------------------------------------------------------


def _time(message: Any, name: str) -> datetime | None:
    return getattr(message, name).ToDatetime(tzinfo=UTC) if message.HasField(name) else None


def item_view(item: pb.Item) -> CatalogItem:
    attributes = orjson.loads(item.attributes_json) if item.attributes_json else {}
    return CatalogItem(
        item_id=item.item_id,
        title=item.title,
        category=item.category,
        price=item.price,
        currency=item.currency,
        available=item.available,
        attributes=attributes if isinstance(attributes, dict) else {},
        updated_at=_time(item, "updated_at"),
    )


def _scored(items: Any) -> list[ScoredItem]:
    return [ScoredItem(item=item_view(s.item), score=s.score) for s in items]


def job_view(job: pb.TrainingJob) -> TrainingJob:
    return TrainingJob(
        job_id=job.job_id,
        state=JOB_STATE_NAMES.get(job.state, "queued"),
        stage=job.stage,
        progress=job.progress,
        error=job.error or None,
        model_version=job.model_version or None,
        created_at=job.created_at.ToDatetime(tzinfo=UTC),
        started_at=_time(job, "started_at"),
        finished_at=_time(job, "finished_at"),
    )


def _weights(w: pb.InteractionWeights) -> InteractionWeights:
    return InteractionWeights(
        view=w.view, add_to_cart=w.add_to_cart, purchase=w.purchase, half_life_days=w.half_life_days
    )


def _metrics(message: Any, name: str) -> OfflineMetrics | None:
    if not message.HasField(name):
        return None
    m = getattr(message, name)
    return OfflineMetrics(
        k=m.k,
        precision_at_k=m.precision_at_k,
        recall_at_k=m.recall_at_k,
        ndcg_at_k=m.ndcg_at_k,
        map_at_k=m.map_at_k,
        coverage=m.coverage,
    )


def version_view(version: pb.ModelVersion) -> ModelVersion:
    h = version.hyperparameters
    data: TrainingData | None = None
    if version.HasField("training_data"):
        d = version.training_data
        data = TrainingData(
            history_start=_time(d, "history_start"),
            test_start=_time(d, "test_start"),
            history_end=_time(d, "history_end"),
            users=d.users,
            items=d.items,
            interactions=d.interactions,
            test_users=d.test_users,
            events_feed_seq=d.events_feed_seq,
            weights=_weights(d.weights),
        )
    return ModelVersion(
        version=version.version,
        status=STATUS_NAMES.get(version.status, "candidate"),
        algorithm=ALGORITHM_NAMES.get(version.algorithm, "als"),
        hyperparameters=Hyperparameters(
            factors=h.factors,
            regularization=h.regularization,
            iterations=h.iterations,
            alpha=h.alpha,
            learning_rate=h.learning_rate,
        ),
        seed=version.seed,
        training_data=data,
        metrics=_metrics(version, "metrics"),
        baseline_metrics=_metrics(version, "baseline_metrics"),
        job_id=version.job_id,
        note=version.note,
        created_at=version.created_at.ToDatetime(tzinfo=UTC),
        promoted_at=_time(version, "promoted_at"),
    )


def _reason(value: int) -> RecommendationReasonName:
    name = REASON_NAMES.get(value)
    if name is None:
        raise ApiError(502, "bad_gateway", "the recommendation service gave no reason")
    return name


def item_filter(
    categories: list[str] | None,
    available_only: bool,
    min_price: float | None,
    max_price: float | None,
    excluded: list[str] | None = None,
    *,
    exclude_purchased: bool = False,
    exclude_seen: bool = False,
) -> pb.ItemFilter:
    """The filter of a serving request; a price range that holds nothing is refused here."""
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ApiError.invalid(
            [ErrorDetail(field="max_price", reason="must not be below min_price")]
        )
    return pb.ItemFilter(
        exclude_purchased=exclude_purchased,
        exclude_seen=exclude_seen,
        categories=categories or [],
        available_only=available_only,
        min_price=min_price or 0.0,
        max_price=max_price or 0.0,
        exclude_item_ids=excluded or [],
    )


# ---- catalog -------------------------------------------------------------------------------


def _item_fields(error: ApiError) -> ApiError:
    """The service's `items[3].attributes_json` is the body's `items[3].attributes`."""
    if not any(d.field.endswith(".attributes_json") for d in error.details):
        return error
    return ApiError.invalid(
        [
            ErrorDetail(field=d.field.replace(".attributes_json", ".attributes"), reason=d.reason)
            for d in error.details
        ]
    )


@router.put(
    "/v1/catalog/items",
    summary="Create or replace catalog items",
    description=(
        "Creates or replaces up to 1000 items by `item_id` (a replaced item takes the values "
        "given, defaults for those left out). The request is taken whole or not at all: a "
        "refused item is a 422 whose details name it by position (`items[3].price`) and nothing "
        "is written."
    ),
    dependencies=[requires(Scope.RECOMMENDATIONS_WRITE)],
)
def upsert_items(
    body: UpsertItemsBody,
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
) -> UpsertItemsResult:
    request = pb.UpsertItemsRequest(
        items=[
            pb.Item(
                item_id=i.item_id,
                title=i.title,
                category=i.category,
                price=i.price,
                currency=i.currency,
                available=i.available,
                attributes_json=orjson.dumps(i.attributes),
            )
            for i in body.items
        ]
    )
    try:
        response = call(
            stub.UpsertItems,
            request,
            service=SERVICE,
            workspace=workspace,
            deadline=settings.gateway_deadline_seconds,
        )
    except ApiError as exc:
        raise _item_fields(exc) from None
    if response.violations:
        # The contract refuses a request with a bad item as a whole; violations reported beside
        # a success are still shown as a refusal rather than dropped.
        raise _item_fields(
            ApiError.invalid(
                [ErrorDetail(field=v.field, reason=v.description) for v in response.violations]
            )
        )
    return UpsertItemsResult(created=response.created, updated=response.updated)


@router.get(
    "/v1/catalog/items",
    summary="List catalog items",
    description="Catalog items by item_id, with cursor pagination.",
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def list_items(
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    category: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CATEGORY,
            description="Only items whose category starts with this path.",
            examples=["Baby > Feeding"],
        ),
    ] = None,
    available_only: AvailableOnly = False,
    page_size: Annotated[int, Query(ge=1, le=1000, description="Items per page.")] = 100,
    cursor: Cursor = None,
) -> CatalogItemPage:
    response = call(
        stub.ListItems,
        pb.ListItemsRequest(
            category=category or "",
            available_only=available_only,
            page_size=page_size,
            page_token=cursor or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=PAGE_FIELDS,
    )
    return CatalogItemPage(
        items=[item_view(i) for i in response.items],
        next_cursor=response.next_page_token or None,
    )


@router.get(
    "/v1/catalog/items/{item_id}",
    summary="Get a catalog item",
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def get_item(
    item_id: ItemIdPath,
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
) -> CatalogItem:
    response = call(
        stub.GetItems,
        pb.GetItemsRequest(item_ids=[item_id]),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"item_ids": "item_id", "item_ids[0]": "item_id"},
    )
    for item in response.items:
        if item.item_id == item_id:
            return item_view(item)
    raise ApiError(404, "not_found", f"no catalog item has the id {item_id!r}")


@router.get(
    "/v1/catalog/items/{item_id}/similar",
    summary="Items similar to an item",
    description=(
        "The items most similar to this one (never itself): by the serving model's item "
        "factors, or by co-occurrence in the same profiles' interactions while no model "
        "serves (`model_version` null). Shows no person's data."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def similar_items(
    item_id: ItemIdPath,
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    k: K = 10,
    categories: Categories = None,
    available_only: AvailableOnly = False,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    exclude: Excluded = None,
) -> SimilarItems:
    response = call(
        stub.SimilarItems,
        pb.SimilarItemsRequest(
            item_id=item_id,
            k=k,
            filter=item_filter(categories, available_only, min_price, max_price, exclude),
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=FILTER_FIELDS,
    )
    return SimilarItems(
        items=_scored(response.items),
        reason=_reason(response.reason or pb.RECOMMENDATION_REASON_SIMILAR),
        model_version=response.model_version or None,
    )


# ---- serving -------------------------------------------------------------------------------


@router.get(
    "/v1/recommendations/popular",
    summary="Popular items",
    description=(
        "The most popular items over the last `window_days` (interactions weighted and decayed "
        "as in training), among everyone or among a segment's members. A segment with too few "
        "interactions gets the global list (`fell_back_to_global`), so a small segment's "
        "purchases are never shown on their own."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def popular_items(
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    segment_id: SegmentQuery = None,
    k: K = 10,
    window_days: Annotated[
        int, Query(ge=1, le=365, description="Days of interactions counted (1..365).")
    ] = 30,
    categories: Categories = None,
    available_only: AvailableOnly = False,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    exclude: Excluded = None,
) -> PopularItems:
    response = call(
        stub.PopularItems,
        pb.PopularItemsRequest(
            segment_id=segment_id or "",
            k=k,
            window_days=window_days,
            filter=item_filter(categories, available_only, min_price, max_price, exclude),
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=FILTER_FIELDS,
    )
    return PopularItems(
        items=_scored(response.items),
        reason=_reason(response.reason or pb.RECOMMENDATION_REASON_POPULAR),
        fell_back_to_global=response.fell_back_to_global,
        interactions=response.interactions,
    )


@profile_router.get(
    "/{identifier_type}/{value}/recommendations",
    summary="Recommendations for a person",
    description=(
        "Up to `k` items for the profile an identifier belongs to (email and phone given in "
        "clear are hashed before lookup), best first, with the filters applied. Personalized by "
        "the serving model only when the person has granted personalization (asked of the "
        "consent service on every request); otherwise, and for unknown profiles, profiles the "
        "model has not seen, while no model serves or while consent cannot be checked, popular "
        "items (of `fallback_segment_id` when given), with `reason` saying which. It is about a "
        "person, so it is recorded in the audit log (default purpose `personalization`)."
    ),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def recommend(
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    identifier_type: Annotated[
        str,
        Path(
            description="user_id, anonymous_id, email, phone, device_id or external:<namespace>.",
            examples=["user_id"],
        ),
    ],
    value: Annotated[
        str,
        Path(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The identifier's value."),
    ],
    k: K = 10,
    exclude_purchased: Annotated[
        bool, Query(description="Leave out items the person has already purchased.")
    ] = False,
    exclude_seen: Annotated[
        bool,
        Query(
            description=(
                "Leave out every item the person has interacted with (viewed, carted or bought): "
                "for catalogs where once is enough, such as films or articles."
            )
        ),
    ] = False,
    categories: Categories = None,
    available_only: AvailableOnly = False,
    min_price: MinPrice = None,
    max_price: MaxPrice = None,
    exclude: Excluded = None,
    fallback_segment_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_SEGMENT_ID,
            description=(
                "Fall back on this segment's popular items rather than everyone's when the "
                "person is not personalized."
            ),
        ),
    ] = None,
) -> Recommendations:
    response = call(
        stub.Recommend,
        pb.RecommendRequest(
            identifier=identifier_from_path(identifier_type, value),
            k=k,
            filter=item_filter(
                categories,
                available_only,
                min_price,
                max_price,
                exclude,
                exclude_purchased=exclude_purchased,
                exclude_seen=exclude_seen,
            ),
            fallback_segment_id=fallback_segment_id or "",
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={**FILTER_FIELDS, "identifier": "value", "identifier.value": "value"},
    )
    return Recommendations(
        items=_scored(response.items),
        reason=_reason(response.reason),
        model_version=response.model_version or None,
        profile_id=response.profile_id or None,
    )


# ---- models --------------------------------------------------------------------------------


@router.post(
    "/v1/recommendation-models/training-jobs",
    status_code=202,
    summary="Train a recommendation model",
    description=(
        "Starts training a collaborative-filtering model (ALS or BPR) on the interactions of "
        "the last `history_days`, holding out the last `test_days` (or each profile's latest "
        "`test_fraction`) to evaluate it against a popularity baseline. Answers at once with "
        "the job, queued: poll `GET /v1/recommendation-models/training-jobs/{job_id}` until it "
        "has succeeded (`model_version` is the new version, a candidate: promote it to serve) "
        "or failed (`error` says why, for example too few interactions; the serving version "
        "stays). Refused parameters are a 422 naming the field."
    ),
    dependencies=[requires(Scope.RECOMMENDATIONS_WRITE)],
)
def start_training(
    body: TrainingBody,
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
) -> TrainingJob:
    h, w = body.hyperparameters, body.weights
    response = call(
        stub.TrainModel,
        pb.TrainModelRequest(
            algorithm=ALGORITHMS[body.algorithm],  # type: ignore[arg-type]
            hyperparameters=pb.Hyperparameters(
                factors=h.factors,
                regularization=h.regularization,
                iterations=h.iterations,
                alpha=h.alpha,
                learning_rate=h.learning_rate,
            ),
            weights=pb.InteractionWeights(
                view=w.view,
                add_to_cart=w.add_to_cart,
                purchase=w.purchase,
                half_life_days=w.half_life_days,
            ),
            history_days=body.history_days,
            test_days=body.test_days,
            test_fraction=body.test_fraction,
            k=body.k,
            seed=body.seed,
            note=body.note,
        ),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return job_view(response.job)


@router.get(
    "/v1/recommendation-models/training-jobs/{job_id}",
    summary="Get a training job",
    description="The job's state, stage and progress, its error, and the version it registered.",
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def get_training_job(
    job_id: Annotated[str, Path(min_length=1, max_length=128, description="The job's id.")],
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
) -> TrainingJob:
    response = call(
        stub.GetTrainingJob,
        pb.GetTrainingJobRequest(job_id=job_id),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return job_view(response.job)


@router.get(
    "/v1/recommendation-models",
    summary="List model versions",
    description=(
        "Registered model versions, newest first, with their parameters, training data and "
        "offline metrics beside the popularity baseline's, and which version serves."
    ),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def list_model_versions(
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    page_size: Annotated[int, Query(ge=1, le=100, description="Versions per page.")] = 20,
    cursor: Cursor = None,
) -> ModelVersionPage:
    response = call(
        stub.ListModelVersions,
        pb.ListModelVersionsRequest(page_size=page_size, page_token=cursor or ""),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields=PAGE_FIELDS,
    )
    return ModelVersionPage(
        versions=[version_view(v) for v in response.versions],
        serving_version=response.serving_version or None,
        next_cursor=response.next_page_token or None,
    )


# Before GET /v1/recommendation-models/{version}, which would take "compare" as a version.
@router.get(
    "/v1/recommendation-models/compare",
    summary="Compare two model versions",
    description=(
        "The offline metrics of two versions side by side with their differences; "
        "`same_split` says whether both were evaluated on the same test split (the differences "
        "are indicative only when not)."
    ),
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def compare_model_versions(
    workspace: WorkspaceDep,
    stub: RecommendationStub,
    settings: SettingsDep,
    base: Annotated[int, Query(ge=1, description="The reference version.")],
    candidate: Annotated[int, Query(ge=1, description="The version compared with it.")],
) -> ModelComparison:
    response = call(
        stub.CompareModelVersions,
        pb.CompareModelVersionsRequest(base_version=base, candidate_version=candidate),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
        fields={"base_version": "base", "candidate_version": "candidate"},
    )
    return ModelComparison(
        base=version_view(response.base),
        candidate=version_view(response.candidate),
        metrics=[
            MetricComparison(
                metric=m.metric,
                base=m.base,
                candidate=m.candidate,
                difference=m.difference,
                relative_difference=m.relative_difference,
            )
            for m in response.metrics
        ],
        same_split=response.same_split,
    )


@router.post(
    "/v1/recommendation-models/rollback",
    summary="Roll back to the previous model version",
    description=(
        "Serves the previously promoted version again. 412 when no version served before the "
        "current one."
    ),
    responses=error_responses(412),
    dependencies=[requires(Scope.RECOMMENDATIONS_WRITE)],
)
def rollback_model_version(
    workspace: WorkspaceDep, stub: RecommendationStub, settings: SettingsDep
) -> ModelRollback:
    response = call(
        stub.RollbackModelVersion,
        pb.RollbackModelVersionRequest(),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return ModelRollback(
        serving=version_view(response.serving),
        rolled_back_version=response.rolled_back_version,
    )


@router.get(
    "/v1/recommendation-models/{version}",
    summary="Get a model version",
    responses=error_responses(404),
    dependencies=[requires(Scope.RECOMMENDATIONS_READ)],
)
def get_model_version(
    version: Version, workspace: WorkspaceDep, stub: RecommendationStub, settings: SettingsDep
) -> ModelVersion:
    response = call(
        stub.GetModelVersion,
        pb.GetModelVersionRequest(version=version),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return version_view(response.version)


@router.post(
    "/v1/recommendation-models/{version}/promote",
    summary="Promote a model version",
    description=(
        "Makes the version the one that serves recommendations (promoting the serving version "
        "again changes nothing). `previous_version` is the one it replaced, which a rollback "
        "serves again."
    ),
    responses=error_responses(404, 412),
    dependencies=[requires(Scope.RECOMMENDATIONS_WRITE)],
)
def promote_model_version(
    version: Version, workspace: WorkspaceDep, stub: RecommendationStub, settings: SettingsDep
) -> ModelPromotion:
    response = call(
        stub.PromoteModelVersion,
        pb.PromoteModelVersionRequest(version=version),
        service=SERVICE,
        workspace=workspace,
        deadline=settings.gateway_deadline_seconds,
    )
    return ModelPromotion(
        serving=version_view(response.serving),
        previous_version=response.previous_version or None,
    )
