"""The wire form of what services take and return: type-tagged JSON, versioned.

Only plain values and the types defined in `alko_desk.models` travel: dataclasses,
enums and domain errors (`AlkoError` subclasses). The allow-list is built by
walking that package, so a model added later travels without glue; a name that is
not on it is refused when decoding. Nothing is imported by name from the wire and
nothing is unpickled.

Shapes (every JSON object on the wire is tagged with "$"):

    None, bool, int, float, str         as JSON
    list                                a JSON array
    tuple / frozenset / set             {"$": "tuple"|"frozenset"|"set", "v": [...]}
    dict with str keys                  {"$": "dict", "v": {key: value}}
    dict with other keys                {"$": "map", "v": [[key, value], ...]}
    bytes                               {"$": "bytes", "v": base64}
    Decimal                             {"$": "dec", "v": "12.50"}
    datetime (timezone-aware only)      {"$": "dt", "v": ISO 8601 with offset}
    date                                {"$": "date", "v": "2026-11-25"}
    enum member                         {"$": "enum", "t": "users.Role", "v": value}
    dataclass                           {"$": "obj", "t": "clients.Client", "f": {field: value}}
    domain error                        {"$": "err", "t": "errors.NotFound", "a": {attr: value}}
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import importlib
import json
import math
import pkgutil
import threading
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from alko_desk.models.errors import AlkoError

VERSION = 1
MODELS_PACKAGE = "alko_desk.models"
MAX_DEPTH = 64
# Model types that never travel: a Session holds the organisation key.
NEVER_ON_WIRE = frozenset({"users.Session"})


class CodecError(ValueError):
    """The payload cannot be encoded or decoded (a type off the allow-list, a bad shape)."""


class _Registry:
    """Every dataclass, enum and domain error defined in alko_desk.models, by short name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_name: dict[str, type] | None = None
        self._by_type: dict[type, str] = {}

    def _load(self) -> dict[str, type]:
        with self._lock:
            if self._by_name is not None:
                return self._by_name
            package = importlib.import_module(MODELS_PACKAGE)
            by_name: dict[str, type] = {}
            for info in pkgutil.iter_modules(package.__path__):
                module = importlib.import_module(f"{MODELS_PACKAGE}.{info.name}")
                for value in vars(module).values():
                    if not isinstance(value, type) or value.__module__ != module.__name__:
                        continue
                    name = f"{info.name}.{value.__qualname__}"
                    if _is_model_type(value) and name not in NEVER_ON_WIRE:
                        by_name[name] = value
            self._by_type = {cls: name for name, cls in by_name.items()}
            self._by_name = by_name
            return by_name

    def name_of(self, cls: type) -> str | None:
        self._load()
        return self._by_type.get(cls)

    def type_of(self, name: str) -> type:
        try:
            return self._load()[name]
        except KeyError:
            raise CodecError(f"type not allowed on the wire: {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._load())


def _is_model_type(cls: type) -> bool:
    return (
        dataclasses.is_dataclass(cls) or issubclass(cls, enum.Enum) or (issubclass(cls, AlkoError))
    )


REGISTRY = _Registry()


# ----------------------------------------------------------------------------- encoding


def encode(value: Any) -> Any:
    """`value` as JSON-ready data (raises CodecError for anything off the allow-list)."""
    return _enc(value, 0)


_RECORDS: dict[type, tuple[str, tuple[str, ...]]] = {}  # allowed dataclass -> (name, fields)


def _enc(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    d = depth + 1
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common case first
        return value
    record = _RECORDS.get(kind)
    if record is not None:
        return {"$": "obj", "t": record[0], "f": {f: _enc(getattr(value, f), d) for f in record[1]}}
    if isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):  # before int: IntEnum members are ints too
        return {"$": "enum", "t": _name(type(value)), "v": _enc(value.value, d)}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError("only finite floats travel")
        return value
    if isinstance(value, list):
        return [_enc(v, d) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"$": "tuple", "v": [_enc(v, d) for v in value]}
    if isinstance(value, frozenset | set):
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {"$": kind, "v": [_enc(v, d) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"$": "dict", "v": {k: _enc(v, d) for k, v in value.items()}}
        return {"$": "map", "v": [[_enc(k, d), _enc(v, d)] for k, v in value.items()]}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Decimal):
        return {"$": "dec", "v": str(value)}
    if isinstance(value, datetime):  # before date: a datetime is a date too
        if value.tzinfo is None or value.utcoffset() is None:
            raise CodecError("datetimes travel timezone-aware only")
        return {"$": "dt", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, AlkoError):
        return encode_error(value, d)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _RECORDS[kind] = (_name(kind), tuple(f.name for f in dataclasses.fields(kind) if f.init))
        return _enc(value, depth)
    raise CodecError(f"type not allowed on the wire: {type(value).__qualname__}")


def _name(cls: type) -> str:
    name = REGISTRY.name_of(cls)
    if name is None:
        raise CodecError(f"type not allowed on the wire: {cls.__module__}.{cls.__qualname__}")
    return name


def encode_error(exc: AlkoError, depth: int = 0) -> dict:
    """A domain error with its user text and every attribute it carries (field_errors,
    changed_fields, the current record, duplicate matches...). An error class defined
    outside alko_desk.models travels as its nearest allowed base, message intact."""
    cls = next(c for c in type(exc).__mro__ if REGISTRY.name_of(c) is not None)
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("_")}
    attrs.setdefault("message", str(exc))
    attrs.setdefault("hint", "")
    return {
        "$": "err",
        "t": REGISTRY.name_of(cls),
        "a": {k: _enc(v, depth + 1) for k, v in attrs.items()},
    }


# ----------------------------------------------------------------------------- decoding


def decode(data: Any) -> Any:
    return _dec(data, 0)


def _dec(data: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    d = depth + 1
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [_dec(v, d) for v in data]
    if not isinstance(data, dict):
        raise CodecError(f"unexpected JSON value: {type(data).__name__}")
    try:
        tag = data["$"]
    except KeyError:
        raise CodecError("untagged object") from None
    try:
        return _DECODERS[tag](data, d)
    except KeyError as exc:
        raise CodecError(f"bad {tag!r} value: missing {exc}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"bad {tag!r} value") from None


def _dec_enum(data: dict, d: int) -> enum.Enum:
    cls = REGISTRY.type_of(data["t"])
    if not issubclass(cls, enum.Enum):
        raise CodecError(f"{data['t']} is not an enum")
    return cls(_dec(data["v"], d))


def _dec_obj(data: dict, d: int) -> Any:
    cls = REGISTRY.type_of(data["t"])
    if not dataclasses.is_dataclass(cls):
        raise CodecError(f"{data['t']} is not a record")
    allowed = _init_fields(cls)
    given = data["f"]
    if not isinstance(given, dict) or not allowed.issuperset(given):
        raise CodecError(f"unknown fields for {data['t']}")
    return cls(**{k: _dec(v, d) for k, v in given.items()})


@functools.cache
def _init_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init)


def _dec_err(data: dict, d: int) -> AlkoError:
    cls = REGISTRY.type_of(data["t"])
    if not (isinstance(cls, type) and issubclass(cls, AlkoError)):
        raise CodecError(f"{data['t']} is not a domain error")
    attrs = {k: _dec(v, d) for k, v in data["a"].items()}
    message = str(attrs.get("message", ""))
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)  # whatever the subclass's own __init__ asks for
    attrs["message"] = message
    attrs["hint"] = str(attrs.get("hint", ""))
    exc.__dict__.update(attrs)
    return exc


def _dec_dt(data: dict, d: int) -> datetime:
    value = datetime.fromisoformat(data["v"])
    if value.tzinfo is None:
        raise CodecError("datetimes travel timezone-aware only")
    return value


_DECODERS = {
    "tuple": lambda data, d: tuple(_dec(v, d) for v in data["v"]),
    "frozenset": lambda data, d: frozenset(_dec(v, d) for v in data["v"]),
    "set": lambda data, d: {_dec(v, d) for v in data["v"]},
    "dict": lambda data, d: {str(k): _dec(v, d) for k, v in data["v"].items()},
    "map": lambda data, d: {_dec(k, d): _dec(v, d) for k, v in data["v"]},
    "bytes": lambda data, d: base64.b64decode(data["v"], validate=True),
    "dec": lambda data, d: Decimal(data["v"]),
    "dt": _dec_dt,
    "date": lambda data, d: date.fromisoformat(data["v"]),
    "enum": _dec_enum,
    "obj": _dec_obj,
    "err": _dec_err,
}


# ----------------------------------------------------------------------------- envelopes


def dumps(value: Any) -> bytes:
    """A versioned envelope: {"v": VERSION, "body": ...} as UTF-8 JSON."""
    return json.dumps(
        {"v": VERSION, "body": encode(value)}, ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def loads(raw: bytes | str) -> Any:
    try:
        envelope = json.loads(raw)
    except ValueError:
        raise CodecError("not JSON") from None
    if not isinstance(envelope, dict) or "body" not in envelope:
        raise CodecError("not an ALKO Desk message")
    if envelope.get("v") != VERSION:
        raise CodecError(
            f"message version {envelope.get('v')!r}; this program speaks version {VERSION}"
        )
    return decode(envelope["body"])
