"""Python objects <-> stored files. `BaseMaterializer` is the extension point.

ZenML's names are here too (`BuiltInMaterializer`, `BuiltInContainerMaterializer`,
`BytesMaterializer`, `CloudpickleMaterializer`, `PathMaterializer`), imported
on first use so that `import artrepo.materializers` stays cheap.
"""
from artrepo.materializers.base import BaseMaterializer

_LAZY = {
    "BuiltInMaterializer": "artrepo.materializers.built_in_materializer",
    "BuiltInContainerMaterializer": "artrepo.materializers.built_in_materializer",
    "BytesMaterializer": "artrepo.materializers.built_in_materializer",
    "CloudpickleMaterializer": "artrepo.materializers.cloudpickle_materializer",
    "PathMaterializer": "artrepo.materializers.path_materializer",
    "NumpyMaterializer": "artrepo.materializers.numpy_materializer",
    "PandasMaterializer": "artrepo.materializers.pandas_materializer",
}

__all__ = ["BaseMaterializer", *sorted(_LAZY)]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'artrepo.materializers' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
