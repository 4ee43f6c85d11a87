"""Python objects <-> stored files. `BaseMaterializer` is the extension point."""
from artrepo.materializers.base import BaseMaterializer

__all__ = ["BaseMaterializer"]
