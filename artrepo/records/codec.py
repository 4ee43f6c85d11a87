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

import numbers

import msgpack

from artrepo.errors import FormatError, UserError
from artrepo.plain import Frozen

MAX_RECORD = 64 * 1024 * 1024
MAX_DEPTH = 32  # nesting of metadata and parameters, as json_like allows
JSON = "JSON-like value"


def json_like(value, what: str, hint: str = "", depth: int = 0):
    """A copy of `value` that records hold (tuples become lists, ints fit 64 bits), or a UserError about `what`
    (metadata, a parameter) that ends with `hint`."""
    if depth > MAX_DEPTH:
        raise UserError(f"{what} is nested too deeply")
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        if not -2**63 <= int(value) < 2**64:
            raise UserError(f"{what} holds an integer outside the 64-bit range")
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [json_like(v, what, hint, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): json_like(v, what, hint, depth + 1) for k, v in value.items()}
    raise UserError(f"{what} has a value of type {type(value).__name__}: it must be JSON-like (str, number, bool, "
                    f"None, list, dict){hint}")


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


def _json(value, depth: int = 0) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return True
    if depth >= MAX_DEPTH:
        return False
    if kind is list:
        return all(_json(v, depth + 1) for v in value)
    return kind is dict and all(type(k) is str and _json(v, depth + 1) for k, v in value.items())


def checker(spec):
    """A function telling whether a decoded value has the type `spec`."""
    if spec is JSON:
        return _json
    if spec is None or type(spec) is type:
        kind = type(None) if spec is None else spec
        return lambda v: type(v) is kind
    if type(spec) is Row:
        members = [checker(s) for s in spec]
        return lambda v: type(v) is list and len(v) == len(members) and all(c(x) for c, x in zip(members, v))
    if type(spec) is tuple:  # "A or B"; "A or nil" (most of them) without a call per alternative
        first, second = (checker(s) for s in spec)
        return (lambda v: v is None or first(v)) if spec[1] is None else (lambda v: first(v) or second(v))
    if type(spec) is list:
        member = checker(spec[0])
        return lambda v: type(v) is list and all(map(member, v))
    member = checker(spec[str])  # {str: A}
    return lambda v: type(v) is dict and all(type(k) is str for k in v) and all(map(member, v.values()))


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
    """The fields of one record kind and schema, with their types (see the module docstring).

    An `optional` field is left out when empty and reads as empty when absent
    (a field added to a kind after records of it were written).
    """

    def __init__(self, kind: str, schema: int, fields: dict, optional: set[str] = frozenset()):
        self.kind, self.schema, self.fields, self.optional = kind, schema, fields, optional
        # plain types are checked inline (most fields are): a call per field would double a decode's cost
        self._plain = [(name, spec) for name, spec in fields.items() if type(spec) is type]
        self._checks = [(name, checker(spec)) for name, spec in fields.items() if type(spec) is not type]
        self.arrays = [(name, type(spec) is list) for name, spec in fields.items()]

    def attributes(self, **renamed: str) -> tuple[str, ...]:
        """The `__slots__` of a `Record` with these fields (`renamed`: field -> attribute name)."""
        return tuple(renamed.get(name, name) for name in self.fields)

    def encode(self, doc: dict) -> bytes:
        kept = {k: v for k, v in doc.items() if v or k not in self.optional}
        return encode({"kind": self.kind, "schema": self.schema, **kept})

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
        for name in self.optional:  # absent: empty ("" for str, [] for arrays, {} for maps)
            spec = fields[name]
            doc.setdefault(name, spec() if type(spec) is type else type(spec)())
        try:
            for name, spec in self._plain:
                if type(doc[name]) is not spec:
                    raise FormatError(f"malformed {kind} record: field {name!r} is not {describe(spec)}")
            for name, check in self._checks:
                if not check(doc[name]):
                    raise FormatError(f"malformed {kind} record: field {name!r} is not {describe(fields[name])}")
        except KeyError as exc:
            raise FormatError(f"malformed {kind} record: field {exc.args[0]!r} is missing") from None
        if len(doc) != len(fields):
            extra = min((k for k in doc if k not in fields), key=repr)
            raise FormatError(f"malformed {kind} record: unknown field {extra!r}")
        return doc


class Record(Frozen):
    """A record whose attributes (`__slots__ = FORMAT.attributes()`) are its msgpack fields, in order.

    Arrays decode as tuples; maps (metadata, parameters) as they are.
    """

    __slots__ = ()
    FORMAT: Schema

    def to_msgpack(self) -> bytes:
        return self.FORMAT.encode(dict(zip(self.FORMAT.fields, self._values())))

    @classmethod
    def from_msgpack(cls, data: bytes):
        doc = cls.FORMAT.decode(data)
        obj = cls.__new__(cls)
        for attribute, (name, array) in zip(cls.__slots__, cls.FORMAT.arrays):
            object.__setattr__(obj, attribute, tuple(doc[name]) if array else doc[name])
        return obj
