"""bool, int, float, str, bytes, None, and list/tuple/dict of anything.

Plain values are one msgpack document (`data.msgpack`) with tuples and
non-string dict keys tagged, so they load back as the same types. A
container holding other types (arrays, frames…) stores each element with
its own materializer under `items/<i>/`.

Decoding trusts nothing: a tuple extension is decoded after its parent, not
from inside msgpack's hook (nested hooks overflow the C stack: 200 levels
crash the process), nesting is bounded by `MAX_DEPTH` (the depth `is_plain`
accepts when saving), big integers by `MAX_BIGINT_DIGITS`, and anything
malformed is a FormatError.
"""
from __future__ import annotations

import re
from typing import Any

import msgpack

from artrepo.errors import FormatError
from artrepo.materializers.base import BaseMaterializer
from artrepo.materializers.pickle import may_run_code
from artrepo.records.artifact import ArtifactType

BASIC = (bool, int, float, str, bytes, type(None))
_TUPLE, _BIGINT = 1, 3
MAX_DEPTH = 100
MAX_BIGINT_DIGITS = 4300  # Python's own default limit for int <-> str
_BIGINT_TEXT = re.compile(rb"-?[0-9]{1,%d}\Z" % MAX_BIGINT_DIGITS)


def _fits(value: int) -> bool:
    return -(1 << 63) <= value < (1 << 64)


def is_plain(value: Any, depth: int = 0) -> bool:
    """True if `value` is made only of basic values and containers of them."""
    if depth > MAX_DEPTH:
        return False
    if type(value) is int:
        return _fits(value)
    if type(value) in BASIC:
        return True
    if type(value) in (list, tuple):
        return all(is_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    return False


def _default(obj):
    if type(obj) is tuple:
        return msgpack.ExtType(_TUPLE, pack(list(obj)))
    raise TypeError(f"cannot encode {type(obj).__name__}")


def pack(value) -> bytes:
    """msgpack that keeps tuples apart from lists (strict_types sends them to _default)."""
    if type(value) is int and not _fits(value):
        value = msgpack.ExtType(_BIGINT, str(value).encode())
    return msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)


def unpack(data: bytes):
    """The value `pack` wrote; FormatError for anything else (never a crash or a huge allocation)."""
    try:
        return _resolve(_decode(data), 0)
    except (ValueError, TypeError, RecursionError) as exc:  # msgpack's errors are ValueErrors
        raise FormatError(f"malformed builtin value ({exc or type(exc).__name__})") from None


def _decode(data: bytes):
    return msgpack.unpackb(data, ext_hook=msgpack.ExtType, raw=False, strict_map_key=False, use_list=True)


def _resolve(value, depth: int):
    """`value` with its extensions decoded, one level at a time (no nested msgpack calls)."""
    if depth > MAX_DEPTH:
        raise FormatError(f"builtin value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is list:
        return [_resolve(v, depth + 1) for v in value]
    if kind is dict:
        return {_resolve(k, depth + 1): _resolve(v, depth + 1) for k, v in value.items()}
    if kind is not msgpack.ExtType:
        return value
    if value.code == _TUPLE:
        inner = _decode(value.data)
        if type(inner) is not list:
            raise FormatError("malformed builtin value (a tuple extension that holds no list)")
        return tuple(_resolve(v, depth + 1) for v in inner)
    if value.code == _BIGINT:
        if not _BIGINT_TEXT.match(value.data):
            raise FormatError(f"malformed builtin value (an integer extension of {len(value.data)} bytes "
                              f"that is not at most {MAX_BIGINT_DIGITS} decimal digits)")
        return int(value.data)
    raise FormatError(f"malformed builtin value (unknown msgpack extension {value.code})")


class BuiltInMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = BASIC
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "builtin/v1"

    def save(self, data: Any) -> None:
        with self.open("data.msgpack", "wb") as f:
            f.write(pack(data))

    def load(self, data_type: type) -> Any:
        with self.open("data.msgpack", "rb") as f:
            return unpack(f.read())

    def extract_metadata(self, data: Any) -> dict[str, Any]:
        if isinstance(data, (str, bytes)):
            return {"length": len(data)}
        return {}


def _container_index(doc) -> tuple[str, list[tuple[Any, str, str]]]:
    """(container kind, [(key, materializer id, type name)]) from `items.msgpack`, checked."""
    try:
        kind, items = doc["container"], doc["items"]
        rows = [(key, mid, tname) for key, mid, tname in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"malformed container index ({type(exc).__name__}: {exc})") from None
    if kind not in ("list", "tuple", "dict") or not all(type(m) is str and type(t) is str for _, m, t in rows):
        raise FormatError("malformed container index (unknown container kind or non-string names)")
    return kind, rows


class ContainerMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (list, tuple, dict)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "container/v1"

    def save(self, data: Any) -> None:
        if is_plain(data):  # one msgpack document, as BuiltInMaterializer writes it
            return BuiltInMaterializer.save(self, data)
        from artrepo.materializers import registry

        pairs = data.items() if isinstance(data, dict) else enumerate(data)
        items = []
        for i, (key, value) in enumerate(pairs):
            cls = registry.for_type(type(value))
            self.child(cls, f"items/{i}").save(value)
            items.append([key, cls.materializer_id(), registry.type_name(value)])
        with self.open("items.msgpack", "wb") as f:
            f.write(pack({"container": type(data).__name__, "items": items}))

    def load(self, data_type: type) -> Any:
        from artrepo.materializers import registry

        if self._prefix.count("items/") >= MAX_DEPTH:
            raise FormatError(f"container nested deeper than {MAX_DEPTH} levels")
        try:
            f = self.open("items.msgpack", "rb")
        except KeyError:  # plain values only
            return BuiltInMaterializer.load(self, data_type)
        with f:
            kind, rows = _container_index(unpack(f.read()))
        values = []
        for i, (key, mid, tname) in enumerate(rows):
            cls = registry.resolve(mid, allow_import=may_run_code())
            values.append((key, self.child(cls, f"items/{i}").load(registry.resolve_type(tname))))
        if kind == "dict":
            try:
                return {k: v for k, v in values}
            except TypeError as exc:  # an unhashable key
                raise FormatError(f"malformed container index ({exc})") from None
        return tuple(v for _, v in values) if kind == "tuple" else [v for _, v in values]

    def extract_metadata(self, data: Any) -> dict[str, Any]:
        return {"length": len(data)}
