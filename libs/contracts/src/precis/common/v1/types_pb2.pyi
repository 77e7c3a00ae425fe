from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IdentifierType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTIFIER_TYPE_UNSPECIFIED: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_USER_ID: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_ANONYMOUS_ID: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_EMAIL: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_PHONE: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_DEVICE_ID: _ClassVar[IdentifierType]
    IDENTIFIER_TYPE_EXTERNAL: _ClassVar[IdentifierType]
IDENTIFIER_TYPE_UNSPECIFIED: IdentifierType
IDENTIFIER_TYPE_USER_ID: IdentifierType
IDENTIFIER_TYPE_ANONYMOUS_ID: IdentifierType
IDENTIFIER_TYPE_EMAIL: IdentifierType
IDENTIFIER_TYPE_PHONE: IdentifierType
IDENTIFIER_TYPE_DEVICE_ID: IdentifierType
IDENTIFIER_TYPE_EXTERNAL: IdentifierType

class Identifier(_message.Message):
    __slots__ = ("type", "value", "namespace")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    type: IdentifierType
    value: str
    namespace: str
    def __init__(self, type: _Optional[_Union[IdentifierType, str]] = ..., value: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
