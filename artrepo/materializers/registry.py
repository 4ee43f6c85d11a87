"""Type -> materializer. Most specific type wins; user classes beat built-ins.

Built-ins are named by dotted strings and imported on first use, so
`import artrepo` imports neither numpy nor pandas. A materializer named in a
record is resolved by its stable id from this registry; a materializer id
read from data is never imported by dotted path unless the version was
written in this repository (see `resolve`).
"""
from __future__ import annotations

import importlib

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
    "pathlib._local.Path": "path:PathMaterializer",  # Python 3.13 moved the classes into pathlib._local
    "pathlib._local.PurePath": "path:PathMaterializer",
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
        register_type(t, cls)


def register_type(t: type, cls: type) -> None:
    """Use the materializer `cls` for values of type `t` (and its subclasses)."""
    _USER[t] = cls
    _USER_BY_ID[cls.materializer_id()] = cls


def user_types() -> dict[type, type]:
    """Type -> user materializer, as registered in this process."""
    return _USER


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(f"artrepo.materializers.{module}"), attr)


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def for_type(t: type) -> type:
    """The materializer class for values of type `t`; well-known model classes pickle as MODEL."""
    for klass in t.__mro__:
        if klass in _USER:
            return _USER[klass]
        spec = _BUILTIN_BY_TYPE.get(_type_name(klass))
        if spec:
            return _load(spec)
    from artrepo.materializers.model_classes import is_model_class

    if is_model_class(t):
        return _load("pickle:CloudpickleModelMaterializer")
    return _load("pickle:CloudpickleMaterializer")


def resolve(materializer_id: str, *, allow_import: bool) -> type:
    """The class for a recorded materializer id.

    A `py:` id names a user's class by import path (see `source`); it is
    imported only when `allow_import` (the version was written here or came
    from a trusted remote), and must name a BaseMaterializer.
    """
    if materializer_id in _BUILTIN_BY_ID:
        return _load(_BUILTIN_BY_ID[materializer_id])
    if materializer_id in _USER_BY_ID:
        return _USER_BY_ID[materializer_id]
    dotted = materializer_id.removeprefix("py:")
    if dotted == materializer_id:
        raise MaterializerError(f"unknown materializer {materializer_id!r}: written by a newer artrepo?")
    if dotted.startswith("__main__."):
        raise MaterializerError(
            f"materializer {materializer_id!r} was defined in a notebook or an interactive session and is "
            "not defined in this process; run the code that defines it, then load again")
    if not allow_import:
        raise MaterializerError(
            f"materializer {materializer_id!r} is not imported in this process and this version came from "
            "an untrusted remote; import the module that defines it, or trust the remote")
    from artrepo.materializers.source import import_object

    try:
        cls = import_object(dotted)
    except (ImportError, AttributeError) as exc:
        raise MaterializerError(f"cannot import materializer {materializer_id!r} ({type(exc).__name__}: "
                                f"{exc}); load from the project that defines it") from None
    if not (isinstance(cls, type) and callable(getattr(cls, "materializer_id", None))
            and callable(getattr(cls, "load", None))):  # a BaseMaterializer (base.py imports this module)
        raise MaterializerError(f"{materializer_id!r} does not name a materializer class")
    return cls


def type_name(value) -> str:
    """The recorded `data_type`: where the value's class lives (a script's class by its path)."""
    from artrepo.materializers.source import import_path

    return import_path(type(value))


def resolve_type(name: str):
    """The Python type recorded as `data_type`, if already imported (else object); never imports."""
    from artrepo.materializers.source import find_loaded

    found = find_loaded(name)
    return found if isinstance(found, type) else object
