import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from precis.common.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataSubject(_message.Message):
    __slots__ = ("identifiers", "profile_id")
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    identifiers: _containers.RepeatedCompositeFieldContainer[_types_pb2.Identifier]
    profile_id: str
    def __init__(self, identifiers: _Optional[_Iterable[_Union[_types_pb2.Identifier, _Mapping]]] = ..., profile_id: _Optional[str] = ...) -> None: ...

class ExportSubjectRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: DataSubject
    def __init__(self, subject: _Optional[_Union[DataSubject, _Mapping]] = ...) -> None: ...

class ExportSubjectResponse(_message.Message):
    __slots__ = ("service", "bundle_json")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_JSON_FIELD_NUMBER: _ClassVar[int]
    service: str
    bundle_json: bytes
    def __init__(self, service: _Optional[str] = ..., bundle_json: _Optional[bytes] = ...) -> None: ...

class EraseSubjectRequest(_message.Message):
    __slots__ = ("subject",)
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    subject: DataSubject
    def __init__(self, subject: _Optional[_Union[DataSubject, _Mapping]] = ...) -> None: ...

class ErasedRows(_message.Message):
    __slots__ = ("table", "rows")
    TABLE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    table: str
    rows: int
    def __init__(self, table: _Optional[str] = ..., rows: _Optional[int] = ...) -> None: ...

class EraseSubjectResponse(_message.Message):
    __slots__ = ("service", "erased", "erased_at")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    service: str
    erased: _containers.RepeatedCompositeFieldContainer[ErasedRows]
    erased_at: _timestamp_pb2.Timestamp
    def __init__(self, service: _Optional[str] = ..., erased: _Optional[_Iterable[_Union[ErasedRows, _Mapping]]] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RetentionCutoff(_message.Message):
    __slots__ = ("workspace_id", "cutoff")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    cutoff: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., cutoff: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApplyRetentionRequest(_message.Message):
    __slots__ = ("data_kind", "default_cutoff", "workspaces", "max_rows")
    DATA_KIND_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CUTOFF_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    data_kind: str
    default_cutoff: _timestamp_pb2.Timestamp
    workspaces: _containers.RepeatedCompositeFieldContainer[RetentionCutoff]
    max_rows: int
    def __init__(self, data_kind: _Optional[str] = ..., default_cutoff: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., workspaces: _Optional[_Iterable[_Union[RetentionCutoff, _Mapping]]] = ..., max_rows: _Optional[int] = ...) -> None: ...

class ApplyRetentionResponse(_message.Message):
    __slots__ = ("service", "erased", "more", "held")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    service: str
    erased: _containers.RepeatedCompositeFieldContainer[ErasedRows]
    more: bool
    held: bool
    def __init__(self, service: _Optional[str] = ..., erased: _Optional[_Iterable[_Union[ErasedRows, _Mapping]]] = ..., more: _Optional[bool] = ..., held: _Optional[bool] = ...) -> None: ...
