"""Python objects <-> stored files. `BaseMaterializer` is the extension point.

ZenML's names are here too (`BuiltInMaterializer`, `BuiltInContainerMaterializer`,
`BytesMaterializer`, `CloudpickleMaterializer`, `PathMaterializer`), imported
on first use so that `import artrepo.materializers` stays cheap.
"""
from artrepo import lazy_getattr
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
__getattr__ = lazy_getattr(globals(), _LAZY)
