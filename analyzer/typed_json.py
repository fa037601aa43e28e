"""JSON objects as frozen dataclasses: written in field order, read back at the fields' types,
and described by a JSON Schema made from the same fields, so a field is declared once.

Reading is strict by default: the first field of the wrong type raises `FieldError`, one line
naming it. A lenient reader (the site's) instead gives such a field its default, notes it and
reads on, so a hand-edited or foreign file still renders and the reader learns what was
ignored. A field absent from the file takes its default either way: files written by older
versions, and by hand, leave fields out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from enum import Enum
from functools import cache
from typing import Any, get_args, get_origin

from tpulens.errors import InputError

SHOWN_NOTES = 5  # wrong fields named per problem line; the rest are counted

_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
_EXPECTED = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}


class FieldError(InputError):
    """A field of the wrong type, in one line that names it."""


def _kind(value: object) -> str:
    return _KINDS.get(type(value), "a number" if isinstance(value, int | float) else "unknown")


def _short(text: str) -> str:
    """Field names and values come from the file: a problem line quotes at most 60 chars."""
    return text if len(text) <= 60 else text[:59] + "…"


def finite(value: object) -> bool:
    """A real number a float can hold (not a bool, not 10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def field(doc: str, default: Any = None, *, omitted_when_none: bool = False,
          default_factory: Any = dataclasses.MISSING, read: Any = None) -> Any:
    """A documented field. `omitted_when_none`: the key is left out of the JSON when the value
    is None (a field only some writers give); otherwise None is written as null. `read`: a
    function (fields, value, where) -> value for a field whose JSON a type cannot say."""
    metadata = {"doc": doc, "omitted_when_none": omitted_when_none, "read": read}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class Fields:
    """Reads one file's fields at their types: strict (the first wrong field raises) or
    lenient (each wrong field is noted and takes its empty value)."""

    def __init__(self, lenient: bool = False) -> None:
        self.lenient = lenient
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        if not self.lenient:
            raise FieldError(text)
        self.notes.append(text)

    def wrong(self, where: str, value: object, expected: str) -> None:
        self.note(f"{_short(where)} is {_kind(value)}, expected {expected}")

    def unknown(self, where: str, value: str, expected: str) -> None:
        """A string outside its vocabulary: `where 'value' is not <expected>`."""
        self.note(f"{_short(where)} {_short(value)!r} is not {expected}")

    def problem(self, label: str) -> str | None:
        """The file's one problem line, or None when every field had its type."""
        if not self.notes:
            return None
        more = len(self.notes) - SHOWN_NOTES
        extra = f" (+{more} more)" if more > 0 else ""
        return f"{label}: ignored {'; '.join(self.notes[:SHOWN_NOTES])}{extra}"

    def text(self, data: dict, key: str, where: str = "") -> str:
        value = data.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self.wrong(where + key, value, "a string")
        return ""

    def obj(self, data: dict, key: str, where: str = "") -> dict:
        value = data.get(key)
        if value is None or isinstance(value, dict):
            return value or {}
        self.wrong(where + key, value, "an object")
        return {}

    def array(self, data: dict, key: str, where: str = "") -> list:
        value = data.get(key)
        if value is None or isinstance(value, list):
            return value or []
        self.wrong(where + key, value, "a list")
        return []

    def choice(self, data: dict, key: str, choices: tuple[str, ...], where: str = "") -> str:
        """A string from a fixed vocabulary; an unknown value is noted and kept as text."""
        value = self.text(data, key, where)
        if value and value not in choices:
            self.note(f"{_short(where + key)} {_short(value)!r} is not one of {', '.join(choices)}")
        return value

    def numbers(self, data: dict, key: str) -> dict[str, float]:
        """An object of finite numbers (metrics, timings)."""
        out = {}
        for name, value in self.obj(data, key).items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.wrong(f"{key}.{name}", value, "a number")
            elif not finite(value):
                self.note(f"{_short(f'{key}.{name}')} is not finite")
            else:
                out[name] = float(value)
        return out

    def array_of(self, data: dict, key: str, kind: type, expected: str, where: str = "") -> list:
        """The items of a list that have type `kind`, noting the others."""
        out = []
        for i, value in enumerate(self.array(data, key, where)):
            if isinstance(value, kind):
                out.append(value)
            else:
                self.wrong(f"{where}{key}[{i}]", value, expected)
        return out


def version_problem(data: dict, newest: int) -> str | None:
    """None when `schema_version` is absent (hand-written files) or one this tpulens reads."""
    version = data.get("schema_version", 1)
    if type(version) is int and 1 <= version <= newest:
        return None
    known = "1" if newest == 1 else f"1 to {newest}"
    shown = json.dumps(version)[:20]
    return f"schema_version {shown} is not supported (this tpulens reads {known})"


# ---- reading -----------------------------------------------------------------------------

_MISSING = object()


def read(cls: type, data: dict, fields: Fields, where: str = "") -> Any:
    """An instance of the dataclass `cls` from a JSON object (absent fields take defaults)."""
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        value = data.get(f.name)
        if value is None:
            continue  # absent or null: the default
        at = where + f.name
        reader = f.metadata.get("read")
        got = reader(fields, value, at) if reader else _value(hints[f.name], value, fields, at)
        if got is not _MISSING:
            values[f.name] = got
    return cls(**values)


def _value(hint: Any, value: object, fields: Fields, where: str) -> Any:
    """`value` at the type `hint`, or _MISSING (noted) when it does not have it."""
    hint = _without_none(hint)
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, dict):
            return read(hint, value, fields, where + ".")
        return _wrong(fields, where, value, "an object")
    if isinstance(hint, type) and issubclass(hint, Enum):
        if not isinstance(value, str):
            return _wrong(fields, where, value, "a string")
        if value not in tuple(hint):
            fields.note(f"{_short(where)} {_short(value)!r} is not one of "
                        f"{', '.join(hint)}")
            return _MISSING
        return hint(value)
    if origin is tuple:
        return _items(get_args(hint)[0], value, fields, where)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return _wrong(fields, where, value, "an object")
        if hint is dict:
            return value
        item = get_args(hint)[1]
        out = {}
        for key, entry in value.items():
            got = _MISSING if entry is None and not _nullable(item) else (
                None if entry is None else _value(item, entry, fields, f"{where}.{key}"))
            if entry is None and got is _MISSING:
                fields.wrong(f"{where}.{key}", entry, _expected(item))
            if got is not _MISSING:
                out[key] = got
        return out
    return _scalar(hint, value, fields, where)


def _scalar(hint: type, value: object, fields: Fields, where: str) -> Any:
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _wrong(fields, where, value, "a number")
        if not finite(value):
            fields.note(f"{_short(where)} is not finite")
            return _MISSING
        return float(value)
    if hint is int and isinstance(value, bool):
        return _wrong(fields, where, value, "an integer")
    if isinstance(value, hint):
        return value
    return _wrong(fields, where, value, _EXPECTED[hint])


def _items(item: Any, value: object, fields: Fields, where: str) -> Any:
    """A list as a tuple. A list of plain values with some of the wrong type is noted once
    and keeps the others; in a list of objects each wrong item is noted."""
    if not isinstance(value, list):
        return _wrong(fields, where, value, "a list")
    plain = _without_none(item)
    if plain in _EXPECTED:
        quiet = Fields(lenient=True)
        kept = []
        for entry in value:
            got = _scalar(plain, entry, quiet, where) if entry is not None else (
                None if _nullable(item) else _MISSING)
            if got is not _MISSING:
                kept.append(got)
        if len(kept) < len(value):
            fields.wrong(where, value, f"a list of {_EXPECTED[plain].split(' ', 1)[1]}s")
        return tuple(kept)
    out = []
    for i, entry in enumerate(value):
        got = _value(item, entry, fields, f"{where}[{i}]") if entry is not None else \
            _wrong(fields, f"{where}[{i}]", entry, _expected(item))
        if got is not _MISSING:
            out.append(got)
    return tuple(out)


def _wrong(fields: Fields, where: str, value: object, expected: str) -> object:
    fields.wrong(where, value, expected)
    return _MISSING


def _expected(hint: Any) -> str:
    hint = _without_none(hint)
    if dataclasses.is_dataclass(hint) or hint is dict or get_origin(hint) is dict:
        return "an object"
    if get_origin(hint) is tuple:
        return "a list"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "a string"
    return _EXPECTED.get(hint, "a value")


def _nullable(hint: Any) -> bool:
    return type(None) in get_args(hint)


def _without_none(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


_HINTS: dict[type, dict] = {}


def _hints(cls: type) -> dict:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


# ---- writing -----------------------------------------------------------------------------

_PLAIN = frozenset({str, int, float, bool, type(None)})


@cache
def _layout(cls: type) -> tuple[tuple[str, bool], ...] | None:
    """(name, omitted when None) of each field of a dataclass, in order; None for other types.
    Read once per class: an analysis writes tens of thousands of values."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple((f.name, bool(f.metadata.get("omitted_when_none")))
                 for f in dataclasses.fields(cls))


def write(value: Any) -> Any:
    """The JSON value of a dataclass (keys in field order), tuple, dict or plain value."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    layout = _layout(kind)
    if layout is not None:
        out = {}
        for name, omitted_when_none in layout:
            item = getattr(value, name)
            if item is None and omitted_when_none:
                continue
            out[name] = item if type(item) in _PLAIN else write(item)
        return out
    if isinstance(value, tuple | list):
        return [v if type(v) in _PLAIN else write(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else write(v) for k, v in value.items()}
    return value


def dumps(value: Any) -> str:
    """The JSON text of write(value), without building write(value): the encoder writes
    tuples, dicts, strings (str Enums too) and numbers itself and asks for each dataclass's
    fields, a third faster on a large analysis. A tree of values holds no cycle to look for."""
    return json.dumps(value, default=_fields_of, check_circular=False)


def _fields_of(value: Any) -> dict:
    """A frozen dataclass's fields are its instance dict, in order (its __init__ sets each one
    and nothing else can): taken as they are, or copied when some are left out when None."""
    omitted = _omitted(type(value))
    if omitted is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    fields = vars(value)
    if omitted:
        fields = fields.copy()
        for name in omitted:
            if fields[name] is None:
                del fields[name]
    return fields


@cache
def _omitted(cls: type) -> tuple[str, ...] | None:
    """The fields of a frozen dataclass left out when None; None for any other type (and for
    one with a field its __init__ does not set)."""
    if not (dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
            and all(f.init for f in dataclasses.fields(cls))):
        return None
    return tuple(name for name, omitted_when_none in _layout(cls) if omitted_when_none)


# ---- schema ------------------------------------------------------------------------------

def schema(cls: type) -> dict:
    """The JSON Schema (2020-12) of the dataclass `cls`, each field described by its doc."""
    return _object(cls)


def _written(f: dataclasses.Field, hint: Any) -> Any:
    """The type a field is written at: one omitted when None is never null."""
    return _without_none(hint) if f.metadata.get("omitted_when_none") else hint


def _object(cls: type) -> dict:
    hints = _hints(cls)
    properties = {}
    for f in dataclasses.fields(cls):
        properties[f.name] = {"description": f.metadata.get("doc", ""),
                              **_type(_written(f, hints[f.name]))}
    required = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("omitted_when_none")]
    doc = " ".join((cls.__doc__ or "").split())
    return {"type": "object", "description": doc, "properties": properties,
            "required": required}


def _type(hint: Any) -> dict:
    if _nullable(hint) and _without_none(hint) is not hint:
        inner = _type(_without_none(hint))
        return {"anyOf": [inner, {"type": "null"}]}
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _object(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return {"enum": [member.value for member in hint]}
    if origin is tuple:
        return {"type": "array", "items": _type(get_args(hint)[0])}
    if hint is dict:
        return {"type": "object"}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(get_args(hint)[1])}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[hint]}


def fields_table(cls: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(path, type, description) of every field, nested objects flattened: `summary.estimate.
    cycles`, `ops[].placement`."""
    hints = _hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        hint = _written(f, hints[f.name])
        path = prefix + f.name
        rows.append((path, _type_name(hint) + (", optional" if f.metadata.get(
            "omitted_when_none") else ""), f.metadata.get("doc", "")))
        inner = _without_none(hint)
        if get_origin(inner) is tuple:
            inner, path = get_args(inner)[0], path + "[]"
        if dataclasses.is_dataclass(inner):
            rows += fields_table(inner, path + ".")
    return rows


def _type_name(hint: Any) -> str:
    if _nullable(hint) and _without_none(hint) is not hint:
        return _type_name(_without_none(hint)) + " or null"
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint) or hint is dict:
        return "object"
    if isinstance(hint, type) and issubclass(hint, Enum):
        return " \\| ".join(f"`{member.value}`" for member in hint)
    if origin is tuple:
        return f"list of {_type_name(get_args(hint)[0])}"
    if origin is dict:
        return f"object of {_type_name(get_args(hint)[1])}"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[hint]
