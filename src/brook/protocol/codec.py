"""The only module that calls kio: request decoding, response encoding, and version-independent bodies.

Handlers describe a response as plain nested dicts holding the union of every version's fields
(ints for durations and timestamps, ints for error codes). `build` turns such a dict into the kio
dataclass of the requested version: it drops fields that version lacks and fills the ones the dict
omits with the schema's defaults. So one handler serves every version in its advertised range.
"""

from __future__ import annotations

import datetime
import errno
import io
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import MISSING, fields, is_dataclass
from functools import cache
from typing import Any

from kio.index import UnknownEntity, load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.schema.index import api_key_map, schema_name_map
from kio.serial import entity_reader, entity_writer
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    is_optional,
)
from kio.static.constants import EntityType

from brook.common.files import DescriptorReserve
from brook.protocol.bounds import MAX_ELEMENTS, FrameBoundsError, Walker, check_bounds, compile_walker

__all__ = [
    "build",
    "decode_request_body",
    "decode_response_body",
    "encode_body",
    "FrameBoundsError",
    "is_flexible_request",
    "hold_descriptor_for_imports",
    "request_class",
    "request_class_name",
    "response_class",
    "to_ms",
]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ZERO_UUID = uuid.UUID(int=0)


@cache
def request_class(api_key: int, version: int) -> Any:
    return _load(load_request_schema, api_key, version)


@cache
def response_class(api_key: int, version: int) -> Any:
    return _load(load_response_schema, api_key, version)


def request_class_name(api_key: int, version: int) -> str:
    """The kio request class's name ("ProduceRequest"), from kio's index: no schema is imported."""
    path: str = schema_name_map[api_key_map[api_key]][version][EntityType.request]
    return path.rpartition(":")[2]


# A schema's classes are imported on first use: importing all ~400 request and response modules at start cost a
# broker 1.2-1.4 s of CPU (dataclass creation), most of them versions no client of it ever sends. An import opens
# files, so under descriptor exhaustion (EMFILE) a first request of a kind would fail and close that client's
# connection; a broker therefore holds one descriptor back for imports (hold_descriptor_for_imports), and an
# import that runs out of descriptors is tried once more in that descriptor's slot.
_import_reserve: DescriptorReserve | None = None


def hold_descriptor_for_imports() -> None:
    """Keep one descriptor back so that a schema's first import succeeds when the process is out of them."""
    global _import_reserve
    if _import_reserve is None:
        _import_reserve = DescriptorReserve()


def _load(loader: Callable[[int, int], Any], api_key: int, version: int) -> Any:
    try:
        return loader(api_key, version)
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE) or _import_reserve is None:
            raise
        reserve = _import_reserve
    # the import opens one file at a time (a package's directory, then a module), so one free slot is enough
    return reserve.run(lambda: loader(api_key, version))


@cache
def is_flexible_request(api_key: int, version: int) -> bool:
    try:
        return bool(request_class(api_key, version).__flexible__)
    except UnknownEntity:
        return False  # a version kio lacks is an old one (protocol/legacy.py): no flexible version is old


@cache
def _reader(cls: Any) -> Callable[[Any, int], tuple[Any, int]]:
    return entity_reader(cls)


@cache
def _writer(cls: Any) -> Callable[[Any, Any], None]:
    return entity_writer(cls)


def decode_request_body(
    api_key: int, version: int, buf: bytes | memoryview, offset: int, max_elements: int = MAX_ELEMENTS
) -> Any:
    """Decode a request body; raises on malformed bytes (the caller turns that into a closed connection).

    Every length and count is checked against the bytes that remain before kio reads anything
    (protocol/bounds.py): kio would otherwise reserve memory for whatever count the peer announces.
    Bytes after the body are ignored, as Kafka's own parser does: librdkafka 2.x sends Metadata v11
    with a field v11 no longer has, and Kafka answers it.
    """
    cls = request_class(api_key, version)
    check_bounds(_walker(cls), buf, offset, max_elements)
    return _read(cls, buf, offset)


def decode_response_body(api_key: int, version: int, buf: bytes | memoryview, offset: int) -> Any:
    """Decode a response body (brook as a client: the CLI, replica fetchers, tests), bounds-checked too
    (a response may hold as many elements as it has bytes: brook asked for it)."""
    cls = response_class(api_key, version)
    check_bounds(_walker(cls), buf, offset, len(buf))
    return _read(cls, buf, offset)


class DecodePanic(ValueError):
    """kio's native reader panicked (pyo3 raises a BaseException for that): treated as malformed bytes."""


def _read(cls: Any, buf: bytes | memoryview, offset: int) -> Any:
    try:
        body, _size = _reader(cls)(buf, offset)
    except Exception:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        raise DecodePanic(f"schema reader panicked: {exc!r}") from exc
    return body


@cache
def _walker(cls: Any) -> Walker:
    return compile_walker(layout(cls))


_FIXED_SIZES: Mapping[str, int] = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "error_code": 2,
    "int32": 4,
    "uint32": 4,
    "timedelta_i32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
    "timedelta_i64": 8,
    "datetime_i64": 8,
    "uuid": 16,
}


def _primitive_layout(kafka_type: str, nullable: bool = False) -> tuple[Any, ...]:
    if kafka_type in _FIXED_SIZES:
        return ("fixed", _FIXED_SIZES[kafka_type])
    if kafka_type == "string":
        return ("string", nullable)
    if kafka_type in ("bytes", "records"):
        return ("bytes", nullable)
    raise ValueError(f"no layout for kafka_type {kafka_type!r}")


def layout(cls: Any, nullable: bool = False) -> tuple[Any, ...]:
    """A kio entity class as the plain layout tuples protocol/bounds.py walks (kio's reading rules)."""
    plain: list[tuple[Any, ...]] = []
    tagged: dict[int, tuple[Any, ...]] = {}
    for f in fields(cls):
        klass = classify_field(f)
        if isinstance(klass, EntityTupleField):
            field_layout: tuple[Any, ...] = ("array", layout(klass.type_), is_optional(f))
        elif isinstance(klass, EntityField):
            field_layout = layout(klass.type_, nullable=is_optional(f))
        elif isinstance(klass, PrimitiveTupleField):
            field_layout = ("array", _primitive_layout(f.metadata["kafka_type"]), is_optional(f))
        else:
            field_layout = _primitive_layout(f.metadata["kafka_type"], is_optional(f))
        tag = get_field_tag(f)
        if tag is None:
            plain.append(field_layout)
        else:
            tagged[int(tag)] = field_layout
    return ("struct", bool(cls.__flexible__), nullable, tuple(plain), tagged)


def encode_body(entity: Any) -> bytes:
    buffer = io.BytesIO()
    entity_class: Any = type(entity)
    _writer(entity_class)(buffer, entity)
    return buffer.getvalue()


def to_ms(value: Any) -> int:
    """A kio duration or timestamp field as integer milliseconds."""
    if isinstance(value, datetime.timedelta):
        return round(value.total_seconds() * 1000)
    if isinstance(value, datetime.datetime):
        return round((value - _EPOCH).total_seconds() * 1000)
    if value is None:
        return -1
    return int(value)


# --- dict -> kio entity ------------------------------------------------------------------------

_FieldPlan = tuple[str, str, Any, Any, bool]  # name, kind, nested class or kafka_type, default, optional


@cache
def _plan(cls: Any) -> tuple[_FieldPlan, ...]:
    plan: list[_FieldPlan] = []
    for f in fields(cls):
        kafka_type = f.metadata.get("kafka_type")
        if f.default is not MISSING:
            default: Any = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        optional = "None" in str(f.type)
        klass = classify_field(f)
        if isinstance(klass, EntityTupleField):
            plan.append((f.name, "entities", klass.type_, default, optional))
        elif isinstance(klass, EntityField):
            plan.append((f.name, "entity", klass.type_, default, optional))
        elif isinstance(klass, PrimitiveTupleField):
            plan.append((f.name, "values", kafka_type, default, optional))
        else:
            plan.append((f.name, "value", kafka_type, default, optional))
    return tuple(plan)


_ZERO_BY_TYPE: Mapping[str, Any] = {
    "bool": False,
    "bytes": b"",
    "error_code": ErrorCode.none,
    "float64": 0.0,
    "int8": 0,
    "int16": 0,
    "int32": 0,
    "int64": 0,
    "uint16": 0,
    "string": "",
    "uuid": _ZERO_UUID,
    "records": None,
    "timedelta_i32": datetime.timedelta(0),
    "timedelta_i64": datetime.timedelta(0),
    "datetime_i64": _EPOCH,  # a non-nullable timestamp left out is 0 (None cannot be encoded)
}


def _convert(kafka_type: str, value: Any) -> Any:
    if value is None:
        return None
    if kafka_type == "error_code":
        return ErrorCode(int(value))
    if kafka_type in ("timedelta_i32", "timedelta_i64") and not isinstance(value, datetime.timedelta):
        return datetime.timedelta(milliseconds=int(value))
    if kafka_type == "datetime_i64" and not isinstance(value, datetime.datetime):
        # -1 (Kafka's "no timestamp") stays -1 on the wire: the datetime 1 ms before the epoch, which kio
        # writes as -1 in a nullable field and a non-nullable one alike (None would crash the latter)
        return _EPOCH + datetime.timedelta(milliseconds=int(value))
    if kafka_type == "uuid" and not isinstance(value, uuid.UUID):
        return uuid.UUID(bytes=value) if isinstance(value, bytes) else uuid.UUID(str(value))
    return value


def build(cls: Any, data: Mapping[str, Any]) -> Any:
    """Make a kio entity of class `cls` from a version-independent dict (see module docstring)."""
    kwargs: dict[str, Any] = {}
    for name, kind, spec, default, optional in _plan(cls):
        if name in data:
            value = data[name]
            if kind == "entities":
                value = None if value is None else tuple(build(spec, item) for item in value)
            elif kind == "entity":
                value = None if value is None else build(spec, value)
            elif kind == "values":
                value = None if value is None else tuple(_convert(spec, v) for v in value)
            else:
                value = _convert(spec, value)
        elif default is not MISSING:
            continue
        elif kind in ("entities", "values"):
            value = ()
        elif kind == "entity":
            value = None if optional else build(spec, {})
        else:
            value = None if optional else _ZERO_BY_TYPE.get(spec, 0)
        kwargs[name] = value
    return cls(**kwargs)


def as_dict(entity: Any) -> Any:
    """A kio entity as nested dicts (for tests and tools)."""
    if is_dataclass(entity):
        return {f.name: as_dict(getattr(entity, f.name)) for f in fields(entity)}
    if isinstance(entity, tuple):
        return [as_dict(v) for v in entity]
    return entity


_INT32 = struct.Struct(">i")
