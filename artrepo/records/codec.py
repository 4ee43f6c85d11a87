"""Canonical msgpack, and typed, bounded decoding of records.

Every record kind declares its fields with their types (a `Schema`); its
`decode` refuses a record of another kind or schema, with a field missing, an unknown field, or
a field of the wrong type, as a `FormatError` (never a KeyError or TypeError
from deeper down). Types are written as values:

    str, int, bool, bytes     exactly that msgpack type (a bool is not an int)
    None                      nil
    (A, B)                    A or B
    [A]                       an array of A
    {str: A}                  a map of string keys to A
    JSON                      a JSON-like value (nil, bool, int, float, str, arrays, string-keyed maps)
    Row(A, B, ...)            an array of exactly those members
"""
from __future__ import annotations

import msgpack

from artrepo.errors import FormatError
from artrepo.plain import Frozen

MAX_RECORD = 64 * 1024 * 1024
MAX_DEPTH = 32  # nesting of metadata and parameters, as validate_metadata and canonical_parameter allow
JSON = "JSON-like value"


class Row(tuple):
    """A fixed-length array type: `Row(str, int)` is `[text, number]`."""

    def __new__(cls, *members):
        return super().__new__(cls, members)


def _canonical(value):
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def encode(doc: dict) -> bytes:
    return msgpack.packb(_canonical(doc), use_bin_type=True)


def _json(value, depth: int) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return True
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_json(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _json(v, depth + 1) for k, v in value.items())
    return False


def _is_nil(value, depth: int) -> bool:
    return value is None


def checker(spec):
    """A function `(value, depth) -> bool` telling whether a decoded value has the type `spec`."""
    if spec is None:
        return _is_nil
    if spec is JSON:
        return _json
    if type(spec) is type:
        return lambda v, d, t=spec: type(v) is t
    if type(spec) is Row:
        members = [checker(s) for s in spec]
        return lambda v, d, n=len(spec): (type(v) is list and len(v) == n
                                          and all(check(x, d + 1) for check, x in zip(members, v)))
    if type(spec) is tuple:  # a field is at most "A or B"; "A or nil" is the common one
        first, second = spec
        if second is None and type(first) is type:
            return lambda v, d: v is None or type(v) is first
        first, second = checker(first), checker(second)
        return lambda v, d: first(v, d) or second(v, d)
    if type(spec) is list:
        if type(spec[0]) is type:
            return lambda v, d, t=spec[0]: type(v) is list and all(type(x) is t for x in v)
        member = checker(spec[0])
        return lambda v, d: type(v) is list and all(member(x, d + 1) for x in v)
    if type(spec[str]) is type:  # {str: A}
        return lambda v, d, t=spec[str]: type(v) is dict and all(type(k) is str and type(x) is t for k, x in v.items())
    member = checker(spec[str])
    return lambda v, d: type(v) is dict and all(type(k) is str and member(x, d + 1) for k, x in v.items())


def describe(spec) -> str:
    if spec is None:
        return "nil"
    if spec is JSON:
        return spec
    if type(spec) is type:
        return spec.__name__
    if type(spec) is Row:
        return "[" + ", ".join(describe(s) for s in spec) + "]"
    if type(spec) is tuple:
        return " or ".join(describe(s) for s in spec)
    if type(spec) is list:
        return f"an array of {describe(spec[0])}"
    return f"a map of str to {describe(spec[str])}"


class Schema:
    """The fields of one record kind and schema, with their types (see the module docstring)."""

    def __init__(self, kind: str, schema: int, fields: dict):
        self.kind, self.schema, self.fields = kind, schema, fields
        # plain types are checked inline (most fields are): a call per field would double a decode's cost
        self._plain = [(name, spec) for name, spec in fields.items() if type(spec) is type]
        self._checks = [(name, checker(spec)) for name, spec in fields.items() if type(spec) is not type]

    def encode(self, doc: dict) -> bytes:
        return encode({"kind": self.kind, "schema": self.schema, **doc})

    def decode(self, data: bytes) -> dict:
        """The record's fields (without `kind` and `schema`), each checked; else a FormatError."""
        kind, fields = self.kind, self.fields
        if len(data) > MAX_RECORD:
            raise FormatError(f"{kind} record of {len(data)} bytes is larger than the {MAX_RECORD}-byte limit")
        try:
            doc = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except Exception as exc:
            raise FormatError(f"unreadable {kind} record ({exc})") from None
        if type(doc) is not dict or doc.get("kind") != kind:
            raise FormatError(f"not a {kind} record")
        if doc.get("schema") != self.schema:
            raise FormatError(f"{kind} record schema {doc.get('schema')!r} is not supported "
                              f"(expected {self.schema})")
        del doc["kind"], doc["schema"]
        try:
            for name, spec in self._plain:
                if type(doc[name]) is not spec:
                    raise FormatError(f"malformed {kind} record: field {name!r} is not {describe(spec)}")
            for name, check in self._checks:
                if not check(doc[name], 0):
                    raise FormatError(f"malformed {kind} record: field {name!r} is not {describe(fields[name])}")
        except KeyError as exc:
            raise FormatError(f"malformed {kind} record: field {exc.args[0]!r} is missing") from None
        if len(doc) != len(fields):
            extra = min((k for k in doc if k not in fields), key=repr)
            raise FormatError(f"malformed {kind} record: unknown field {extra!r}")
        return doc


class Record(Frozen):
    """A record whose msgpack fields are its attributes, in `__slots__` order.

    `RENAMED` maps a field to another attribute name; arrays decode as
    tuples, maps (metadata, parameters) as they are.
    """

    __slots__ = ()
    FORMAT: Schema
    RENAMED: dict = {}

    def to_msgpack(self) -> bytes:
        return self.FORMAT.encode({name: getattr(self, self.RENAMED.get(name, name)) for name in self.FORMAT.fields})

    @classmethod
    def from_msgpack(cls, data: bytes):
        doc = cls.FORMAT.decode(data)
        obj = cls.__new__(cls)
        for name, attribute, array in cls._layout():
            object.__setattr__(obj, attribute, tuple(doc[name]) if array else doc[name])
        return obj

    @classmethod
    def _layout(cls) -> list:
        """(field, attribute, whether it is an array) of each field, computed once per class."""
        layout = cls.__dict__.get("_LAYOUT")
        if layout is None:
            layout = [(name, cls.RENAMED.get(name, name), type(spec) is list) for name, spec in cls.FORMAT.fields.items()]
            type.__setattr__(cls, "_LAYOUT", layout)
        return layout
