import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReadFeedRequest(_message.Message):
    __slots__ = ("feed", "after_seq", "max_entries", "wait_ms")
    FEED_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    MAX_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    feed: str
    after_seq: int
    max_entries: int
    wait_ms: int
    def __init__(self, feed: _Optional[str] = ..., after_seq: _Optional[int] = ..., max_entries: _Optional[int] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class ReadFeedResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[FeedEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[FeedEntry, _Mapping]]] = ...) -> None: ...

class FeedEntry(_message.Message):
    __slots__ = ("seq", "workspace_id", "kind", "payload", "created_at", "traceparent")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    workspace_id: str
    kind: str
    payload: bytes
    created_at: _timestamp_pb2.Timestamp
    traceparent: str
    def __init__(self, seq: _Optional[int] = ..., workspace_id: _Optional[str] = ..., kind: _Optional[str] = ..., payload: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...
