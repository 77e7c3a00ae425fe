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

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_SMS: _ClassVar[Channel]
    CHANNEL_PUSH: _ClassVar[Channel]
    CHANNEL_ADS: _ClassVar[Channel]
    CHANNEL_ONSITE: _ClassVar[Channel]

class SegmentFamily(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_FAMILY_UNSPECIFIED: _ClassVar[SegmentFamily]
    SEGMENT_FAMILY_RULE: _ClassVar[SegmentFamily]
    SEGMENT_FAMILY_RFM: _ClassVar[SegmentFamily]
    SEGMENT_FAMILY_CLUSTER: _ClassVar[SegmentFamily]
    SEGMENT_FAMILY_PREDICTIVE: _ClassVar[SegmentFamily]
    SEGMENT_FAMILY_LOOKALIKE: _ClassVar[SegmentFamily]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]

class PredictionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREDICTION_KIND_UNSPECIFIED: _ClassVar[PredictionKind]
    PREDICTION_KIND_PROPENSITY: _ClassVar[PredictionKind]
    PREDICTION_KIND_CHURN: _ClassVar[PredictionKind]
    PREDICTION_KIND_UPLIFT: _ClassVar[PredictionKind]

class UpliftMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPLIFT_METHOD_UNSPECIFIED: _ClassVar[UpliftMethod]
    UPLIFT_METHOD_TWO_MODEL: _ClassVar[UpliftMethod]
    UPLIFT_METHOD_CLASS_TRANSFORMATION: _ClassVar[UpliftMethod]

class MembershipChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBERSHIP_CHANGE_KIND_UNSPECIFIED: _ClassVar[MembershipChangeKind]
    MEMBERSHIP_CHANGE_KIND_ENTERED: _ClassVar[MembershipChangeKind]
    MEMBERSHIP_CHANGE_KIND_EXITED: _ClassVar[MembershipChangeKind]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_EMAIL: Channel
CHANNEL_SMS: Channel
CHANNEL_PUSH: Channel
CHANNEL_ADS: Channel
CHANNEL_ONSITE: Channel
SEGMENT_FAMILY_UNSPECIFIED: SegmentFamily
SEGMENT_FAMILY_RULE: SegmentFamily
SEGMENT_FAMILY_RFM: SegmentFamily
SEGMENT_FAMILY_CLUSTER: SegmentFamily
SEGMENT_FAMILY_PREDICTIVE: SegmentFamily
SEGMENT_FAMILY_LOOKALIKE: SegmentFamily
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
PREDICTION_KIND_UNSPECIFIED: PredictionKind
PREDICTION_KIND_PROPENSITY: PredictionKind
PREDICTION_KIND_CHURN: PredictionKind
PREDICTION_KIND_UPLIFT: PredictionKind
UPLIFT_METHOD_UNSPECIFIED: UpliftMethod
UPLIFT_METHOD_TWO_MODEL: UpliftMethod
UPLIFT_METHOD_CLASS_TRANSFORMATION: UpliftMethod
MEMBERSHIP_CHANGE_KIND_UNSPECIFIED: MembershipChangeKind
MEMBERSHIP_CHANGE_KIND_ENTERED: MembershipChangeKind
MEMBERSHIP_CHANGE_KIND_EXITED: MembershipChangeKind

class Segment(_message.Message):
    __slots__ = ("segment_id", "name", "description", "rule_json", "family", "version", "refresh_interval_seconds", "member_count", "refreshed_at", "created_at", "updated_at", "origin")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REFRESH_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    name: str
    description: str
    rule_json: bytes
    family: SegmentFamily
    version: int
    refresh_interval_seconds: int
    member_count: int
    refreshed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    origin: str
    def __init__(self, segment_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., rule_json: _Optional[bytes] = ..., family: _Optional[_Union[SegmentFamily, str]] = ..., version: _Optional[int] = ..., refresh_interval_seconds: _Optional[int] = ..., member_count: _Optional[int] = ..., refreshed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., origin: _Optional[str] = ...) -> None: ...

class CreateSegmentRequest(_message.Message):
    __slots__ = ("name", "description", "rule_json", "refresh_interval_seconds", "materialize")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    REFRESH_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MATERIALIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    rule_json: bytes
    refresh_interval_seconds: int
    materialize: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., rule_json: _Optional[bytes] = ..., refresh_interval_seconds: _Optional[int] = ..., materialize: _Optional[bool] = ...) -> None: ...

class CreateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class UpdateSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "name", "description", "rule_json", "refresh_interval_seconds", "expected_version")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    REFRESH_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    name: str
    description: str
    rule_json: bytes
    refresh_interval_seconds: int
    expected_version: int
    def __init__(self, segment_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., rule_json: _Optional[bytes] = ..., refresh_interval_seconds: _Optional[int] = ..., expected_version: _Optional[int] = ...) -> None: ...

class UpdateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class DeleteSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class DeleteSegmentResponse(_message.Message):
    __slots__ = ("exited_count",)
    EXITED_COUNT_FIELD_NUMBER: _ClassVar[int]
    exited_count: int
    def __init__(self, exited_count: _Optional[int] = ...) -> None: ...

class GetSegmentRequest(_message.Message):
    __slots__ = ("segment_id",)
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    def __init__(self, segment_id: _Optional[str] = ...) -> None: ...

class GetSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ("family", "page_size", "page_token")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    family: SegmentFamily
    page_size: int
    page_token: str
    def __init__(self, family: _Optional[_Union[SegmentFamily, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "next_page_token")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    next_page_token: str
    def __init__(self, segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EstimateSegmentSizeRequest(_message.Message):
    __slots__ = ("rule_json", "segment_id", "channel")
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    rule_json: bytes
    segment_id: str
    channel: Channel
    def __init__(self, rule_json: _Optional[bytes] = ..., segment_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ...) -> None: ...

class EstimateSegmentSizeResponse(_message.Message):
    __slots__ = ("matched_count", "total_profiles", "releasable_count", "exact")
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PROFILES_FIELD_NUMBER: _ClassVar[int]
    RELEASABLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    matched_count: int
    total_profiles: int
    releasable_count: int
    exact: bool
    def __init__(self, matched_count: _Optional[int] = ..., total_profiles: _Optional[int] = ..., releasable_count: _Optional[int] = ..., exact: _Optional[bool] = ...) -> None: ...

class PreviewSegmentRequest(_message.Message):
    __slots__ = ("rule_json", "segment_id", "sample_size", "seed")
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    rule_json: bytes
    segment_id: str
    sample_size: int
    seed: int
    def __init__(self, rule_json: _Optional[bytes] = ..., segment_id: _Optional[str] = ..., sample_size: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class PreviewProfile(_message.Message):
    __slots__ = ("profile_id", "identifiers", "traits_json")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[_types_pb2.Identifier]
    traits_json: bytes
    def __init__(self, profile_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[_types_pb2.Identifier, _Mapping]]] = ..., traits_json: _Optional[bytes] = ...) -> None: ...

class PreviewSegmentResponse(_message.Message):
    __slots__ = ("profiles", "matched_count")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    MATCHED_COUNT_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[PreviewProfile]
    matched_count: int
    def __init__(self, profiles: _Optional[_Iterable[_Union[PreviewProfile, _Mapping]]] = ..., matched_count: _Optional[int] = ...) -> None: ...

class RefreshSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "full")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    full: bool
    def __init__(self, segment_id: _Optional[str] = ..., full: _Optional[bool] = ...) -> None: ...

class RefreshSegmentResponse(_message.Message):
    __slots__ = ("segment", "entered_count", "exited_count", "full")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    ENTERED_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXITED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    entered_count: int
    exited_count: int
    full: bool
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ..., entered_count: _Optional[int] = ..., exited_count: _Optional[int] = ..., full: _Optional[bool] = ...) -> None: ...

class SegmentMember(_message.Message):
    __slots__ = ("profile_id", "entered_at")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTERED_AT_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    entered_at: _timestamp_pb2.Timestamp
    def __init__(self, profile_id: _Optional[str] = ..., entered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSegmentMembersRequest(_message.Message):
    __slots__ = ("segment_id", "channel", "page_size", "page_token")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    channel: Channel
    page_size: int
    page_token: str
    def __init__(self, segment_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSegmentMembersResponse(_message.Message):
    __slots__ = ("members", "next_page_token", "total_count", "suppressed_count", "refreshed_at")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFRESHED_AT_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[SegmentMember]
    next_page_token: str
    total_count: int
    suppressed_count: int
    refreshed_at: _timestamp_pb2.Timestamp
    def __init__(self, members: _Optional[_Iterable[_Union[SegmentMember, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_count: _Optional[int] = ..., suppressed_count: _Optional[int] = ..., refreshed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListProfileSegmentsRequest(_message.Message):
    __slots__ = ("identifier", "profile_id")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    profile_id: str
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., profile_id: _Optional[str] = ...) -> None: ...

class ListProfileSegmentsResponse(_message.Message):
    __slots__ = ("profile_id", "segments")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    segments: _containers.RepeatedCompositeFieldContainer[ProfileSegment]
    def __init__(self, profile_id: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[ProfileSegment, _Mapping]]] = ...) -> None: ...

class ProfileSegment(_message.Message):
    __slots__ = ("segment_id", "name", "entered_at")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTERED_AT_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    name: str
    entered_at: _timestamp_pb2.Timestamp
    def __init__(self, segment_id: _Optional[str] = ..., name: _Optional[str] = ..., entered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportSegmentRequest(_message.Message):
    __slots__ = ("segment_id", "channel", "columns", "purpose")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    channel: Channel
    columns: _containers.RepeatedScalarFieldContainer[str]
    purpose: str
    def __init__(self, segment_id: _Optional[str] = ..., channel: _Optional[_Union[Channel, str]] = ..., columns: _Optional[_Iterable[str]] = ..., purpose: _Optional[str] = ...) -> None: ...

class ExportSegmentResponse(_message.Message):
    __slots__ = ("csv", "row_count", "suppressed_count", "last")
    CSV_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    csv: bytes
    row_count: int
    suppressed_count: int
    last: bool
    def __init__(self, csv: _Optional[bytes] = ..., row_count: _Optional[int] = ..., suppressed_count: _Optional[int] = ..., last: _Optional[bool] = ...) -> None: ...

class RfmCell(_message.Message):
    __slots__ = ("name", "description", "recency_score_min", "recency_score_max", "frequency_monetary_score_min", "frequency_monetary_score_max", "profile_count", "share", "average_monetary", "rule_json", "segment_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RECENCY_SCORE_MIN_FIELD_NUMBER: _ClassVar[int]
    RECENCY_SCORE_MAX_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_MONETARY_SCORE_MIN_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_MONETARY_SCORE_MAX_FIELD_NUMBER: _ClassVar[int]
    PROFILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_MONETARY_FIELD_NUMBER: _ClassVar[int]
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    recency_score_min: int
    recency_score_max: int
    frequency_monetary_score_min: int
    frequency_monetary_score_max: int
    profile_count: int
    share: float
    average_monetary: float
    rule_json: bytes
    segment_id: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., recency_score_min: _Optional[int] = ..., recency_score_max: _Optional[int] = ..., frequency_monetary_score_min: _Optional[int] = ..., frequency_monetary_score_max: _Optional[int] = ..., profile_count: _Optional[int] = ..., share: _Optional[float] = ..., average_monetary: _Optional[float] = ..., rule_json: _Optional[bytes] = ..., segment_id: _Optional[str] = ...) -> None: ...

class GetRfmCellsRequest(_message.Message):
    __slots__ = ("create_segments",)
    CREATE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    create_segments: bool
    def __init__(self, create_segments: _Optional[bool] = ...) -> None: ...

class GetRfmCellsResponse(_message.Message):
    __slots__ = ("cells", "computed_at")
    CELLS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    cells: _containers.RepeatedCompositeFieldContainer[RfmCell]
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, cells: _Optional[_Iterable[_Union[RfmCell, _Mapping]]] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartClusteringJobRequest(_message.Message):
    __slots__ = ("parameters",)
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    parameters: ClusteringParameters
    def __init__(self, parameters: _Optional[_Union[ClusteringParameters, _Mapping]] = ...) -> None: ...

class ClusteringParameters(_message.Message):
    __slots__ = ("k_min", "k_max", "features", "segment_id", "seed", "max_profiles", "create_segments")
    K_MIN_FIELD_NUMBER: _ClassVar[int]
    K_MAX_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_PROFILES_FIELD_NUMBER: _ClassVar[int]
    CREATE_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    k_min: int
    k_max: int
    features: _containers.RepeatedScalarFieldContainer[str]
    segment_id: str
    seed: int
    max_profiles: int
    create_segments: bool
    def __init__(self, k_min: _Optional[int] = ..., k_max: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., segment_id: _Optional[str] = ..., seed: _Optional[int] = ..., max_profiles: _Optional[int] = ..., create_segments: _Optional[bool] = ...) -> None: ...

class StartClusteringJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: ClusteringJob
    def __init__(self, job: _Optional[_Union[ClusteringJob, _Mapping]] = ...) -> None: ...

class SilhouetteScore(_message.Message):
    __slots__ = ("k", "silhouette")
    K_FIELD_NUMBER: _ClassVar[int]
    SILHOUETTE_FIELD_NUMBER: _ClassVar[int]
    k: int
    silhouette: float
    def __init__(self, k: _Optional[int] = ..., silhouette: _Optional[float] = ...) -> None: ...

class ClusterFeature(_message.Message):
    __slots__ = ("feature", "mean", "z_score")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    Z_SCORE_FIELD_NUMBER: _ClassVar[int]
    feature: str
    mean: float
    z_score: float
    def __init__(self, feature: _Optional[str] = ..., mean: _Optional[float] = ..., z_score: _Optional[float] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("index", "size", "share", "features", "description", "segment_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    size: int
    share: float
    features: _containers.RepeatedCompositeFieldContainer[ClusterFeature]
    description: str
    segment_id: str
    def __init__(self, index: _Optional[int] = ..., size: _Optional[int] = ..., share: _Optional[float] = ..., features: _Optional[_Iterable[_Union[ClusterFeature, _Mapping]]] = ..., description: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class ClusteringJob(_message.Message):
    __slots__ = ("job_id", "state", "progress", "error", "parameters", "silhouettes", "chosen_k", "clusters", "profile_count", "created_at", "finished_at")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SILHOUETTES_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_K_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    progress: float
    error: str
    parameters: ClusteringParameters
    silhouettes: _containers.RepeatedCompositeFieldContainer[SilhouetteScore]
    chosen_k: int
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    profile_count: int
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., error: _Optional[str] = ..., parameters: _Optional[_Union[ClusteringParameters, _Mapping]] = ..., silhouettes: _Optional[_Iterable[_Union[SilhouetteScore, _Mapping]]] = ..., chosen_k: _Optional[int] = ..., clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ..., profile_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetClusteringJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetClusteringJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: ClusteringJob
    def __init__(self, job: _Optional[_Union[ClusteringJob, _Mapping]] = ...) -> None: ...

class TrainPredictiveModelRequest(_message.Message):
    __slots__ = ("parameters",)
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    parameters: PredictiveModelParameters
    def __init__(self, parameters: _Optional[_Union[PredictiveModelParameters, _Mapping]] = ...) -> None: ...

class PredictiveModelParameters(_message.Message):
    __slots__ = ("kind", "horizon_days", "target_event", "cutoff", "features", "seed", "test_fraction", "name", "campaign_id", "uplift_method", "arm_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    HORIZON_DAYS_FIELD_NUMBER: _ClassVar[int]
    TARGET_EVENT_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TEST_FRACTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_METHOD_FIELD_NUMBER: _ClassVar[int]
    ARM_ID_FIELD_NUMBER: _ClassVar[int]
    kind: PredictionKind
    horizon_days: int
    target_event: str
    cutoff: _timestamp_pb2.Timestamp
    features: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    test_fraction: float
    name: str
    campaign_id: str
    uplift_method: UpliftMethod
    arm_id: str
    def __init__(self, kind: _Optional[_Union[PredictionKind, str]] = ..., horizon_days: _Optional[int] = ..., target_event: _Optional[str] = ..., cutoff: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., features: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., test_fraction: _Optional[float] = ..., name: _Optional[str] = ..., campaign_id: _Optional[str] = ..., uplift_method: _Optional[_Union[UpliftMethod, str]] = ..., arm_id: _Optional[str] = ...) -> None: ...

class TrainPredictiveModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: PredictiveModel
    def __init__(self, model: _Optional[_Union[PredictiveModel, _Mapping]] = ...) -> None: ...

class LiftDecile(_message.Message):
    __slots__ = ("decile", "profile_count", "positives", "min_score", "rate", "lift", "cumulative_lift", "cumulative_capture")
    DECILE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    POSITIVES_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    LIFT_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_LIFT_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_CAPTURE_FIELD_NUMBER: _ClassVar[int]
    decile: int
    profile_count: int
    positives: int
    min_score: float
    rate: float
    lift: float
    cumulative_lift: float
    cumulative_capture: float
    def __init__(self, decile: _Optional[int] = ..., profile_count: _Optional[int] = ..., positives: _Optional[int] = ..., min_score: _Optional[float] = ..., rate: _Optional[float] = ..., lift: _Optional[float] = ..., cumulative_lift: _Optional[float] = ..., cumulative_capture: _Optional[float] = ...) -> None: ...

class PredictiveModel(_message.Message):
    __slots__ = ("model_id", "version", "name", "kind", "state", "progress", "error", "parameters", "training_rows", "test_rows", "positive_rate", "auc", "deciles", "feature_importances", "created_at", "finished_at", "uplift")
    class FeatureImportancesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_ROWS_FIELD_NUMBER: _ClassVar[int]
    TEST_ROWS_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    AUC_FIELD_NUMBER: _ClassVar[int]
    DECILES_FIELD_NUMBER: _ClassVar[int]
    FEATURE_IMPORTANCES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    version: int
    name: str
    kind: PredictionKind
    state: JobState
    progress: float
    error: str
    parameters: PredictiveModelParameters
    training_rows: int
    test_rows: int
    positive_rate: float
    auc: float
    deciles: _containers.RepeatedCompositeFieldContainer[LiftDecile]
    feature_importances: _containers.ScalarMap[str, float]
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    uplift: UpliftModelEvaluation
    def __init__(self, model_id: _Optional[str] = ..., version: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[PredictionKind, str]] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[float] = ..., error: _Optional[str] = ..., parameters: _Optional[_Union[PredictiveModelParameters, _Mapping]] = ..., training_rows: _Optional[int] = ..., test_rows: _Optional[int] = ..., positive_rate: _Optional[float] = ..., auc: _Optional[float] = ..., deciles: _Optional[_Iterable[_Union[LiftDecile, _Mapping]]] = ..., feature_importances: _Optional[_Mapping[str, float]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uplift: _Optional[_Union[UpliftModelEvaluation, _Mapping]] = ...) -> None: ...

class UpliftModelEvaluation(_message.Message):
    __slots__ = ("qini_coefficient", "auuc", "random_auuc", "treated", "control", "average_uplift", "uplift_at_k", "deciles")
    QINI_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    AUUC_FIELD_NUMBER: _ClassVar[int]
    RANDOM_AUUC_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_UPLIFT_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_AT_K_FIELD_NUMBER: _ClassVar[int]
    DECILES_FIELD_NUMBER: _ClassVar[int]
    qini_coefficient: float
    auuc: float
    random_auuc: float
    treated: int
    control: int
    average_uplift: float
    uplift_at_k: _containers.RepeatedCompositeFieldContainer[UpliftModelAtFraction]
    deciles: _containers.RepeatedCompositeFieldContainer[UpliftModelDecile]
    def __init__(self, qini_coefficient: _Optional[float] = ..., auuc: _Optional[float] = ..., random_auuc: _Optional[float] = ..., treated: _Optional[int] = ..., control: _Optional[int] = ..., average_uplift: _Optional[float] = ..., uplift_at_k: _Optional[_Iterable[_Union[UpliftModelAtFraction, _Mapping]]] = ..., deciles: _Optional[_Iterable[_Union[UpliftModelDecile, _Mapping]]] = ...) -> None: ...

class UpliftModelAtFraction(_message.Message):
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

class UpliftModelDecile(_message.Message):
    __slots__ = ("decile", "treated", "control", "treated_rate", "control_rate", "uplift", "cumulative_gain", "min_score")
    DECILE_FIELD_NUMBER: _ClassVar[int]
    TREATED_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    TREATED_RATE_FIELD_NUMBER: _ClassVar[int]
    CONTROL_RATE_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    CUMULATIVE_GAIN_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    decile: int
    treated: int
    control: int
    treated_rate: float
    control_rate: float
    uplift: float
    cumulative_gain: float
    min_score: float
    def __init__(self, decile: _Optional[int] = ..., treated: _Optional[int] = ..., control: _Optional[int] = ..., treated_rate: _Optional[float] = ..., control_rate: _Optional[float] = ..., uplift: _Optional[float] = ..., cumulative_gain: _Optional[float] = ..., min_score: _Optional[float] = ...) -> None: ...

class ListModelScoresRequest(_message.Message):
    __slots__ = ("model_id", "page_size", "page_token")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    page_size: int
    page_token: str
    def __init__(self, model_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ModelScore(_message.Message):
    __slots__ = ("profile_id", "score")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    score: float
    def __init__(self, profile_id: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class ListModelScoresResponse(_message.Message):
    __slots__ = ("scores", "next_page_token")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedCompositeFieldContainer[ModelScore]
    next_page_token: str
    def __init__(self, scores: _Optional[_Iterable[_Union[ModelScore, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPredictiveModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class GetPredictiveModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: PredictiveModel
    def __init__(self, model: _Optional[_Union[PredictiveModel, _Mapping]] = ...) -> None: ...

class ListPredictiveModelsRequest(_message.Message):
    __slots__ = ("kind", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: PredictionKind
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[PredictionKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPredictiveModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[PredictiveModel]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[PredictiveModel, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePredictiveAudienceRequest(_message.Message):
    __slots__ = ("model_id", "name", "top_fraction", "min_score")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOP_FRACTION_FIELD_NUMBER: _ClassVar[int]
    MIN_SCORE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    name: str
    top_fraction: float
    min_score: float
    def __init__(self, model_id: _Optional[str] = ..., name: _Optional[str] = ..., top_fraction: _Optional[float] = ..., min_score: _Optional[float] = ...) -> None: ...

class CreatePredictiveAudienceResponse(_message.Message):
    __slots__ = ("segment", "expected_rate", "expected_lift", "expected_uplift")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RATE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_LIFT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_UPLIFT_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    expected_rate: float
    expected_lift: float
    expected_uplift: float
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ..., expected_rate: _Optional[float] = ..., expected_lift: _Optional[float] = ..., expected_uplift: _Optional[float] = ...) -> None: ...

class CreateLookalikeAudienceRequest(_message.Message):
    __slots__ = ("seed_segment_id", "name", "size", "features", "seed")
    SEED_SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    seed_segment_id: str
    name: str
    size: int
    features: _containers.RepeatedScalarFieldContainer[str]
    seed: int
    def __init__(self, seed_segment_id: _Optional[str] = ..., name: _Optional[str] = ..., size: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ...) -> None: ...

class LookalikeQuality(_message.Message):
    __slots__ = ("holdout_size", "holdout_recall", "lift_over_random", "similarity_cutoff")
    HOLDOUT_SIZE_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_RECALL_FIELD_NUMBER: _ClassVar[int]
    LIFT_OVER_RANDOM_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    holdout_size: int
    holdout_recall: float
    lift_over_random: float
    similarity_cutoff: float
    def __init__(self, holdout_size: _Optional[int] = ..., holdout_recall: _Optional[float] = ..., lift_over_random: _Optional[float] = ..., similarity_cutoff: _Optional[float] = ...) -> None: ...

class CreateLookalikeAudienceResponse(_message.Message):
    __slots__ = ("segment", "quality")
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    QUALITY_FIELD_NUMBER: _ClassVar[int]
    segment: Segment
    quality: LookalikeQuality
    def __init__(self, segment: _Optional[_Union[Segment, _Mapping]] = ..., quality: _Optional[_Union[LookalikeQuality, _Mapping]] = ...) -> None: ...

class MembershipChange(_message.Message):
    __slots__ = ("kind", "segment_id", "profile_id", "segment_version", "occurred_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: MembershipChangeKind
    segment_id: str
    profile_id: str
    segment_version: int
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[MembershipChangeKind, str]] = ..., segment_id: _Optional[str] = ..., profile_id: _Optional[str] = ..., segment_version: _Optional[int] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
