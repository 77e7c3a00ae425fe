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

class ProfileChangeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROFILE_CHANGE_KIND_UNSPECIFIED: _ClassVar[ProfileChangeKind]
    PROFILE_CHANGE_KIND_UPSERTED: _ClassVar[ProfileChangeKind]
    PROFILE_CHANGE_KIND_MERGED: _ClassVar[ProfileChangeKind]
    PROFILE_CHANGE_KIND_SPLIT: _ClassVar[ProfileChangeKind]
    PROFILE_CHANGE_KIND_DELETED: _ClassVar[ProfileChangeKind]

class TagKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TAG_KIND_UNSPECIFIED: _ClassVar[TagKind]
    TAG_KIND_MANUAL: _ClassVar[TagKind]
    TAG_KIND_RULE: _ClassVar[TagKind]
PROFILE_CHANGE_KIND_UNSPECIFIED: ProfileChangeKind
PROFILE_CHANGE_KIND_UPSERTED: ProfileChangeKind
PROFILE_CHANGE_KIND_MERGED: ProfileChangeKind
PROFILE_CHANGE_KIND_SPLIT: ProfileChangeKind
PROFILE_CHANGE_KIND_DELETED: ProfileChangeKind
TAG_KIND_UNSPECIFIED: TagKind
TAG_KIND_MANUAL: TagKind
TAG_KIND_RULE: TagKind

class LinkedIdentifier(_message.Message):
    __slots__ = ("identifier", "source_message_id", "linked_at")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    LINKED_AT_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    source_message_id: str
    linked_at: _timestamp_pb2.Timestamp
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., source_message_id: _Optional[str] = ..., linked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("profile_id", "identifiers", "traits_json", "computed_traits_json", "event_count", "event_counts", "first_seen", "last_seen", "tags", "merged_profile_ids", "trait_values")
    class EventCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNTS_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    MERGED_PROFILE_IDS_FIELD_NUMBER: _ClassVar[int]
    TRAIT_VALUES_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    identifiers: _containers.RepeatedCompositeFieldContainer[LinkedIdentifier]
    traits_json: bytes
    computed_traits_json: bytes
    event_count: int
    event_counts: _containers.ScalarMap[str, int]
    first_seen: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    tags: _containers.RepeatedScalarFieldContainer[str]
    merged_profile_ids: _containers.RepeatedScalarFieldContainer[str]
    trait_values: _containers.RepeatedCompositeFieldContainer[TraitValue]
    def __init__(self, profile_id: _Optional[str] = ..., identifiers: _Optional[_Iterable[_Union[LinkedIdentifier, _Mapping]]] = ..., traits_json: _Optional[bytes] = ..., computed_traits_json: _Optional[bytes] = ..., event_count: _Optional[int] = ..., event_counts: _Optional[_Mapping[str, int]] = ..., first_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Iterable[str]] = ..., merged_profile_ids: _Optional[_Iterable[str]] = ..., trait_values: _Optional[_Iterable[_Union[TraitValue, _Mapping]]] = ...) -> None: ...

class TraitValue(_message.Message):
    __slots__ = ("name", "value_json", "type", "updated_at", "source", "source_message_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    value_json: bytes
    type: str
    updated_at: _timestamp_pb2.Timestamp
    source: str
    source_message_id: str
    def __init__(self, name: _Optional[str] = ..., value_json: _Optional[bytes] = ..., type: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., source_message_id: _Optional[str] = ...) -> None: ...

class ProfileChange(_message.Message):
    __slots__ = ("kind", "profile_id", "other_profile_ids", "source_message_id", "occurred_at", "state", "events", "reassigned_message_ids")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_PROFILE_IDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    REASSIGNED_MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    kind: ProfileChangeKind
    profile_id: str
    other_profile_ids: _containers.RepeatedScalarFieldContainer[str]
    source_message_id: str
    occurred_at: _timestamp_pb2.Timestamp
    state: ProfileState
    events: _containers.RepeatedCompositeFieldContainer[ProfileEvent]
    reassigned_message_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[ProfileChangeKind, str]] = ..., profile_id: _Optional[str] = ..., other_profile_ids: _Optional[_Iterable[str]] = ..., source_message_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[ProfileState, _Mapping]] = ..., events: _Optional[_Iterable[_Union[ProfileEvent, _Mapping]]] = ..., reassigned_message_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ProfileState(_message.Message):
    __slots__ = ("traits_json", "computed_traits_json", "tags", "identifiers")
    TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    traits_json: bytes
    computed_traits_json: bytes
    tags: _containers.RepeatedScalarFieldContainer[str]
    identifiers: _containers.RepeatedCompositeFieldContainer[_types_pb2.Identifier]
    def __init__(self, traits_json: _Optional[bytes] = ..., computed_traits_json: _Optional[bytes] = ..., tags: _Optional[_Iterable[str]] = ..., identifiers: _Optional[_Iterable[_Union[_types_pb2.Identifier, _Mapping]]] = ...) -> None: ...

class ProfileEvent(_message.Message):
    __slots__ = ("message_id", "type", "event", "timestamp", "properties_json")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_JSON_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    type: str
    event: str
    timestamp: _timestamp_pb2.Timestamp
    properties_json: bytes
    def __init__(self, message_id: _Optional[str] = ..., type: _Optional[str] = ..., event: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties_json: _Optional[bytes] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("identifier",)
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class ListProfilesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProfilesResponse(_message.Message):
    __slots__ = ("profiles", "next_page_token", "total_count")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    next_page_token: str
    total_count: int
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_count: _Optional[int] = ...) -> None: ...

class TimelineEvent(_message.Message):
    __slots__ = ("message_id", "type", "event", "timestamp", "properties_json")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_JSON_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    type: str
    event: str
    timestamp: _timestamp_pb2.Timestamp
    properties_json: bytes
    def __init__(self, message_id: _Optional[str] = ..., type: _Optional[str] = ..., event: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties_json: _Optional[bytes] = ...) -> None: ...

class GetTimelineRequest(_message.Message):
    __slots__ = ("identifier", "page_size", "page_token")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    page_size: int
    page_token: str
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetTimelineResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[TimelineEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[TimelineEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MergeRecord(_message.Message):
    __slots__ = ("merge_id", "action", "profile_id", "other_profile_id", "identifier", "source_message_id", "rule", "occurred_at")
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    merge_id: str
    action: str
    profile_id: str
    other_profile_id: str
    identifier: _types_pb2.Identifier
    source_message_id: str
    rule: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, merge_id: _Optional[str] = ..., action: _Optional[str] = ..., profile_id: _Optional[str] = ..., other_profile_id: _Optional[str] = ..., identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., source_message_id: _Optional[str] = ..., rule: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetMergeHistoryRequest(_message.Message):
    __slots__ = ("identifier",)
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ...) -> None: ...

class GetMergeHistoryResponse(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[MergeRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[MergeRecord, _Mapping]]] = ...) -> None: ...

class UnmergeRequest(_message.Message):
    __slots__ = ("profile_id", "identifier", "merge_id")
    PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    MERGE_ID_FIELD_NUMBER: _ClassVar[int]
    profile_id: str
    identifier: _types_pb2.Identifier
    merge_id: str
    def __init__(self, profile_id: _Optional[str] = ..., identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., merge_id: _Optional[str] = ...) -> None: ...

class UnmergeResponse(_message.Message):
    __slots__ = ("profiles",)
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ...) -> None: ...

class MergeRule(_message.Message):
    __slots__ = ("type", "namespace", "may_merge", "max_per_profile", "blocked_values", "priority")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    MAY_MERGE_FIELD_NUMBER: _ClassVar[int]
    MAX_PER_PROFILE_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_VALUES_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    type: _types_pb2.IdentifierType
    namespace: str
    may_merge: bool
    max_per_profile: int
    blocked_values: _containers.RepeatedScalarFieldContainer[str]
    priority: int
    def __init__(self, type: _Optional[_Union[_types_pb2.IdentifierType, str]] = ..., namespace: _Optional[str] = ..., may_merge: _Optional[bool] = ..., max_per_profile: _Optional[int] = ..., blocked_values: _Optional[_Iterable[str]] = ..., priority: _Optional[int] = ...) -> None: ...

class MergeRules(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[MergeRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[MergeRule, _Mapping]]] = ...) -> None: ...

class GetMergeRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetMergeRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: MergeRules
    def __init__(self, rules: _Optional[_Union[MergeRules, _Mapping]] = ...) -> None: ...

class SetMergeRulesRequest(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: MergeRules
    def __init__(self, rules: _Optional[_Union[MergeRules, _Mapping]] = ...) -> None: ...

class SetMergeRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: MergeRules
    def __init__(self, rules: _Optional[_Union[MergeRules, _Mapping]] = ...) -> None: ...

class DryRunMergeRulesRequest(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: MergeRules
    def __init__(self, rules: _Optional[_Union[MergeRules, _Mapping]] = ...) -> None: ...

class DryRunMergeRulesResponse(_message.Message):
    __slots__ = ("profiles_merged", "profiles_split", "profiles_unchanged", "profiles_before", "profiles_after", "events_evaluated")
    PROFILES_MERGED_FIELD_NUMBER: _ClassVar[int]
    PROFILES_SPLIT_FIELD_NUMBER: _ClassVar[int]
    PROFILES_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    PROFILES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PROFILES_AFTER_FIELD_NUMBER: _ClassVar[int]
    EVENTS_EVALUATED_FIELD_NUMBER: _ClassVar[int]
    profiles_merged: int
    profiles_split: int
    profiles_unchanged: int
    profiles_before: int
    profiles_after: int
    events_evaluated: int
    def __init__(self, profiles_merged: _Optional[int] = ..., profiles_split: _Optional[int] = ..., profiles_unchanged: _Optional[int] = ..., profiles_before: _Optional[int] = ..., profiles_after: _Optional[int] = ..., events_evaluated: _Optional[int] = ...) -> None: ...

class SetTagRequest(_message.Message):
    __slots__ = ("identifier", "tag", "present")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    PRESENT_FIELD_NUMBER: _ClassVar[int]
    identifier: _types_pb2.Identifier
    tag: str
    present: bool
    def __init__(self, identifier: _Optional[_Union[_types_pb2.Identifier, _Mapping]] = ..., tag: _Optional[str] = ..., present: _Optional[bool] = ...) -> None: ...

class SetTagResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class ListProfilesByTagRequest(_message.Message):
    __slots__ = ("tag", "page_size", "page_token")
    TAG_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tag: str
    page_size: int
    page_token: str
    def __init__(self, tag: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProfilesByTagResponse(_message.Message):
    __slots__ = ("profiles", "next_page_token")
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    profiles: _containers.RepeatedCompositeFieldContainer[Profile]
    next_page_token: str
    def __init__(self, profiles: _Optional[_Iterable[_Union[Profile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RefreshRfmRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RefreshRfmResponse(_message.Message):
    __slots__ = ("as_of", "population", "cell_sizes", "breaks_json", "clv_models_json")
    class CellSizesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    CELL_SIZES_FIELD_NUMBER: _ClassVar[int]
    BREAKS_JSON_FIELD_NUMBER: _ClassVar[int]
    CLV_MODELS_JSON_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    population: int
    cell_sizes: _containers.ScalarMap[str, int]
    breaks_json: bytes
    clv_models_json: bytes
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., population: _Optional[int] = ..., cell_sizes: _Optional[_Mapping[str, int]] = ..., breaks_json: _Optional[bytes] = ..., clv_models_json: _Optional[bytes] = ...) -> None: ...

class TagDefinition(_message.Message):
    __slots__ = ("tag", "kind", "rule_json", "description", "profile_count", "updated_at")
    TAG_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROFILE_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    tag: str
    kind: TagKind
    rule_json: bytes
    description: str
    profile_count: int
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, tag: _Optional[str] = ..., kind: _Optional[_Union[TagKind, str]] = ..., rule_json: _Optional[bytes] = ..., description: _Optional[str] = ..., profile_count: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutTagDefinitionRequest(_message.Message):
    __slots__ = ("definition",)
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: TagDefinition
    def __init__(self, definition: _Optional[_Union[TagDefinition, _Mapping]] = ...) -> None: ...

class PutTagDefinitionResponse(_message.Message):
    __slots__ = ("definition",)
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    definition: TagDefinition
    def __init__(self, definition: _Optional[_Union[TagDefinition, _Mapping]] = ...) -> None: ...

class ListTagDefinitionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTagDefinitionsResponse(_message.Message):
    __slots__ = ("definitions",)
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    definitions: _containers.RepeatedCompositeFieldContainer[TagDefinition]
    def __init__(self, definitions: _Optional[_Iterable[_Union[TagDefinition, _Mapping]]] = ...) -> None: ...

class DeleteTagDefinitionRequest(_message.Message):
    __slots__ = ("tag",)
    TAG_FIELD_NUMBER: _ClassVar[int]
    tag: str
    def __init__(self, tag: _Optional[str] = ...) -> None: ...

class DeleteTagDefinitionResponse(_message.Message):
    __slots__ = ("profiles_untagged",)
    PROFILES_UNTAGGED_FIELD_NUMBER: _ClassVar[int]
    profiles_untagged: int
    def __init__(self, profiles_untagged: _Optional[int] = ...) -> None: ...

class GetLifeStageRuleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetLifeStageRuleResponse(_message.Message):
    __slots__ = ("rule_json", "is_default")
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    rule_json: bytes
    is_default: bool
    def __init__(self, rule_json: _Optional[bytes] = ..., is_default: _Optional[bool] = ...) -> None: ...

class SetLifeStageRuleRequest(_message.Message):
    __slots__ = ("rule_json",)
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    rule_json: bytes
    def __init__(self, rule_json: _Optional[bytes] = ...) -> None: ...

class SetLifeStageRuleResponse(_message.Message):
    __slots__ = ("rule_json", "is_default")
    RULE_JSON_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    rule_json: bytes
    is_default: bool
    def __init__(self, rule_json: _Optional[bytes] = ..., is_default: _Optional[bool] = ...) -> None: ...
