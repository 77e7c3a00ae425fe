import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from precis.common.v1 import types_pb2 as _types_pb2
from precis.segmentation.v1 import segmentation_pb2 as _segmentation_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Metric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_UNSPECIFIED: _ClassVar[Metric]
    METRIC_CONVERSION_RATE: _ClassVar[Metric]
    METRIC_REVENUE_PER_USER: _ClassVar[Metric]
    METRIC_AVERAGE_ORDER_VALUE: _ClassVar[Metric]
    METRIC_REPURCHASE_RATE: _ClassVar[Metric]

class CampaignStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAMPAIGN_STATUS_UNSPECIFIED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_SCHEDULED: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_RUNNING: _ClassVar[CampaignStatus]
    CAMPAIGN_STATUS_ENDED: _ClassVar[CampaignStatus]

class StatisticalTest(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATISTICAL_TEST_UNSPECIFIED: _ClassVar[StatisticalTest]
    STATISTICAL_TEST_TWO_PROPORTION_Z: _ClassVar[StatisticalTest]
    STATISTICAL_TEST_WELCH_T: _ClassVar[StatisticalTest]
    STATISTICAL_TEST_DELTA_METHOD: _ClassVar[StatisticalTest]

class MetricType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METRIC_TYPE_UNSPECIFIED: _ClassVar[MetricType]
    METRIC_TYPE_PROPORTION: _ClassVar[MetricType]
    METRIC_TYPE_MEAN: _ClassVar[MetricType]
    METRIC_TYPE_RATIO: _ClassVar[MetricType]

class AttributionModel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTION_MODEL_UNSPECIFIED: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_FIRST_TOUCH: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_LAST_TOUCH: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_LINEAR: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_TIME_DECAY: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_POSITION_BASED: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_MARKOV: _ClassVar[AttributionModel]
    ATTRIBUTION_MODEL_SHAPLEY: _ClassVar[AttributionModel]
METRIC_UNSPECIFIED: Metric
METRIC_CONVERSION_RATE: Metric
METRIC_REVENUE_PER_USER: Metric
METRIC_AVERAGE_ORDER_VALUE: Metric
METRIC_REPURCHASE_RATE: Metric
CAMPAIGN_STATUS_UNSPECIFIED: CampaignStatus
CAMPAIGN_STATUS_SCHEDULED: CampaignStatus
CAMPAIGN_STATUS_RUNNING: CampaignStatus
CAMPAIGN_STATUS_ENDED: CampaignStatus
STATISTICAL_TEST_UNSPECIFIED: StatisticalTest
STATISTICAL_TEST_TWO_PROPORTION_Z: StatisticalTest
STATISTICAL_TEST_WELCH_T: StatisticalTest
STATISTICAL_TEST_DELTA_METHOD: StatisticalTest
METRIC_TYPE_UNSPECIFIED: MetricType
METRIC_TYPE_PROPORTION: MetricType
METRIC_TYPE_MEAN: MetricType
METRIC_TYPE_RATIO: MetricType
ATTRIBUTION_MODEL_UNSPECIFIED: AttributionModel
ATTRIBUTION_MODEL_FIRST_TOUCH: AttributionModel
ATTRIBUTION_MODEL_LAST_TOUCH: AttributionModel
ATTRIBUTION_MODEL_LINEAR: AttributionModel
ATTRIBUTION_MODEL_TIME_DECAY: AttributionModel
ATTRIBUTION_MODEL_POSITION_BASED: AttributionModel
ATTRIBUTION_MODEL_MARKOV: AttributionModel
ATTRIBUTION_MODEL_SHAPLEY: AttributionModel

class Arm(_message.Message):
    __slots__ = ("arm_id", "description", "weight")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    description: str
    weight: float
    def __init__(self, arm_id: _Optional[str] = ..., description: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class Campaign(_message.Message):
    __slots__ = ("campaign_id", "name", "description", "segment_id", "channel", "arms", "holdout_share", "start_time", "end_time", "primary_metric", "secondary_metrics", "conversion_event", "revenue_property", "attribution_window", "cost_per_send", "fixed_cost", "currency", "pre_period", "min_cell_size", "targeting_model_id", "status", "created_at", "updated_at", "send_time_optimization", "time_zone", "external_assignment")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_SHARE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_METRIC_FIELD_NUMBER: _ClassVar[int]
    SECONDARY_METRICS_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_EVENT_FIELD_NUMBER: _ClassVar[int]
    REVENUE_PROPERTY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    COST_PER_SEND_FIELD_NUMBER: _ClassVar[int]
    FIXED_COST_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PRE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    MIN_CELL_SIZE_FIELD_NUMBER: _ClassVar[int]
    TARGETING_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    name: str
    description: str
    segment_id: str
    channel: _segmentation_pb2.Channel
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    holdout_share: float
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    primary_metric: Metric
    secondary_metrics: _containers.RepeatedScalarFieldContainer[Metric]
    conversion_event: str
    revenue_property: str
    attribution_window: _duration_pb2.Duration
    cost_per_send: float
    fixed_cost: float
    currency: str
    pre_period: _duration_pb2.Duration
    min_cell_size: int
    targeting_model_id: str
    status: CampaignStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    send_time_optimization: bool
    time_zone: str
    external_assignment: bool
    def __init__(self, campaign_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., segment_id: _Optional[str] = ..., channel: _Optional[_Union[_segmentation_pb2.Channel, str]] = ..., arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., holdout_share: _Optional[float] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., primary_metric: _Optional[_Union[Metric, str]] = ..., secondary_metrics: _Optional[_Iterable[_Union[Metric, str]]] = ..., conversion_event: _Optional[str] = ..., revenue_property: _Optional[str] = ..., attribution_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cost_per_send: _Optional[float] = ..., fixed_cost: _Optional[float] = ..., currency: _Optional[str] = ..., pre_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_cell_size: _Optional[int] = ..., targeting_model_id: _Optional[str] = ..., status: _Optional[_Union[CampaignStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., send_time_optimization: _Optional[bool] = ..., time_zone: _Optional[str] = ..., external_assignment: _Optional[bool] = ...) -> None: ...

class CreateCampaignRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class CreateCampaignResponse(_message.Message):
    __slots__ = ("campaign", "warnings")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCampaignRequest(_message.Message):
    __slots__ = ("campaign_id",)
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    def __init__(self, campaign_id: _Optional[str] = ...) -> None: ...

class GetCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class ListCampaignsRequest(_message.Message):
    __slots__ = ("status", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: CampaignStatus
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[CampaignStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCampaignsResponse(_message.Message):
    __slots__ = ("campaigns", "next_page_token")
    CAMPAIGNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaigns: _containers.RepeatedCompositeFieldContainer[Campaign]
    next_page_token: str
    def __init__(self, campaigns: _Optional[_Iterable[_Union[Campaign, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCampaignRequest(_message.Message):
    __slots__ = ("campaign_id", "name", "description", "end_time", "cost_per_send", "fixed_cost")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    COST_PER_SEND_FIELD_NUMBER: _ClassVar[int]
    FIXED_COST_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    name: str
    description: str
    end_time: _timestamp_pb2.Timestamp
    cost_per_send: float
    fixed_cost: float
    def __init__(self, campaign_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cost_per_send: _Optional[float] = ..., fixed_cost: _Optional[float] = ...) -> None: ...

class UpdateCampaignResponse(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ...) -> None: ...

class GetAssignmentRequest(_message.Message):
    __slots__ = ("campaign_id", "identifier", "profile_id")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    identifier: _types_pb2.Identifier
    profile_id: str
    def __init__(self, campaign_id: _Optional[str] = ..., identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., profile_id: _Optional[str] = ...) -> None: ...

class GetAssignmentResponse(_message.Message):
    __slots__ = ("arm_id", "holdout", "bucket", "profile_id", "assigned_at", "send_at")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    SEND_AT_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    holdout: bool
    bucket: int
    profile_id: str
    assigned_at: _timestamp_pb2.Timestamp
    send_at: _timestamp_pb2.Timestamp
    def __init__(self, arm_id: _Optional[str] = ..., holdout: _Optional[bool] = ..., bucket: _Optional[int] = ..., profile_id: _Optional[str] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., send_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExternalAssignment(_message.Message):
    __slots__ = ("identifier", "profile_id", "arm_id", "assigned_at")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    profile_id: str
    arm_id: str
    assigned_at: _timestamp_pb2.Timestamp
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., profile_id: _Optional[str] = ..., arm_id: _Optional[str] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordAssignmentsRequest(_message.Message):
    __slots__ = ("campaign_id", "assignments")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    assignments: _containers.RepeatedCompositeFieldContainer[ExternalAssignment]
    def __init__(self, campaign_id: _Optional[str] = ..., assignments: _Optional[_Iterable[_Union[ExternalAssignment, _Mapping]]] = ...) -> None: ...

class RecordAssignmentsResponse(_message.Message):
    __slots__ = ("recorded", "unchanged", "conflicting")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    unchanged: int
    conflicting: int
    def __init__(self, recorded: _Optional[int] = ..., unchanged: _Optional[int] = ..., conflicting: _Optional[int] = ...) -> None: ...

class ConfidenceInterval(_message.Message):
    __slots__ = ("lower", "upper")
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    lower: float
    upper: float
    def __init__(self, lower: _Optional[float] = ..., upper: _Optional[float] = ...) -> None: ...

class Estimate(_message.Message):
    __slots__ = ("value", "interval")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    value: float
    interval: ConfidenceInterval
    def __init__(self, value: _Optional[float] = ..., interval: _Optional[_Union[ConfidenceInterval, _Mapping]] = ...) -> None: ...

class CupedResult(_message.Message):
    __slots__ = ("theta", "variance_reduction", "absolute_lift", "relative_lift", "p_value")
    THETA_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_REDUCTION_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_LIFT_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_LIFT_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    theta: float
    variance_reduction: float
    absolute_lift: Estimate
    relative_lift: Estimate
    p_value: float
    def __init__(self, theta: _Optional[float] = ..., variance_reduction: _Optional[float] = ..., absolute_lift: _Optional[_Union[Estimate, _Mapping]] = ..., relative_lift: _Optional[_Union[Estimate, _Mapping]] = ..., p_value: _Optional[float] = ...) -> None: ...

class SequentialResult(_message.Message):
    __slots__ = ("p_value", "absolute_lift_interval", "can_stop", "mixture_variance")
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_LIFT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CAN_STOP_FIELD_NUMBER: _ClassVar[int]
    MIXTURE_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    p_value: float
    absolute_lift_interval: ConfidenceInterval
    can_stop: bool
    mixture_variance: float
    def __init__(self, p_value: _Optional[float] = ..., absolute_lift_interval: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., can_stop: _Optional[bool] = ..., mixture_variance: _Optional[float] = ...) -> None: ...

class LiftResult(_message.Message):
    __slots__ = ("arm", "control_arm", "metric", "test", "control_value", "treatment_value", "absolute_lift", "relative_lift", "p_value", "holm_p_value", "bh_p_value", "significant", "cuped", "sequential", "chance_to_win")
    ARM_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ARM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    CONTROL_VALUE_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_VALUE_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_LIFT_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_LIFT_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    HOLM_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    BH_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    CUPED_FIELD_NUMBER: _ClassVar[int]
    SEQUENTIAL_FIELD_NUMBER: _ClassVar[int]
    CHANCE_TO_WIN_FIELD_NUMBER: _ClassVar[int]
    arm: str
    control_arm: str
    metric: Metric
    test: StatisticalTest
    control_value: float
    treatment_value: float
    absolute_lift: Estimate
    relative_lift: Estimate
    p_value: float
    holm_p_value: float
    bh_p_value: float
    significant: bool
    cuped: CupedResult
    sequential: SequentialResult
    chance_to_win: float
    def __init__(self, arm: _Optional[str] = ..., control_arm: _Optional[str] = ..., metric: _Optional[_Union[Metric, str]] = ..., test: _Optional[_Union[StatisticalTest, str]] = ..., control_value: _Optional[float] = ..., treatment_value: _Optional[float] = ..., absolute_lift: _Optional[_Union[Estimate, _Mapping]] = ..., relative_lift: _Optional[_Union[Estimate, _Mapping]] = ..., p_value: _Optional[float] = ..., holm_p_value: _Optional[float] = ..., bh_p_value: _Optional[float] = ..., significant: _Optional[bool] = ..., cuped: _Optional[_Union[CupedResult, _Mapping]] = ..., sequential: _Optional[_Union[SequentialResult, _Mapping]] = ..., chance_to_win: _Optional[float] = ...) -> None: ...

class SrmCheck(_message.Message):
    __slots__ = ("chi_square", "degrees_of_freedom", "p_value", "mismatch", "arms")
    CHI_SQUARE_FIELD_NUMBER: _ClassVar[int]
    DEGREES_OF_FREEDOM_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    MISMATCH_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    mismatch: bool
    arms: _containers.RepeatedCompositeFieldContainer[SrmArm]
    def __init__(self, chi_square: _Optional[float] = ..., degrees_of_freedom: _Optional[int] = ..., p_value: _Optional[float] = ..., mismatch: _Optional[bool] = ..., arms: _Optional[_Iterable[_Union[SrmArm, _Mapping]]] = ...) -> None: ...

class SrmArm(_message.Message):
    __slots__ = ("arm", "observed", "expected_share", "expected")
    ARM_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHARE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    arm: str
    observed: int
    expected_share: float
    expected: float
    def __init__(self, arm: _Optional[str] = ..., observed: _Optional[int] = ..., expected_share: _Optional[float] = ..., expected: _Optional[float] = ...) -> None: ...

class ArmResult(_message.Message):
    __slots__ = ("arm_id", "holdout", "suppressed", "subjects", "sends", "converters", "conversions", "conversion_rate", "revenue", "revenue_per_user", "average_order_value", "repurchasers", "repurchase_rate", "cost")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    SENDS_FIELD_NUMBER: _ClassVar[int]
    CONVERTERS_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RATE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_PER_USER_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_ORDER_VALUE_FIELD_NUMBER: _ClassVar[int]
    REPURCHASERS_FIELD_NUMBER: _ClassVar[int]
    REPURCHASE_RATE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    holdout: bool
    suppressed: bool
    subjects: int
    sends: int
    converters: int
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float
    average_order_value: float
    repurchasers: int
    repurchase_rate: float
    cost: float
    def __init__(self, arm_id: _Optional[str] = ..., holdout: _Optional[bool] = ..., suppressed: _Optional[bool] = ..., subjects: _Optional[int] = ..., sends: _Optional[int] = ..., converters: _Optional[int] = ..., conversions: _Optional[int] = ..., conversion_rate: _Optional[float] = ..., revenue: _Optional[float] = ..., revenue_per_user: _Optional[float] = ..., average_order_value: _Optional[float] = ..., repurchasers: _Optional[int] = ..., repurchase_rate: _Optional[float] = ..., cost: _Optional[float] = ...) -> None: ...

class ArmImpact(_message.Message):
    __slots__ = ("arm_id", "incremental_conversions", "incremental_revenue", "cost", "roi", "cost_per_incremental_conversion")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_REVENUE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    ROI_FIELD_NUMBER: _ClassVar[int]
    COST_PER_INCREMENTAL_CONVERSION_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    incremental_conversions: Estimate
    incremental_revenue: Estimate
    cost: float
    roi: float
    cost_per_incremental_conversion: float
    def __init__(self, arm_id: _Optional[str] = ..., incremental_conversions: _Optional[_Union[Estimate, _Mapping]] = ..., incremental_revenue: _Optional[_Union[Estimate, _Mapping]] = ..., cost: _Optional[float] = ..., roi: _Optional[float] = ..., cost_per_incremental_conversion: _Optional[float] = ...) -> None: ...

class LiftPoint(_message.Message):
    __slots__ = ("arm_id", "time", "subjects", "relative_lift")
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_LIFT_FIELD_NUMBER: _ClassVar[int]
    arm_id: str
    time: _timestamp_pb2.Timestamp
    subjects: int
    relative_lift: Estimate
    def __init__(self, arm_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., subjects: _Optional[int] = ..., relative_lift: _Optional[_Union[Estimate, _Mapping]] = ...) -> None: ...

class CampaignReport(_message.Message):
    __slots__ = ("campaign", "as_of", "confidence_level", "arms", "lifts", "impacts", "srm", "cumulative_lift", "warnings", "uplift", "attribution", "excluded_without_consent", "overlaps")
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    LIFTS_FIELD_NUMBER: _ClassVar[int]
    IMPACTS_FIELD_NUMBER: _ClassVar[int]
    SRM_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_LIFT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_WITHOUT_CONSENT_FIELD_NUMBER: _ClassVar[int]
    OVERLAPS_FIELD_NUMBER: _ClassVar[int]
    campaign: Campaign
    as_of: _timestamp_pb2.Timestamp
    confidence_level: float
    arms: _containers.RepeatedCompositeFieldContainer[ArmResult]
    lifts: _containers.RepeatedCompositeFieldContainer[LiftResult]
    impacts: _containers.RepeatedCompositeFieldContainer[ArmImpact]
    srm: SrmCheck
    cumulative_lift: _containers.RepeatedCompositeFieldContainer[LiftPoint]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    uplift: EvaluateUpliftResponse
    attribution: ComputeAttributionResponse
    excluded_without_consent: int
    overlaps: _containers.RepeatedCompositeFieldContainer[CampaignOverlap]
    def __init__(self, campaign: _Optional[_Union[Campaign, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confidence_level: _Optional[float] = ..., arms: _Optional[_Iterable[_Union[ArmResult, _Mapping]]] = ..., lifts: _Optional[_Iterable[_Union[LiftResult, _Mapping]]] = ..., impacts: _Optional[_Iterable[_Union[ArmImpact, _Mapping]]] = ..., srm: _Optional[_Union[SrmCheck, _Mapping]] = ..., cumulative_lift: _Optional[_Iterable[_Union[LiftPoint, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ..., uplift: _Optional[_Union[EvaluateUpliftResponse, _Mapping]] = ..., attribution: _Optional[_Union[ComputeAttributionResponse, _Mapping]] = ..., excluded_without_consent: _Optional[int] = ..., overlaps: _Optional[_Iterable[_Union[CampaignOverlap, _Mapping]]] = ...) -> None: ...

class CampaignOverlap(_message.Message):
    __slots__ = ("campaign_id", "subjects")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    subjects: int
    def __init__(self, campaign_id: _Optional[str] = ..., subjects: _Optional[int] = ...) -> None: ...

class GetCampaignReportRequest(_message.Message):
    __slots__ = ("campaign_id", "as_of", "confidence_level")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    as_of: _timestamp_pb2.Timestamp
    confidence_level: float
    def __init__(self, campaign_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confidence_level: _Optional[float] = ...) -> None: ...

class GetCampaignReportResponse(_message.Message):
    __slots__ = ("report",)
    REPORT_FIELD_NUMBER: _ClassVar[int]
    report: CampaignReport
    def __init__(self, report: _Optional[_Union[CampaignReport, _Mapping]] = ...) -> None: ...

class GetCampaignReportPageRequest(_message.Message):
    __slots__ = ("campaign_id", "as_of", "confidence_level")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    as_of: _timestamp_pb2.Timestamp
    confidence_level: float
    def __init__(self, campaign_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confidence_level: _Optional[float] = ...) -> None: ...

class GetCampaignReportPageResponse(_message.Message):
    __slots__ = ("html", "content_type")
    HTML_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    html: bytes
    content_type: str
    def __init__(self, html: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class ArmStatistics(_message.Message):
    __slots__ = ("name", "control", "n", "sum", "sum_squares", "pre_sum", "pre_sum_squares", "sum_products", "denominator_sum", "denominator_sum_squares", "numerator_denominator_sum_products", "expected_share")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    SUM_SQUARES_FIELD_NUMBER: _ClassVar[int]
    PRE_SUM_FIELD_NUMBER: _ClassVar[int]
    PRE_SUM_SQUARES_FIELD_NUMBER: _ClassVar[int]
    SUM_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    DENOMINATOR_SUM_FIELD_NUMBER: _ClassVar[int]
    DENOMINATOR_SUM_SQUARES_FIELD_NUMBER: _ClassVar[int]
    NUMERATOR_DENOMINATOR_SUM_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHARE_FIELD_NUMBER: _ClassVar[int]
    name: str
    control: bool
    n: int
    sum: float
    sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_products: float
    denominator_sum: float
    denominator_sum_squares: float
    numerator_denominator_sum_products: float
    expected_share: float
    def __init__(self, name: _Optional[str] = ..., control: _Optional[bool] = ..., n: _Optional[int] = ..., sum: _Optional[float] = ..., sum_squares: _Optional[float] = ..., pre_sum: _Optional[float] = ..., pre_sum_squares: _Optional[float] = ..., sum_products: _Optional[float] = ..., denominator_sum: _Optional[float] = ..., denominator_sum_squares: _Optional[float] = ..., numerator_denominator_sum_products: _Optional[float] = ..., expected_share: _Optional[float] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("metric_type", "arms", "confidence_level", "cuped", "sequential_mixture_variance")
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CUPED_FIELD_NUMBER: _ClassVar[int]
    SEQUENTIAL_MIXTURE_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    metric_type: MetricType
    arms: _containers.RepeatedCompositeFieldContainer[ArmStatistics]
    confidence_level: float
    cuped: bool
    sequential_mixture_variance: float
    def __init__(self, metric_type: _Optional[_Union[MetricType, str]] = ..., arms: _Optional[_Iterable[_Union[ArmStatistics, _Mapping]]] = ..., confidence_level: _Optional[float] = ..., cuped: _Optional[bool] = ..., sequential_mixture_variance: _Optional[float] = ...) -> None: ...

class ArmSummary(_message.Message):
    __slots__ = ("name", "n", "mean", "variance", "standard_error", "interval", "cuped_mean")
    NAME_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_FIELD_NUMBER: _ClassVar[int]
    STANDARD_ERROR_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CUPED_MEAN_FIELD_NUMBER: _ClassVar[int]
    name: str
    n: int
    mean: float
    variance: float
    standard_error: float
    interval: ConfidenceInterval
    cuped_mean: float
    def __init__(self, name: _Optional[str] = ..., n: _Optional[int] = ..., mean: _Optional[float] = ..., variance: _Optional[float] = ..., standard_error: _Optional[float] = ..., interval: _Optional[_Union[ConfidenceInterval, _Mapping]] = ..., cuped_mean: _Optional[float] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("arms", "lifts", "srm", "warnings")
    ARMS_FIELD_NUMBER: _ClassVar[int]
    LIFTS_FIELD_NUMBER: _ClassVar[int]
    SRM_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[ArmSummary]
    lifts: _containers.RepeatedCompositeFieldContainer[LiftResult]
    srm: SrmCheck
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, arms: _Optional[_Iterable[_Union[ArmSummary, _Mapping]]] = ..., lifts: _Optional[_Iterable[_Union[LiftResult, _Mapping]]] = ..., srm: _Optional[_Union[SrmCheck, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class PlanPowerRequest(_message.Message):
    __slots__ = ("metric_type", "baseline", "standard_deviation", "alpha", "power", "treatment_arms", "control_share", "variance_reduction", "daily_units", "relative_mde", "total_units")
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    STANDARD_DEVIATION_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_ARMS_FIELD_NUMBER: _ClassVar[int]
    CONTROL_SHARE_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_REDUCTION_FIELD_NUMBER: _ClassVar[int]
    DAILY_UNITS_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_MDE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_UNITS_FIELD_NUMBER: _ClassVar[int]
    metric_type: MetricType
    baseline: float
    standard_deviation: float
    alpha: float
    power: float
    treatment_arms: int
    control_share: float
    variance_reduction: float
    daily_units: float
    relative_mde: float
    total_units: int
    def __init__(self, metric_type: _Optional[_Union[MetricType, str]] = ..., baseline: _Optional[float] = ..., standard_deviation: _Optional[float] = ..., alpha: _Optional[float] = ..., power: _Optional[float] = ..., treatment_arms: _Optional[int] = ..., control_share: _Optional[float] = ..., variance_reduction: _Optional[float] = ..., daily_units: _Optional[float] = ..., relative_mde: _Optional[float] = ..., total_units: _Optional[int] = ...) -> None: ...

class PlanPowerResponse(_message.Message):
    __slots__ = ("control_units", "treatment_units_per_arm", "total_units", "absolute_mde", "relative_mde", "duration_days", "warnings")
    CONTROL_UNITS_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_UNITS_PER_ARM_FIELD_NUMBER: _ClassVar[int]
    TOTAL_UNITS_FIELD_NUMBER: _ClassVar[int]
    ABSOLUTE_MDE_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_MDE_FIELD_NUMBER: _ClassVar[int]
    DURATION_DAYS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    control_units: int
    treatment_units_per_arm: int
    total_units: int
    absolute_mde: float
    relative_mde: float
    duration_days: float
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, control_units: _Optional[int] = ..., treatment_units_per_arm: _Optional[int] = ..., total_units: _Optional[int] = ..., absolute_mde: _Optional[float] = ..., relative_mde: _Optional[float] = ..., duration_days: _Optional[float] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCampaignSubjectsRequest(_message.Message):
    __slots__ = ("campaign_id", "page_size", "page_token")
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    campaign_id: str
    page_size: int
    page_token: str
    def __init__(self, campaign_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CampaignSubject(_message.Message):
    __slots__ = ("profile_id", "arm_id", "holdout", "assigned_at", "conversions", "revenue", "outcome")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    arm_id: str
    holdout: bool
    assigned_at: _timestamp_pb2.Timestamp
    conversions: int
    revenue: float
    outcome: float
    def __init__(self, profile_id: _Optional[str] = ..., arm_id: _Optional[str] = ..., holdout: _Optional[bool] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conversions: _Optional[int] = ..., revenue: _Optional[float] = ..., outcome: _Optional[float] = ...) -> None: ...

class ListCampaignSubjectsResponse(_message.Message):
    __slots__ = ("subjects", "next_page_token", "total_subjects", "primary_metric")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_METRIC_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedCompositeFieldContainer[CampaignSubject]
    next_page_token: str
    total_subjects: int
    primary_metric: Metric
    def __init__(self, subjects: _Optional[_Iterable[_Union[CampaignSubject, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_subjects: _Optional[int] = ..., primary_metric: _Optional[_Union[Metric, str]] = ...) -> None: ...

class UpliftObservation(_message.Message):
    __slots__ = ("score", "treated", "outcome")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    score: float
    treated: bool
    outcome: float
    def __init__(self, score: _Optional[float] = ..., treated: _Optional[bool] = ..., outcome: _Optional[float] = ...) -> None: ...

class ProfileScore(_message.Message):
    __slots__ = ("profile_id", "score", "identifier")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    score: float
    identifier: _types_pb2.Identifier
    def __init__(self, profile_id: _Optional[str] = ..., score: _Optional[float] = ..., identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ...) -> None: ...

class EvaluateUpliftRequest(_message.Message):
    __slots__ = ("observations", "campaign_id", "scores", "fractions", "curve_points")
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    FRACTIONS_FIELD_NUMBER: _ClassVar[int]
    CURVE_POINTS_FIELD_NUMBER: _ClassVar[int]
    observations: _containers.RepeatedCompositeFieldContainer[UpliftObservation]
    campaign_id: str
    scores: _containers.RepeatedCompositeFieldContainer[ProfileScore]
    fractions: _containers.RepeatedScalarFieldContainer[float]
    curve_points: int
    def __init__(self, observations: _Optional[_Iterable[_Union[UpliftObservation, _Mapping]]] = ..., campaign_id: _Optional[str] = ..., scores: _Optional[_Iterable[_Union[ProfileScore, _Mapping]]] = ..., fractions: _Optional[_Iterable[float]] = ..., curve_points: _Optional[int] = ...) -> None: ...

class UpliftAtFraction(_message.Message):
    __slots__ = ("fraction", "uplift", "treated", "control")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    uplift: float
    treated: int
    control: int
    def __init__(self, fraction: _Optional[float] = ..., uplift: _Optional[float] = ..., treated: _Optional[int] = ..., control: _Optional[int] = ...) -> None: ...

class UpliftCurvePoint(_message.Message):
    __slots__ = ("fraction", "qini", "uplift_gain", "random", "qini_random")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    QINI_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_GAIN_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    QINI_RANDOM_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    qini: float
    uplift_gain: float
    random: float
    qini_random: float
    def __init__(self, fraction: _Optional[float] = ..., qini: _Optional[float] = ..., uplift_gain: _Optional[float] = ..., random: _Optional[float] = ..., qini_random: _Optional[float] = ...) -> None: ...

class UpliftDecile(_message.Message):
    __slots__ = ("decile", "treated", "control", "treated_mean", "control_mean", "uplift", "cumulative_gain")
    DECILE_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    TREATED_MEAN_FIELD_NUMBER: _ClassVar[int]
    CONTROL_MEAN_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_GAIN_FIELD_NUMBER: _ClassVar[int]
    decile: int
    treated: int
    control: int
    treated_mean: float
    control_mean: float
    uplift: float
    cumulative_gain: float
    def __init__(self, decile: _Optional[int] = ..., treated: _Optional[int] = ..., control: _Optional[int] = ..., treated_mean: _Optional[float] = ..., control_mean: _Optional[float] = ..., uplift: _Optional[float] = ..., cumulative_gain: _Optional[float] = ...) -> None: ...

class EvaluateUpliftResponse(_message.Message):
    __slots__ = ("qini_coefficient", "auuc", "random_auuc", "uplift_at_k", "curve", "treated", "control", "deciles", "unmatched_scores")
    QINI_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    AUUC_FIELD_NUMBER: _ClassVar[int]
    RANDOM_AUUC_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_AT_K_FIELD_NUMBER: _ClassVar[int]
    CURVE_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    DECILES_FIELD_NUMBER: _ClassVar[int]
    UNMATCHED_SCORES_FIELD_NUMBER: _ClassVar[int]
    qini_coefficient: float
    auuc: float
    random_auuc: float
    uplift_at_k: _containers.RepeatedCompositeFieldContainer[UpliftAtFraction]
    curve: _containers.RepeatedCompositeFieldContainer[UpliftCurvePoint]
    treated: int
    control: int
    deciles: _containers.RepeatedCompositeFieldContainer[UpliftDecile]
    unmatched_scores: int
    def __init__(self, qini_coefficient: _Optional[float] = ..., auuc: _Optional[float] = ..., random_auuc: _Optional[float] = ..., uplift_at_k: _Optional[_Iterable[_Union[UpliftAtFraction, _Mapping]]] = ..., curve: _Optional[_Iterable[_Union[UpliftCurvePoint, _Mapping]]] = ..., treated: _Optional[int] = ..., control: _Optional[int] = ..., deciles: _Optional[_Iterable[_Union[UpliftDecile, _Mapping]]] = ..., unmatched_scores: _Optional[int] = ...) -> None: ...

class Touchpoint(_message.Message):
    __slots__ = ("channel", "time")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    channel: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, channel: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Journey(_message.Message):
    __slots__ = ("touchpoints", "converted", "revenue", "conversion_time")
    TOUCHPOINTS_FIELD_NUMBER: _ClassVar[int]
    CONVERTED_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_TIME_FIELD_NUMBER: _ClassVar[int]
    touchpoints: _containers.RepeatedCompositeFieldContainer[Touchpoint]
    converted: bool
    revenue: float
    conversion_time: _timestamp_pb2.Timestamp
    def __init__(self, touchpoints: _Optional[_Iterable[_Union[Touchpoint, _Mapping]]] = ..., converted: _Optional[bool] = ..., revenue: _Optional[float] = ..., conversion_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ComputeAttributionRequest(_message.Message):
    __slots__ = ("start", "end", "conversion_event", "lookback", "channel_field", "models", "half_life", "first_touch_weight", "last_touch_weight", "journeys")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_EVENT_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_FIELD_NUMBER: _ClassVar[int]
    FIRST_TOUCH_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    LAST_TOUCH_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    conversion_event: str
    lookback: _duration_pb2.Duration
    channel_field: str
    models: _containers.RepeatedScalarFieldContainer[AttributionModel]
    half_life: _duration_pb2.Duration
    first_touch_weight: float
    last_touch_weight: float
    journeys: _containers.RepeatedCompositeFieldContainer[Journey]
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., conversion_event: _Optional[str] = ..., lookback: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., channel_field: _Optional[str] = ..., models: _Optional[_Iterable[_Union[AttributionModel, str]]] = ..., half_life: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., first_touch_weight: _Optional[float] = ..., last_touch_weight: _Optional[float] = ..., journeys: _Optional[_Iterable[_Union[Journey, _Mapping]]] = ...) -> None: ...

class ChannelCredit(_message.Message):
    __slots__ = ("channel", "conversions", "revenue", "share", "removal_effect")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_EFFECT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    conversions: float
    revenue: float
    share: float
    removal_effect: float
    def __init__(self, channel: _Optional[str] = ..., conversions: _Optional[float] = ..., revenue: _Optional[float] = ..., share: _Optional[float] = ..., removal_effect: _Optional[float] = ...) -> None: ...

class ModelAttribution(_message.Message):
    __slots__ = ("model", "credits")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    model: AttributionModel
    credits: _containers.RepeatedCompositeFieldContainer[ChannelCredit]
    def __init__(self, model: _Optional[_Union[AttributionModel, str]] = ..., credits: _Optional[_Iterable[_Union[ChannelCredit, _Mapping]]] = ...) -> None: ...

class ComputeAttributionResponse(_message.Message):
    __slots__ = ("results", "journeys", "conversions", "revenue")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ModelAttribution]
    journeys: int
    conversions: int
    revenue: float
    def __init__(self, results: _Optional[_Iterable[_Union[ModelAttribution, _Mapping]]] = ..., journeys: _Optional[int] = ..., conversions: _Optional[int] = ..., revenue: _Optional[float] = ...) -> None: ...

class GetBestSendTimesRequest(_message.Message):
    __slots__ = ("profile_ids", "channel", "time_zone")
    PROFILE_IDS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    profile_ids: _containers.RepeatedScalarFieldContainer[str]
    channel: _segmentation_pb2.Channel
    time_zone: str
    def __init__(self, profile_ids: _Optional[_Iterable[str]] = ..., channel: _Optional[_Union[_segmentation_pb2.Channel, str]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class SendTime(_message.Message):
    __slots__ = ("profile_id", "best_hour", "engagement_events", "fallback", "hourly_share", "best_weekday", "weekday_share")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    BEST_HOUR_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    HOURLY_SHARE_FIELD_NUMBER: _ClassVar[int]
    BEST_WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    WEEKDAY_SHARE_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    best_hour: int
    engagement_events: int
    fallback: bool
    hourly_share: _containers.RepeatedScalarFieldContainer[float]
    best_weekday: int
    weekday_share: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, profile_id: _Optional[str] = ..., best_hour: _Optional[int] = ..., engagement_events: _Optional[int] = ..., fallback: _Optional[bool] = ..., hourly_share: _Optional[_Iterable[float]] = ..., best_weekday: _Optional[int] = ..., weekday_share: _Optional[_Iterable[float]] = ...) -> None: ...

class GetBestSendTimesResponse(_message.Message):
    __slots__ = ("send_times", "workspace_best_hour", "workspace_best_weekday")
    SEND_TIMES_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_BEST_HOUR_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_BEST_WEEKDAY_FIELD_NUMBER: _ClassVar[int]
    send_times: _containers.RepeatedCompositeFieldContainer[SendTime]
    workspace_best_hour: int
    workspace_best_weekday: int
    def __init__(self, send_times: _Optional[_Iterable[_Union[SendTime, _Mapping]]] = ..., workspace_best_hour: _Optional[int] = ..., workspace_best_weekday: _Optional[int] = ...) -> None: ...
