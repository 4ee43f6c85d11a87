"""bool, int, float, str, bytes, None, and list/tuple/dict of anything.

Plain values are one msgpack document (`data.msgpack`) with tuples and
non-string dict keys tagged, so they load back as the same types. A
container holding other types (arrays, frames…) stores each element with
its own materializer under `items/<i>/`.
"""
from __future__ import annotations

from typing import Any

import msgpack

from artrepo.materializers.base import BaseMaterializer
from artrepo.materializers.pickle import may_run_code
from artrepo.records.artifact import ArtifactType

BASIC = (bool, int, float, str, bytes, type(None))
_TUPLE, _BIGINT = 1, 3


def _fits(value: int) -> bool:
    return -(1 << 63) <= value < (1 << 64)


def is_plain(value: Any, depth: int = 0) -> bool:
    """True if `value` is made only of basic values and containers of them."""
    if depth > 100:
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


def _ext(code, data):
    if code == _TUPLE:
        return tuple(unpack(data))
    if code == _BIGINT:
        return int(data.decode())
    raise ValueError(f"unknown msgpack extension {code}")


def pack(value) -> bytes:
    """msgpack that keeps tuples apart from lists (strict_types sends them to _default)."""
    if type(value) is int and not _fits(value):
        value = msgpack.ExtType(_BIGINT, str(value).encode())
    return msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)


def unpack(data: bytes):
    return msgpack.unpackb(data, ext_hook=_ext, raw=False, strict_map_key=False, use_list=True)


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


class ContainerMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (list, tuple, dict)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "container/v1"

    def save(self, data: Any) -> None:
        if is_plain(data):
            with self.open("data.msgpack", "wb") as f:
                f.write(pack(data))
            return
        from artrepo.materializers import registry

        keys = list(data.keys()) if isinstance(data, dict) else list(range(len(data)))
        values = list(data.values()) if isinstance(data, dict) else list(data)
        items = []
        for i, (key, value) in enumerate(zip(keys, values)):
            cls = registry.for_type(type(value))
            self.child(cls, f"items/{i}").save(value)
            items.append([key, cls.materializer_id(), registry.type_name(value)])
        with self.open("items.msgpack", "wb") as f:
            f.write(pack({"container": type(data).__name__, "items": items}))

    def load(self, data_type: type) -> Any:
        from artrepo.materializers import registry

        try:
            f = self.open("items.msgpack", "rb")
        except KeyError:
            with self.open("data.msgpack", "rb") as f:
                return unpack(f.read())
        with f:
            doc = unpack(f.read())
        values = []
        for i, (key, mid, tname) in enumerate(doc["items"]):
            cls = registry.resolve(mid, allow_import=may_run_code())
            values.append((key, self.child(cls, f"items/{i}").load(registry.resolve_type(tname))))
        kind = doc["container"]
        if kind == "dict":
            return {k: v for k, v in values}
        return tuple(v for _, v in values) if kind == "tuple" else [v for _, v in values]

    def extract_metadata(self, data: Any) -> dict[str, Any]:
        return {"length": len(data)}
