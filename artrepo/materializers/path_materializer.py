"""ZenML's module path for `pathlib.Path` values (files and folders)."""
from artrepo.materializers.path import PathMaterializer

__all__ = ["PathMaterializer"]
