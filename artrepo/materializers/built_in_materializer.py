"""ZenML's module path for the built-in types.

ZenML's `BuiltInMaterializer` (bool, float, int, str, None), `BytesMaterializer`
(bytes) and `BuiltInContainerMaterializer` (dict, list, tuple): artrepo's
`BuiltInMaterializer` handles bytes too, so `BytesMaterializer` is the same class.
"""
from artrepo.materializers.base import BaseMaterializer
from artrepo.materializers.builtins import BuiltInMaterializer, ContainerMaterializer

BuiltInContainerMaterializer = ContainerMaterializer
BytesMaterializer = BuiltInMaterializer

__all__ = ["BaseMaterializer", "BuiltInContainerMaterializer", "BuiltInMaterializer", "BytesMaterializer"]
