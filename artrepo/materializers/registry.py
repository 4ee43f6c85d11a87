"""Type -> materializer. Most specific type wins; user classes beat built-ins.

Built-ins are named by dotted strings and imported on first use, so
`import artrepo` imports neither numpy nor pandas. A materializer named in a
record is resolved by its stable id from this registry; a materializer id
read from data is never imported by dotted path unless the version was
written in this repository (see `resolve`).
"""
from __future__ import annotations

import importlib
import sys

from artrepo.errors import MaterializerError

_BUILTIN_BY_TYPE = {
    "builtins.bool": "builtins:BuiltInMaterializer",
    "builtins.int": "builtins:BuiltInMaterializer",
    "builtins.float": "builtins:BuiltInMaterializer",
    "builtins.str": "builtins:BuiltInMaterializer",
    "builtins.bytes": "builtins:BuiltInMaterializer",
    "builtins.NoneType": "builtins:BuiltInMaterializer",
    "builtins.list": "builtins:ContainerMaterializer",
    "builtins.tuple": "builtins:ContainerMaterializer",
    "builtins.dict": "builtins:ContainerMaterializer",
    "numpy.ndarray": "numpy:NumpyMaterializer",
    "pandas.DataFrame": "pandas:PandasMaterializer",
    "pandas.core.frame.DataFrame": "pandas:PandasMaterializer",
    "pandas.Series": "pandas:PandasMaterializer",
    "pandas.core.series.Series": "pandas:PandasMaterializer",
    "pathlib.Path": "path:PathMaterializer",
    "pathlib.PosixPath": "path:PathMaterializer",
    "pathlib.PurePath": "path:PathMaterializer",
}
_BUILTIN_BY_ID = {
    "builtin/v1": "builtins:BuiltInMaterializer",
    "container/v1": "builtins:ContainerMaterializer",
    "numpy/v1": "numpy:NumpyMaterializer",
    "pandas/v1": "pandas:PandasMaterializer",
    "path/v1": "path:PathMaterializer",
    "cloudpickle/v1": "pickle:CloudpickleMaterializer",
}
_USER: dict[type, type] = {}
_USER_BY_ID: dict[str, type] = {}


def register(cls: type) -> None:
    """Register a user materializer for its ASSOCIATED_TYPES (overrides built-ins)."""
    for t in cls.ASSOCIATED_TYPES:
        _USER[t] = cls
    _USER_BY_ID[cls.materializer_id()] = cls


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(f"artrepo.materializers.{module}"), attr)


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def for_type(t: type) -> type:
    """The materializer class for values of type `t`."""
    for klass in t.__mro__:
        if klass in _USER:
            return _USER[klass]
        spec = _BUILTIN_BY_TYPE.get(_type_name(klass))
        if spec:
            return _load(spec)
    return _load("pickle:CloudpickleMaterializer")


def resolve(materializer_id: str, *, allow_import: bool) -> type:
    """The class for a recorded materializer id."""
    if materializer_id in _BUILTIN_BY_ID:
        return _load(_BUILTIN_BY_ID[materializer_id])
    if materializer_id in _USER_BY_ID:
        return _USER_BY_ID[materializer_id]
    if materializer_id.startswith("py:") and allow_import:
        dotted = materializer_id[3:]
        module, _, qual = dotted.rpartition(".")
        try:
            obj = sys.modules.get(module) or importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
            return obj
        except (ImportError, AttributeError):
            pass
    raise MaterializerError(
        f"materializer {materializer_id!r} is not registered in this process; "
        "import the module that defines it before loading"
    )


def type_name(value) -> str:
    return _type_name(type(value))


def resolve_type(name: str):
    """The Python type recorded as `data_type`, if already imported (else object)."""
    module, _, qual = name.rpartition(".")
    obj = sys.modules.get(module)
    try:
        for part in qual.split("."):
            obj = getattr(obj, part)
        return obj
    except AttributeError:
        return object
