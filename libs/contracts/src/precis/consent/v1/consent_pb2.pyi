import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from precis.common.v1 import privacy_pb2 as _privacy_pb2
from precis.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Purpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PURPOSE_UNSPECIFIED: _ClassVar[Purpose]
    PURPOSE_ANALYTICS: _ClassVar[Purpose]
    PURPOSE_PERSONALIZATION: _ClassVar[Purpose]
    PURPOSE_MARKETING_EMAIL: _ClassVar[Purpose]
    PURPOSE_MARKETING_SMS: _ClassVar[Purpose]
    PURPOSE_MARKETING_PUSH: _ClassVar[Purpose]
    PURPOSE_ADS_TARGETING: _ClassVar[Purpose]
    PURPOSE_THIRD_PARTY_SHARING: _ClassVar[Purpose]
    PURPOSE_CROSS_BORDER_TRANSFER: _ClassVar[Purpose]
    PURPOSE_SENSITIVE_DATA: _ClassVar[Purpose]

class ConsentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_STATUS_UNSPECIFIED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_GRANTED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_DENIED: _ClassVar[ConsentStatus]
    CONSENT_STATUS_WITHDRAWN: _ClassVar[ConsentStatus]

class LegalBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEGAL_BASIS_UNSPECIFIED: _ClassVar[LegalBasis]
    LEGAL_BASIS_CONSENT: _ClassVar[LegalBasis]
    LEGAL_BASIS_CONTRACT: _ClassVar[LegalBasis]
    LEGAL_BASIS_LEGAL_OBLIGATION: _ClassVar[LegalBasis]
    LEGAL_BASIS_VITAL_INTERESTS: _ClassVar[LegalBasis]
    LEGAL_BASIS_PUBLIC_INTEREST: _ClassVar[LegalBasis]
    LEGAL_BASIS_LEGITIMATE_INTERESTS: _ClassVar[LegalBasis]

class CaptureChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPTURE_CHANNEL_UNSPECIFIED: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_WEB: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_APP: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_MINI_PROGRAM: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_POS: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_CALL_CENTER: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_EMAIL: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_SMS: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_IMPORT: _ClassVar[CaptureChannel]
    CAPTURE_CHANNEL_API: _ClassVar[CaptureChannel]

class DecisionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_REASON_UNSPECIFIED: _ClassVar[DecisionReason]
    DECISION_REASON_EXPLICIT_GRANT: _ClassVar[DecisionReason]
    DECISION_REASON_EXPLICIT_DENIAL: _ClassVar[DecisionReason]
    DECISION_REASON_WITHDRAWN: _ClassVar[DecisionReason]
    DECISION_REASON_DEFAULT_GRANTED: _ClassVar[DecisionReason]
    DECISION_REASON_DEFAULT_DENIED: _ClassVar[DecisionReason]
    DECISION_REASON_MINOR_WITHOUT_GUARDIAN: _ClassVar[DecisionReason]
    DECISION_REASON_SUPPRESSED: _ClassVar[DecisionReason]
    DECISION_REASON_POLICY_OUTDATED: _ClassVar[DecisionReason]

class DataSubjectRequestKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_SUBJECT_REQUEST_KIND_UNSPECIFIED: _ClassVar[DataSubjectRequestKind]
    DATA_SUBJECT_REQUEST_KIND_EXPORT: _ClassVar[DataSubjectRequestKind]
    DATA_SUBJECT_REQUEST_KIND_ERASURE: _ClassVar[DataSubjectRequestKind]

class DataSubjectRequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_SUBJECT_REQUEST_STATE_UNSPECIFIED: _ClassVar[DataSubjectRequestState]
    DATA_SUBJECT_REQUEST_STATE_PENDING: _ClassVar[DataSubjectRequestState]
    DATA_SUBJECT_REQUEST_STATE_IN_PROGRESS: _ClassVar[DataSubjectRequestState]
    DATA_SUBJECT_REQUEST_STATE_COMPLETED: _ClassVar[DataSubjectRequestState]
    DATA_SUBJECT_REQUEST_STATE_NEEDS_ATTENTION: _ClassVar[DataSubjectRequestState]

class DataKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_KIND_UNSPECIFIED: _ClassVar[DataKind]
    DATA_KIND_RAW_EVENTS: _ClassVar[DataKind]
    DATA_KIND_INACTIVE_PROFILES: _ClassVar[DataKind]
    DATA_KIND_CONSENT_LEDGER: _ClassVar[DataKind]
    DATA_KIND_AUDIT_LOG: _ClassVar[DataKind]
    DATA_KIND_EXPORT_BUNDLES: _ClassVar[DataKind]
    DATA_KIND_SEGMENT_MEMBERSHIPS: _ClassVar[DataKind]
    DATA_KIND_TRAINING_DATA: _ClassVar[DataKind]
    DATA_KIND_CAMPAIGN_ASSIGNMENTS: _ClassVar[DataKind]
    DATA_KIND_FEED_ENTRIES: _ClassVar[DataKind]

class RetentionAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RETENTION_ACTION_UNSPECIFIED: _ClassVar[RetentionAction]
    RETENTION_ACTION_DELETE: _ClassVar[RetentionAction]
    RETENTION_ACTION_ANONYMIZE: _ClassVar[RetentionAction]

class AuditAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_ACTION_UNSPECIFIED: _ClassVar[AuditAction]
    AUDIT_ACTION_READ: _ClassVar[AuditAction]
    AUDIT_ACTION_EXPORT: _ClassVar[AuditAction]
    AUDIT_ACTION_ERASE: _ClassVar[AuditAction]
    AUDIT_ACTION_UPDATE: _ClassVar[AuditAction]

class ConsentChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_CHANGE_KIND_UNSPECIFIED: _ClassVar[ConsentChangeKind]
    CONSENT_CHANGE_KIND_RECORDED: _ClassVar[ConsentChangeKind]
    CONSENT_CHANGE_KIND_DEFAULTS_CHANGED: _ClassVar[ConsentChangeKind]
    CONSENT_CHANGE_KIND_MINOR_STATUS_CHANGED: _ClassVar[ConsentChangeKind]
    CONSENT_CHANGE_KIND_SUBJECT_SUPPRESSED: _ClassVar[ConsentChangeKind]
PURPOSE_UNSPECIFIED: Purpose
PURPOSE_ANALYTICS: Purpose
PURPOSE_PERSONALIZATION: Purpose
PURPOSE_MARKETING_EMAIL: Purpose
PURPOSE_MARKETING_SMS: Purpose
PURPOSE_MARKETING_PUSH: Purpose
PURPOSE_ADS_TARGETING: Purpose
PURPOSE_THIRD_PARTY_SHARING: Purpose
PURPOSE_CROSS_BORDER_TRANSFER: Purpose
PURPOSE_SENSITIVE_DATA: Purpose
CONSENT_STATUS_UNSPECIFIED: ConsentStatus
CONSENT_STATUS_GRANTED: ConsentStatus
CONSENT_STATUS_DENIED: ConsentStatus
CONSENT_STATUS_WITHDRAWN: ConsentStatus
LEGAL_BASIS_UNSPECIFIED: LegalBasis
LEGAL_BASIS_CONSENT: LegalBasis
LEGAL_BASIS_CONTRACT: LegalBasis
LEGAL_BASIS_LEGAL_OBLIGATION: LegalBasis
LEGAL_BASIS_VITAL_INTERESTS: LegalBasis
LEGAL_BASIS_PUBLIC_INTEREST: LegalBasis
LEGAL_BASIS_LEGITIMATE_INTERESTS: LegalBasis
CAPTURE_CHANNEL_UNSPECIFIED: CaptureChannel
CAPTURE_CHANNEL_WEB: CaptureChannel
CAPTURE_CHANNEL_APP: CaptureChannel
CAPTURE_CHANNEL_MINI_PROGRAM: CaptureChannel
CAPTURE_CHANNEL_POS: CaptureChannel
CAPTURE_CHANNEL_CALL_CENTER: CaptureChannel
CAPTURE_CHANNEL_EMAIL: CaptureChannel
CAPTURE_CHANNEL_SMS: CaptureChannel
CAPTURE_CHANNEL_IMPORT: CaptureChannel
CAPTURE_CHANNEL_API: CaptureChannel
DECISION_REASON_UNSPECIFIED: DecisionReason
DECISION_REASON_EXPLICIT_GRANT: DecisionReason
DECISION_REASON_EXPLICIT_DENIAL: DecisionReason
DECISION_REASON_WITHDRAWN: DecisionReason
DECISION_REASON_DEFAULT_GRANTED: DecisionReason
DECISION_REASON_DEFAULT_DENIED: DecisionReason
DECISION_REASON_MINOR_WITHOUT_GUARDIAN: DecisionReason
DECISION_REASON_SUPPRESSED: DecisionReason
DECISION_REASON_POLICY_OUTDATED: DecisionReason
DATA_SUBJECT_REQUEST_KIND_UNSPECIFIED: DataSubjectRequestKind
DATA_SUBJECT_REQUEST_KIND_EXPORT: DataSubjectRequestKind
DATA_SUBJECT_REQUEST_KIND_ERASURE: DataSubjectRequestKind
DATA_SUBJECT_REQUEST_STATE_UNSPECIFIED: DataSubjectRequestState
DATA_SUBJECT_REQUEST_STATE_PENDING: DataSubjectRequestState
DATA_SUBJECT_REQUEST_STATE_IN_PROGRESS: DataSubjectRequestState
DATA_SUBJECT_REQUEST_STATE_COMPLETED: DataSubjectRequestState
DATA_SUBJECT_REQUEST_STATE_NEEDS_ATTENTION: DataSubjectRequestState
DATA_KIND_UNSPECIFIED: DataKind
DATA_KIND_RAW_EVENTS: DataKind
DATA_KIND_INACTIVE_PROFILES: DataKind
DATA_KIND_CONSENT_LEDGER: DataKind
DATA_KIND_AUDIT_LOG: DataKind
DATA_KIND_EXPORT_BUNDLES: DataKind
DATA_KIND_SEGMENT_MEMBERSHIPS: DataKind
DATA_KIND_TRAINING_DATA: DataKind
DATA_KIND_CAMPAIGN_ASSIGNMENTS: DataKind
DATA_KIND_FEED_ENTRIES: DataKind
RETENTION_ACTION_UNSPECIFIED: RetentionAction
RETENTION_ACTION_DELETE: RetentionAction
RETENTION_ACTION_ANONYMIZE: RetentionAction
AUDIT_ACTION_UNSPECIFIED: AuditAction
AUDIT_ACTION_READ: AuditAction
AUDIT_ACTION_EXPORT: AuditAction
AUDIT_ACTION_ERASE: AuditAction
AUDIT_ACTION_UPDATE: AuditAction
CONSENT_CHANGE_KIND_UNSPECIFIED: ConsentChangeKind
CONSENT_CHANGE_KIND_RECORDED: ConsentChangeKind
CONSENT_CHANGE_KIND_DEFAULTS_CHANGED: ConsentChangeKind
CONSENT_CHANGE_KIND_MINOR_STATUS_CHANGED: ConsentChangeKind
CONSENT_CHANGE_KIND_SUBJECT_SUPPRESSED: ConsentChangeKind

class ConsentEntry(_message.Message):
    __slots__ = ("entry_id", "subject", "purpose", "status", "legal_basis", "policy_version", "source", "channel", "occurred_at", "recorded_at", "proof_reference", "jurisdiction", "guardian", "request_id")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    PROOF_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    entry_id: str
    subject: _privacy_pb2.DataSubject
    purpose: Purpose
    status: ConsentStatus
    legal_basis: LegalBasis
    policy_version: str
    source: str
    channel: CaptureChannel
    occurred_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    proof_reference: str
    jurisdiction: str
    guardian: _privacy_pb2.DataSubject
    request_id: str
    def __init__(self, entry_id: _Optional[str] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., purpose: _Optional[_Union[Purpose, str]] = ..., status: _Optional[_Union[ConsentStatus, str]] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., policy_version: _Optional[str] = ..., source: _Optional[str] = ..., channel: _Optional[_Union[CaptureChannel, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proof_reference: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., guardian: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PurposeChoice(_message.Message):
    __slots__ = ("purpose", "status")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    purpose: Purpose
    status: ConsentStatus
    def __init__(self, purpose: _Optional[_Union[Purpose, str]] = ..., status: _Optional[_Union[ConsentStatus, str]] = ...) -> None: ...

class PurposeState(_message.Message):
    __slots__ = ("purpose", "status", "allowed", "reason", "entry_id", "policy_version", "updated_at")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    purpose: Purpose
    status: ConsentStatus
    allowed: bool
    reason: DecisionReason
    entry_id: str
    policy_version: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, purpose: _Optional[_Union[Purpose, str]] = ..., status: _Optional[_Union[ConsentStatus, str]] = ..., allowed: _Optional[bool] = ..., reason: _Optional[_Union[DecisionReason, str]] = ..., entry_id: _Optional[str] = ..., policy_version: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordConsentRequest(_message.Message):
    __slots__ = ("request_id", "subject", "choices", "legal_basis", "policy_version", "source", "channel", "occurred_at", "proof_reference", "jurisdiction", "guardian")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PROOF_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject: _privacy_pb2.DataSubject
    choices: _containers.RepeatedCompositeFieldContainer[PurposeChoice]
    legal_basis: LegalBasis
    policy_version: str
    source: str
    channel: CaptureChannel
    occurred_at: _timestamp_pb2.Timestamp
    proof_reference: str
    jurisdiction: str
    guardian: _privacy_pb2.DataSubject
    def __init__(self, request_id: _Optional[str] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., choices: _Optional[_Iterable[_Union[PurposeChoice, _Mapping]]] = ..., legal_basis: _Optional[_Union[LegalBasis, str]] = ..., policy_version: _Optional[str] = ..., source: _Optional[str] = ..., channel: _Optional[_Union[CaptureChannel, str]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proof_reference: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., guardian: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ...) -> None: ...

class RecordConsentResponse(_message.Message):
    __slots__ = ("entries", "states")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ConsentEntry]
    states: _containers.RepeatedCompositeFieldContainer[PurposeState]
    def __init__(self, entries: _Optional[_Iterable[_Union[ConsentEntry, _Mapping]]] = ..., states: _Optional[_Iterable[_Union[PurposeState, _Mapping]]] = ...) -> None: ...

class GetConsentStateRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ...) -> None: ...

class GetConsentStateResponse(_message.Message):
    __slots__ = ("states", "jurisdiction", "is_minor", "suppressed")
    STATES_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    IS_MINOR_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedCompositeFieldContainer[PurposeState]
    jurisdiction: str
    is_minor: bool
    suppressed: bool
    def __init__(self, states: _Optional[_Iterable[_Union[PurposeState, _Mapping]]] = ..., jurisdiction: _Optional[str] = ..., is_minor: _Optional[bool] = ..., suppressed: _Optional[bool] = ...) -> None: ...

class CheckConsentRequest(_message.Message):
    __slots__ = ("subject", "purposes", "jurisdiction")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    purposes: _containers.RepeatedScalarFieldContainer[Purpose]
    jurisdiction: str
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., purposes: _Optional[_Iterable[_Union[Purpose, str]]] = ..., jurisdiction: _Optional[str] = ...) -> None: ...

class PurposeDecision(_message.Message):
    __slots__ = ("purpose", "allowed", "reason")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    purpose: Purpose
    allowed: bool
    reason: DecisionReason
    def __init__(self, purpose: _Optional[_Union[Purpose, str]] = ..., allowed: _Optional[bool] = ..., reason: _Optional[_Union[DecisionReason, str]] = ...) -> None: ...

class CheckConsentResponse(_message.Message):
    __slots__ = ("decisions", "profile_id")
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[PurposeDecision]
    profile_id: str
    def __init__(self, decisions: _Optional[_Iterable[_Union[PurposeDecision, _Mapping]]] = ..., profile_id: _Optional[str] = ...) -> None: ...

class ListConsentHistoryRequest(_message.Message):
    __slots__ = ("subject", "purposes", "page_size", "page_token")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PURPOSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    purposes: _containers.RepeatedScalarFieldContainer[Purpose]
    page_size: int
    page_token: str
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., purposes: _Optional[_Iterable[_Union[Purpose, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConsentHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ConsentEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[ConsentEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PurposeDefault(_message.Message):
    __slots__ = ("purpose", "status", "requires_separate_consent")
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_SEPARATE_CONSENT_FIELD_NUMBER: _ClassVar[int]
    purpose: Purpose
    status: ConsentStatus
    requires_separate_consent: bool
    def __init__(self, purpose: _Optional[_Union[Purpose, str]] = ..., status: _Optional[_Union[ConsentStatus, str]] = ..., requires_separate_consent: _Optional[bool] = ...) -> None: ...

class JurisdictionDefaults(_message.Message):
    __slots__ = ("jurisdiction", "defaults", "minor_age_threshold", "minimum_policy_version", "updated_at")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    MINOR_AGE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    defaults: _containers.RepeatedCompositeFieldContainer[PurposeDefault]
    minor_age_threshold: int
    minimum_policy_version: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, jurisdiction: _Optional[str] = ..., defaults: _Optional[_Iterable[_Union[PurposeDefault, _Mapping]]] = ..., minor_age_threshold: _Optional[int] = ..., minimum_policy_version: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetConsentDefaultsRequest(_message.Message):
    __slots__ = ("jurisdiction",)
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    def __init__(self, jurisdiction: _Optional[str] = ...) -> None: ...

class GetConsentDefaultsResponse(_message.Message):
    __slots__ = ("jurisdictions", "default_jurisdiction")
    JURISDICTIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    jurisdictions: _containers.RepeatedCompositeFieldContainer[JurisdictionDefaults]
    default_jurisdiction: str
    def __init__(self, jurisdictions: _Optional[_Iterable[_Union[JurisdictionDefaults, _Mapping]]] = ..., default_jurisdiction: _Optional[str] = ...) -> None: ...

class SetConsentDefaultsRequest(_message.Message):
    __slots__ = ("defaults", "make_default_jurisdiction")
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    MAKE_DEFAULT_JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    defaults: JurisdictionDefaults
    make_default_jurisdiction: bool
    def __init__(self, defaults: _Optional[_Union[JurisdictionDefaults, _Mapping]] = ..., make_default_jurisdiction: _Optional[bool] = ...) -> None: ...

class SetConsentDefaultsResponse(_message.Message):
    __slots__ = ("defaults",)
    DEFAULTS_FIELD_NUMBER: _ClassVar[int]
    defaults: JurisdictionDefaults
    def __init__(self, defaults: _Optional[_Union[JurisdictionDefaults, _Mapping]] = ...) -> None: ...

class MinorStatus(_message.Message):
    __slots__ = ("subject", "is_minor", "comes_of_age_at", "guardian", "verification_reference", "updated_at")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    IS_MINOR_FIELD_NUMBER: _ClassVar[int]
    COMES_OF_AGE_AT_FIELD_NUMBER: _ClassVar[int]
    GUARDIAN_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    is_minor: bool
    comes_of_age_at: _timestamp_pb2.Timestamp
    guardian: _privacy_pb2.DataSubject
    verification_reference: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., is_minor: _Optional[bool] = ..., comes_of_age_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., guardian: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., verification_reference: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetMinorStatusRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ...) -> None: ...

class GetMinorStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: MinorStatus
    def __init__(self, status: _Optional[_Union[MinorStatus, _Mapping]] = ...) -> None: ...

class SetMinorStatusRequest(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: MinorStatus
    def __init__(self, status: _Optional[_Union[MinorStatus, _Mapping]] = ...) -> None: ...

class SetMinorStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: MinorStatus
    def __init__(self, status: _Optional[_Union[MinorStatus, _Mapping]] = ...) -> None: ...

class ServiceTask(_message.Message):
    __slots__ = ("service", "state", "attempts", "last_error", "last_attempt_at", "next_attempt_at", "completed_at", "erased", "export_bytes")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    EXPORT_BYTES_FIELD_NUMBER: _ClassVar[int]
    service: str
    state: DataSubjectRequestState
    attempts: int
    last_error: str
    last_attempt_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    erased: _containers.RepeatedCompositeFieldContainer[_privacy_pb2.ErasedRows]
    export_bytes: int
    def __init__(self, service: _Optional[str] = ..., state: _Optional[_Union[DataSubjectRequestState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., last_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., erased: _Optional[_Iterable[_Union[_privacy_pb2.ErasedRows, _Mapping]]] = ..., export_bytes: _Optional[int] = ...) -> None: ...

class DataSubjectRequest(_message.Message):
    __slots__ = ("request_id", "kind", "subject", "state", "tasks", "note", "requested_by", "created_at", "due_at", "completed_at", "suppressed", "bundle_json")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_JSON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    kind: DataSubjectRequestKind
    subject: _privacy_pb2.DataSubject
    state: DataSubjectRequestState
    tasks: _containers.RepeatedCompositeFieldContainer[ServiceTask]
    note: str
    requested_by: str
    created_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    suppressed: bool
    bundle_json: bytes
    def __init__(self, request_id: _Optional[str] = ..., kind: _Optional[_Union[DataSubjectRequestKind, str]] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., state: _Optional[_Union[DataSubjectRequestState, str]] = ..., tasks: _Optional[_Iterable[_Union[ServiceTask, _Mapping]]] = ..., note: _Optional[str] = ..., requested_by: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., suppressed: _Optional[bool] = ..., bundle_json: _Optional[bytes] = ...) -> None: ...

class CreateExportRequestRequest(_message.Message):
    __slots__ = ("request_id", "subject", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject: _privacy_pb2.DataSubject
    note: str
    def __init__(self, request_id: _Optional[str] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CreateExportRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: DataSubjectRequest
    def __init__(self, request: _Optional[_Union[DataSubjectRequest, _Mapping]] = ...) -> None: ...

class CreateErasureRequestRequest(_message.Message):
    __slots__ = ("request_id", "subject", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    subject: _privacy_pb2.DataSubject
    note: str
    def __init__(self, request_id: _Optional[str] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...

class CreateErasureRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: DataSubjectRequest
    def __init__(self, request: _Optional[_Union[DataSubjectRequest, _Mapping]] = ...) -> None: ...

class GetDataSubjectRequestRequest(_message.Message):
    __slots__ = ("request_id", "include_bundle")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BUNDLE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    include_bundle: bool
    def __init__(self, request_id: _Optional[str] = ..., include_bundle: _Optional[bool] = ...) -> None: ...

class GetDataSubjectRequestResponse(_message.Message):
    __slots__ = ("request",)
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    request: DataSubjectRequest
    def __init__(self, request: _Optional[_Union[DataSubjectRequest, _Mapping]] = ...) -> None: ...

class ListDataSubjectRequestsRequest(_message.Message):
    __slots__ = ("kind", "state", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: DataSubjectRequestKind
    state: DataSubjectRequestState
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[DataSubjectRequestKind, str]] = ..., state: _Optional[_Union[DataSubjectRequestState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDataSubjectRequestsResponse(_message.Message):
    __slots__ = ("requests", "next_page_token")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[DataSubjectRequest]
    next_page_token: str
    def __init__(self, requests: _Optional[_Iterable[_Union[DataSubjectRequest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CheckSuppressionRequest(_message.Message):
    __slots__ = ("identifiers",)
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    identifiers: _containers.RepeatedCompositeFieldContainer[_types_pb2.Identifier]
    def __init__(self, identifiers: _Optional[_Iterable[_Union[_types_pb2.Identifier, _Mapping]]] = ...) -> None: ...

class CheckSuppressionResponse(_message.Message):
    __slots__ = ("suppressed",)
    SUPPRESSED_FIELD_NUMBER: _ClassVar[int]
    suppressed: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, suppressed: _Optional[_Iterable[bool]] = ...) -> None: ...

class RetentionPolicy(_message.Message):
    __slots__ = ("data_kind", "retention_days", "action", "is_default", "updated_at", "updated_by", "last_applied_at", "enforced_by")
    DATA_KIND_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    ENFORCED_BY_FIELD_NUMBER: _ClassVar[int]
    data_kind: DataKind
    retention_days: int
    action: RetentionAction
    is_default: bool
    updated_at: _timestamp_pb2.Timestamp
    updated_by: str
    last_applied_at: _timestamp_pb2.Timestamp
    enforced_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, data_kind: _Optional[_Union[DataKind, str]] = ..., retention_days: _Optional[int] = ..., action: _Optional[_Union[RetentionAction, str]] = ..., is_default: _Optional[bool] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_by: _Optional[str] = ..., last_applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enforced_by: _Optional[_Iterable[str]] = ...) -> None: ...

class GetRetentionPolicyRequest(_message.Message):
    __slots__ = ("data_kind",)
    DATA_KIND_FIELD_NUMBER: _ClassVar[int]
    data_kind: DataKind
    def __init__(self, data_kind: _Optional[_Union[DataKind, str]] = ...) -> None: ...

class GetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class ListRetentionPoliciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListRetentionPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[RetentionPolicy]
    def __init__(self, policies: _Optional[_Iterable[_Union[RetentionPolicy, _Mapping]]] = ...) -> None: ...

class SetRetentionPolicyRequest(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class SetRetentionPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: RetentionPolicy
    def __init__(self, policy: _Optional[_Union[RetentionPolicy, _Mapping]] = ...) -> None: ...

class ApplyRetentionPoliciesRequest(_message.Message):
    __slots__ = ("data_kind",)
    DATA_KIND_FIELD_NUMBER: _ClassVar[int]
    data_kind: DataKind
    def __init__(self, data_kind: _Optional[_Union[DataKind, str]] = ...) -> None: ...

class RetentionOutcome(_message.Message):
    __slots__ = ("data_kind", "service", "erased", "error")
    DATA_KIND_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    data_kind: DataKind
    service: str
    erased: _containers.RepeatedCompositeFieldContainer[_privacy_pb2.ErasedRows]
    error: str
    def __init__(self, data_kind: _Optional[_Union[DataKind, str]] = ..., service: _Optional[str] = ..., erased: _Optional[_Iterable[_Union[_privacy_pb2.ErasedRows, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class ApplyRetentionPoliciesResponse(_message.Message):
    __slots__ = ("outcomes", "applied_at")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[RetentionOutcome]
    applied_at: _timestamp_pb2.Timestamp
    def __init__(self, outcomes: _Optional[_Iterable[_Union[RetentionOutcome, _Mapping]]] = ..., applied_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("audit_event_id", "occurred_at", "principal", "api_key_id", "service", "operation", "action", "purpose", "subject", "resource", "record_count", "trace_id")
    AUDIT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    audit_event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    principal: str
    api_key_id: str
    service: str
    operation: str
    action: AuditAction
    purpose: str
    subject: _privacy_pb2.DataSubject
    resource: str
    record_count: int
    trace_id: str
    def __init__(self, audit_event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., principal: _Optional[str] = ..., api_key_id: _Optional[str] = ..., service: _Optional[str] = ..., operation: _Optional[str] = ..., action: _Optional[_Union[AuditAction, str]] = ..., purpose: _Optional[str] = ..., subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., resource: _Optional[str] = ..., record_count: _Optional[int] = ..., trace_id: _Optional[str] = ...) -> None: ...

class RecordAuditEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ...) -> None: ...

class RecordAuditEventsResponse(_message.Message):
    __slots__ = ("recorded", "duplicates")
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    recorded: int
    duplicates: int
    def __init__(self, recorded: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class QueryAuditLogRequest(_message.Message):
    __slots__ = ("subject", "principal", "api_key_id", "actions", "purpose", "start", "end", "page_size", "page_token")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subject: _privacy_pb2.DataSubject
    principal: str
    api_key_id: str
    actions: _containers.RepeatedScalarFieldContainer[AuditAction]
    purpose: str
    start: _timestamp_pb2.Timestamp
    end: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, subject: _Optional[_Union[_privacy_pb2.DataSubject, _Mapping]] = ..., principal: _Optional[str] = ..., api_key_id: _Optional[str] = ..., actions: _Optional[_Iterable[_Union[AuditAction, str]]] = ..., purpose: _Optional[str] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class QueryAuditLogResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConsentChange(_message.Message):
    __slots__ = ("kind", "profile_id", "identifiers", "purpose", "status", "previous_status", "allowed", "reason", "entry_id", "jurisdiction", "policy_version", "occurred_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: ConsentChangeKind
    profile_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[_types_pb2.Identifier]
    purpose: Purpose
    status: ConsentStatus
    previous_status: ConsentStatus
    allowed: bool
    reason: DecisionReason
    entry_id: str
    jurisdiction: str
    policy_version: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ConsentChangeKind, str]] = ..., profile_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[_types_pb2.Identifier, _Mapping]]] = ..., purpose: _Optional[_Union[Purpose, str]] = ..., status: _Optional[_Union[ConsentStatus, str]] = ..., previous_status: _Optional[_Union[ConsentStatus, str]] = ..., allowed: _Optional[bool] = ..., reason: _Optional[_Union[DecisionReason, str]] = ..., entry_id: _Optional[str] = ..., jurisdiction: _Optional[str] = ..., policy_version: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
