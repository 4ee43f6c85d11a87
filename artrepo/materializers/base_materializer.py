"""ZenML's module path: `from artrepo.materializers.base_materializer import BaseMaterializer`."""
from artrepo.materializers.base import BaseMaterializer

__all__ = ["BaseMaterializer"]
