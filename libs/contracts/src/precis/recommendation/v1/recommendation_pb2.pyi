import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from precis.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Algorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALGORITHM_UNSPECIFIED: _ClassVar[Algorithm]
    ALGORITHM_ALS: _ClassVar[Algorithm]
    ALGORITHM_BPR: _ClassVar[Algorithm]

class TrainingJobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_JOB_STATE_UNSPECIFIED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_QUEUED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_RUNNING: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_SUCCEEDED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_FAILED: _ClassVar[TrainingJobState]

class ModelVersionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_VERSION_STATUS_UNSPECIFIED: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_CANDIDATE: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_SERVING: _ClassVar[ModelVersionStatus]
    MODEL_VERSION_STATUS_RETIRED: _ClassVar[ModelVersionStatus]

class RecommendationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECOMMENDATION_REASON_UNSPECIFIED: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_PERSONALIZED: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_FALLBACK_NO_CONSENT: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_FALLBACK_COLD_START: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_FALLBACK_NO_MODEL: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_POPULAR: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_SIMILAR: _ClassVar[RecommendationReason]
    RECOMMENDATION_REASON_FALLBACK_CONSENT_UNAVAILABLE: _ClassVar[RecommendationReason]
ALGORITHM_UNSPECIFIED: Algorithm
ALGORITHM_ALS: Algorithm
ALGORITHM_BPR: Algorithm
TRAINING_JOB_STATE_UNSPECIFIED: TrainingJobState
TRAINING_JOB_STATE_QUEUED: TrainingJobState
TRAINING_JOB_STATE_RUNNING: TrainingJobState
TRAINING_JOB_STATE_SUCCEEDED: TrainingJobState
TRAINING_JOB_STATE_FAILED: TrainingJobState
MODEL_VERSION_STATUS_UNSPECIFIED: ModelVersionStatus
MODEL_VERSION_STATUS_CANDIDATE: ModelVersionStatus
MODEL_VERSION_STATUS_SERVING: ModelVersionStatus
MODEL_VERSION_STATUS_RETIRED: ModelVersionStatus
RECOMMENDATION_REASON_UNSPECIFIED: RecommendationReason
RECOMMENDATION_REASON_PERSONALIZED: RecommendationReason
RECOMMENDATION_REASON_FALLBACK_NO_CONSENT: RecommendationReason
RECOMMENDATION_REASON_FALLBACK_COLD_START: RecommendationReason
RECOMMENDATION_REASON_FALLBACK_NO_MODEL: RecommendationReason
RECOMMENDATION_REASON_POPULAR: RecommendationReason
RECOMMENDATION_REASON_SIMILAR: RecommendationReason
RECOMMENDATION_REASON_FALLBACK_CONSENT_UNAVAILABLE: RecommendationReason

class Item(_message.Message):
    __slots__ = ("item_id", "title", "category", "price", "currency", "available", "attributes_json", "updated_at")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_JSON_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    title: str
    category: str
    price: float
    currency: str
    available: bool
    attributes_json: bytes
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, item_id: _Optional[str] = ..., title: _Optional[str] = ..., category: _Optional[str] = ..., price: _Optional[float] = ..., currency: _Optional[str] = ..., available: _Optional[bool] = ..., attributes_json: _Optional[bytes] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UpsertItemsRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class UpsertItemsResponse(_message.Message):
    __slots__ = ("created", "updated", "violations")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    created: int
    updated: int
    violations: _containers.RepeatedCompositeFieldContainer[_types_pb2.FieldViolation]
    def __init__(self, created: _Optional[int] = ..., updated: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[_types_pb2.FieldViolation, _Mapping]]] = ...) -> None: ...

class GetItemsRequest(_message.Message):
    __slots__ = ("item_ids",)
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetItemsResponse(_message.Message):
    __slots__ = ("items", "missing_item_ids")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MISSING_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    missing_item_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., missing_item_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListItemsRequest(_message.Message):
    __slots__ = ("category", "available_only", "page_size", "page_token")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    category: str
    available_only: bool
    page_size: int
    page_token: str
    def __init__(self, category: _Optional[str] = ..., available_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Item]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Hyperparameters(_message.Message):
    __slots__ = ("factors", "regularization", "iterations", "alpha", "learning_rate")
    FACTORS_FIELD_NUMBER: _ClassVar[int]
    REGULARIZATION_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    factors: int
    regularization: float
    iterations: int
    alpha: float
    learning_rate: float
    def __init__(self, factors: _Optional[int] = ..., regularization: _Optional[float] = ..., iterations: _Optional[int] = ..., alpha: _Optional[float] = ..., learning_rate: _Optional[float] = ...) -> None: ...

class InteractionWeights(_message.Message):
    __slots__ = ("view", "add_to_cart", "purchase", "half_life_days")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    ADD_TO_CART_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_DAYS_FIELD_NUMBER: _ClassVar[int]
    view: float
    add_to_cart: float
    purchase: float
    half_life_days: float
    def __init__(self, view: _Optional[float] = ..., add_to_cart: _Optional[float] = ..., purchase: _Optional[float] = ..., half_life_days: _Optional[float] = ...) -> None: ...

class TrainModelRequest(_message.Message):
    __slots__ = ("algorithm", "hyperparameters", "weights", "history_days", "test_days", "k", "seed", "note", "test_fraction")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_DAYS_FIELD_NUMBER: _ClassVar[int]
    TEST_DAYS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    TEST_FRACTION_FIELD_NUMBER: _ClassVar[int]
    algorithm: Algorithm
    hyperparameters: Hyperparameters
    weights: InteractionWeights
    history_days: int
    test_days: int
    k: int
    seed: int
    note: str
    test_fraction: float
    def __init__(self, algorithm: _Optional[_Union[Algorithm, str]] = ..., hyperparameters: _Optional[_Union[Hyperparameters, _Mapping]] = ..., weights: _Optional[_Union[InteractionWeights, _Mapping]] = ..., history_days: _Optional[int] = ..., test_days: _Optional[int] = ..., k: _Optional[int] = ..., seed: _Optional[int] = ..., note: _Optional[str] = ..., test_fraction: _Optional[float] = ...) -> None: ...

class TrainModelResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: TrainingJob
    def __init__(self, job: _Optional[_Union[TrainingJob, _Mapping]] = ...) -> None: ...

class TrainingJob(_message.Message):
    __slots__ = ("job_id", "state", "stage", "progress", "error", "model_version", "created_at", "started_at", "finished_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: TrainingJobState
    stage: str
    progress: float
    error: str
    model_version: int
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[TrainingJobState, str]] = ..., stage: _Optional[str] = ..., progress: _Optional[float] = ..., error: _Optional[str] = ..., model_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetTrainingJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetTrainingJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: TrainingJob
    def __init__(self, job: _Optional[_Union[TrainingJob, _Mapping]] = ...) -> None: ...

class TrainingData(_message.Message):
    __slots__ = ("history_start", "test_start", "history_end", "users", "items", "interactions", "test_users", "events_feed_seq", "weights")
    HISTORY_START_FIELD_NUMBER: _ClassVar[int]
    TEST_START_FIELD_NUMBER: _ClassVar[int]
    HISTORY_END_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    TEST_USERS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FEED_SEQ_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    history_start: _timestamp_pb2.Timestamp
    test_start: _timestamp_pb2.Timestamp
    history_end: _timestamp_pb2.Timestamp
    users: int
    items: int
    interactions: int
    test_users: int
    events_feed_seq: int
    weights: InteractionWeights
    def __init__(self, history_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., test_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., users: _Optional[int] = ..., items: _Optional[int] = ..., interactions: _Optional[int] = ..., test_users: _Optional[int] = ..., events_feed_seq: _Optional[int] = ..., weights: _Optional[_Union[InteractionWeights, _Mapping]] = ...) -> None: ...

class OfflineMetrics(_message.Message):
    __slots__ = ("k", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "coverage")
    K_FIELD_NUMBER: _ClassVar[int]
    PRECISION_AT_K_FIELD_NUMBER: _ClassVar[int]
    RECALL_AT_K_FIELD_NUMBER: _ClassVar[int]
    NDCG_AT_K_FIELD_NUMBER: _ClassVar[int]
    MAP_AT_K_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    k: int
    precision_at_k: float
    recall_at_k: float
    ndcg_at_k: float
    map_at_k: float
    coverage: float
    def __init__(self, k: _Optional[int] = ..., precision_at_k: _Optional[float] = ..., recall_at_k: _Optional[float] = ..., ndcg_at_k: _Optional[float] = ..., map_at_k: _Optional[float] = ..., coverage: _Optional[float] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("version", "status", "algorithm", "hyperparameters", "seed", "training_data", "metrics", "baseline_metrics", "job_id", "note", "created_at", "promoted_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TRAINING_DATA_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_METRICS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_AT_FIELD_NUMBER: _ClassVar[int]
    version: int
    status: ModelVersionStatus
    algorithm: Algorithm
    hyperparameters: Hyperparameters
    seed: int
    training_data: TrainingData
    metrics: OfflineMetrics
    baseline_metrics: OfflineMetrics
    job_id: str
    note: str
    created_at: _timestamp_pb2.Timestamp
    promoted_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., status: _Optional[_Union[ModelVersionStatus, str]] = ..., algorithm: _Optional[_Union[Algorithm, str]] = ..., hyperparameters: _Optional[_Union[Hyperparameters, _Mapping]] = ..., seed: _Optional[int] = ..., training_data: _Optional[_Union[TrainingData, _Mapping]] = ..., metrics: _Optional[_Union[OfflineMetrics, _Mapping]] = ..., baseline_metrics: _Optional[_Union[OfflineMetrics, _Mapping]] = ..., job_id: _Optional[str] = ..., note: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., promoted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token", "serving_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SERVING_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    next_page_token: str
    serving_version: int
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., serving_version: _Optional[int] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: ModelVersion
    def __init__(self, version: _Optional[_Union[ModelVersion, _Mapping]] = ...) -> None: ...

class PromoteModelVersionRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class PromoteModelVersionResponse(_message.Message):
    __slots__ = ("serving", "previous_version")
    SERVING_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_VERSION_FIELD_NUMBER: _ClassVar[int]
    serving: ModelVersion
    previous_version: int
    def __init__(self, serving: _Optional[_Union[ModelVersion, _Mapping]] = ..., previous_version: _Optional[int] = ...) -> None: ...

class RollbackModelVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RollbackModelVersionResponse(_message.Message):
    __slots__ = ("serving", "rolled_back_version")
    SERVING_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_VERSION_FIELD_NUMBER: _ClassVar[int]
    serving: ModelVersion
    rolled_back_version: int
    def __init__(self, serving: _Optional[_Union[ModelVersion, _Mapping]] = ..., rolled_back_version: _Optional[int] = ...) -> None: ...

class CompareModelVersionsRequest(_message.Message):
    __slots__ = ("base_version", "candidate_version")
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    base_version: int
    candidate_version: int
    def __init__(self, base_version: _Optional[int] = ..., candidate_version: _Optional[int] = ...) -> None: ...

class MetricComparison(_message.Message):
    __slots__ = ("metric", "base", "candidate", "difference", "relative_difference")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    base: float
    candidate: float
    difference: float
    relative_difference: float
    def __init__(self, metric: _Optional[str] = ..., base: _Optional[float] = ..., candidate: _Optional[float] = ..., difference: _Optional[float] = ..., relative_difference: _Optional[float] = ...) -> None: ...

class CompareModelVersionsResponse(_message.Message):
    __slots__ = ("base", "candidate", "metrics", "same_split")
    BASE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SAME_SPLIT_FIELD_NUMBER: _ClassVar[int]
    base: ModelVersion
    candidate: ModelVersion
    metrics: _containers.RepeatedCompositeFieldContainer[MetricComparison]
    same_split: bool
    def __init__(self, base: _Optional[_Union[ModelVersion, _Mapping]] = ..., candidate: _Optional[_Union[ModelVersion, _Mapping]] = ..., metrics: _Optional[_Iterable[_Union[MetricComparison, _Mapping]]] = ..., same_split: _Optional[bool] = ...) -> None: ...

class ItemFilter(_message.Message):
    __slots__ = ("exclude_purchased", "categories", "available_only", "min_price", "max_price", "exclude_item_ids", "exclude_seen")
    EXCLUDE_PURCHASED_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    MIN_PRICE_FIELD_NUMBER: _ClassVar[int]
    MAX_PRICE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_SEEN_FIELD_NUMBER: _ClassVar[int]
    exclude_purchased: bool
    categories: _containers.RepeatedScalarFieldContainer[str]
    available_only: bool
    min_price: float
    max_price: float
    exclude_item_ids: _containers.RepeatedScalarFieldContainer[str]
    exclude_seen: bool
    def __init__(self, exclude_purchased: _Optional[bool] = ..., categories: _Optional[_Iterable[str]] = ..., available_only: _Optional[bool] = ..., min_price: _Optional[float] = ..., max_price: _Optional[float] = ..., exclude_item_ids: _Optional[_Iterable[str]] = ..., exclude_seen: _Optional[bool] = ...) -> None: ...

class ScoredItem(_message.Message):
    __slots__ = ("item", "score")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    item: Item
    score: float
    def __init__(self, item: _Optional[_Union[Item, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class RecommendRequest(_message.Message):
    __slots__ = ("identifier", "profile_id", "k", "filter", "fallback_segment_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    profile_id: str
    k: int
    filter: ItemFilter
    fallback_segment_id: str
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., profile_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[ItemFilter, _Mapping]] = ..., fallback_segment_id: _Optional[str] = ...) -> None: ...

class RecommendResponse(_message.Message):
    __slots__ = ("items", "reason", "model_version", "profile_id")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    reason: RecommendationReason
    model_version: int
    profile_id: str
    def __init__(self, items: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., reason: _Optional[_Union[RecommendationReason, str]] = ..., model_version: _Optional[int] = ..., profile_id: _Optional[str] = ...) -> None: ...

class SimilarItemsRequest(_message.Message):
    __slots__ = ("item_id", "k", "filter")
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    k: int
    filter: ItemFilter
    def __init__(self, item_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[ItemFilter, _Mapping]] = ...) -> None: ...

class SimilarItemsResponse(_message.Message):
    __slots__ = ("items", "model_version", "reason")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    model_version: int
    reason: RecommendationReason
    def __init__(self, items: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., model_version: _Optional[int] = ..., reason: _Optional[_Union[RecommendationReason, str]] = ...) -> None: ...

class PopularItemsRequest(_message.Message):
    __slots__ = ("segment_id", "k", "filter", "window_days")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    k: int
    filter: ItemFilter
    window_days: int
    def __init__(self, segment_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[_Union[ItemFilter, _Mapping]] = ..., window_days: _Optional[int] = ...) -> None: ...

class PopularItemsResponse(_message.Message):
    __slots__ = ("items", "reason", "fell_back_to_global", "interactions")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FELL_BACK_TO_GLOBAL_FIELD_NUMBER: _ClassVar[int]
    INTERACTIONS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoredItem]
    reason: RecommendationReason
    fell_back_to_global: bool
    interactions: int
    def __init__(self, items: _Optional[_Iterable[_Union[ScoredItem, _Mapping]]] = ..., reason: _Optional[_Union[RecommendationReason, str]] = ..., fell_back_to_global: _Optional[bool] = ..., interactions: _Optional[int] = ...) -> None: ...
