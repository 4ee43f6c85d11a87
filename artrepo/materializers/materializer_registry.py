"""ZenML's `materializer_registry`: choose the materializer of a type for the whole process.

    from artrepo.materializers.materializer_registry import materializer_registry
    materializer_registry.register_and_overwrite_type(key=pd.DataFrame, type_=FastPandasMaterializer)
"""
from __future__ import annotations

from artrepo.materializers import registry


class MaterializerRegistry:
    """`register_materializer_type`, `register_and_overwrite_type`, `[type]`, `is_registered`."""

    def register_materializer_type(self, key: type, type_: type) -> None:
        """Use `type_` for `key` unless a user materializer already handles exactly `key` (ZenML's rule)."""
        if key not in registry.user_types():
            registry.register_type(key, type_)

    def register_and_overwrite_type(self, key: type, type_: type) -> None:
        registry.register_type(key, type_)

    def __getitem__(self, key: type) -> type:
        return registry.for_type(key)

    def is_registered(self, key: type) -> bool:
        return any(klass in registry.user_types() for klass in key.__mro__)

    def get_materializer_types(self) -> dict[type, type]:
        return dict(registry.user_types())


materializer_registry = MaterializerRegistry()
