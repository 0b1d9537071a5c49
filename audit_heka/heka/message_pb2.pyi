from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Field(_message.Message):
    __slots__ = ["name", "representation", "value_bool", "value_bytes", "value_double", "value_integer", "value_string", "value_type"]
    class ValueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    BOOL: Field.ValueType
    BYTES: Field.ValueType
    DOUBLE: Field.ValueType
    INTEGER: Field.ValueType
    NAME_FIELD_NUMBER: _ClassVar[int]
    REPRESENTATION_FIELD_NUMBER: _ClassVar[int]
    STRING: Field.ValueType
    VALUE_BOOL_FIELD_NUMBER: _ClassVar[int]
    VALUE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VALUE_DOUBLE_FIELD_NUMBER: _ClassVar[int]
    VALUE_INTEGER_FIELD_NUMBER: _ClassVar[int]
    VALUE_STRING_FIELD_NUMBER: _ClassVar[int]
    VALUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    representation: str
    value_bool: _containers.RepeatedScalarFieldContainer[bool]
    value_bytes: _containers.RepeatedScalarFieldContainer[bytes]
    value_double: _containers.RepeatedScalarFieldContainer[float]
    value_integer: _containers.RepeatedScalarFieldContainer[int]
    value_string: _containers.RepeatedScalarFieldContainer[str]
    value_type: Field.ValueType
    def __init__(self, name: _Optional[str] = ..., value_type: _Optional[_Union[Field.ValueType, str]] = ..., representation: _Optional[str] = ..., value_string: _Optional[_Iterable[str]] = ..., value_bytes: _Optional[_Iterable[bytes]] = ..., value_integer: _Optional[_Iterable[int]] = ..., value_double: _Optional[_Iterable[float]] = ..., value_bool: _Optional[_Iterable[bool]] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ["hmac", "hmac_hash_function", "hmac_key_version", "hmac_signer", "message_length"]
    class HmacHashFunction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    HMAC_FIELD_NUMBER: _ClassVar[int]
    HMAC_HASH_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    HMAC_KEY_VERSION_FIELD_NUMBER: _ClassVar[int]
    HMAC_SIGNER_FIELD_NUMBER: _ClassVar[int]
    MD5: Header.HmacHashFunction
    MESSAGE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    SHA1: Header.HmacHashFunction
    hmac: bytes
    hmac_hash_function: Header.HmacHashFunction
    hmac_key_version: int
    hmac_signer: str
    message_length: int
    def __init__(self, message_length: _Optional[int] = ..., hmac_hash_function: _Optional[_Union[Header.HmacHashFunction, str]] = ..., hmac_signer: _Optional[str] = ..., hmac_key_version: _Optional[int] = ..., hmac: _Optional[bytes] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ["env_version", "fields", "hostname", "logger", "payload", "pid", "severity", "timestamp", "type", "uuid"]
    ENV_VERSION_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    env_version: str
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    hostname: str
    logger: str
    payload: str
    pid: int
    severity: int
    timestamp: int
    type: str
    uuid: bytes
    def __init__(self, uuid: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., type: _Optional[str] = ..., logger: _Optional[str] = ..., severity: _Optional[int] = ..., payload: _Optional[str] = ..., env_version: _Optional[str] = ..., pid: _Optional[int] = ..., hostname: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ...) -> None: ...
