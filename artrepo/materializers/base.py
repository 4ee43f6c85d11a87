"""BaseMaterializer: ZenML's materializer API on artrepo's store.

A materializer writes its files under `self.uri`. Built-ins stream through
`self.open(relpath, mode)` straight into the chunk store (no temporary copy);
user materializers may also use plain `open(os.path.join(self.uri, ...))`,
and artrepo ingests what they leave there.

    class MyMaterializer(BaseMaterializer):
        ASSOCIATED_TYPES = (MyModel,)
        def save(self, data): ...
        def load(self, data_type): ...
"""
from __future__ import annotations

import os
from typing import Any, ClassVar

from artrepo.errors import MaterializerError
from artrepo.records.artifact import ArtifactType, VisualizationType


class BaseMaterializer:
    """Subclass with `ASSOCIATED_TYPES`, `load`, `save`; optionally metadata and visualizations."""

    ASSOCIATED_TYPES: ClassVar[tuple[type, ...]] = ()
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.BASE
    SKIP_REGISTRATION: ClassVar[bool] = False
    # True for materializers that only use `self.open`: no files need to be
    # materialized on disk before `load`.
    STREAMS: ClassVar[bool] = False
    ID: ClassVar[str | None] = None  # stable id recorded with each version; built-ins set it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.ASSOCIATED_TYPES and not cls.SKIP_REGISTRATION and not cls.__module__.startswith("artrepo."):
            from artrepo.materializers import registry

            registry.register(cls)

    def __init__(self, uri: str, artifact_store: Any = None, *, files: Any = None, prefix: str = ""):
        self.uri = uri
        self.artifact_store = artifact_store
        self._files = files
        self._prefix = prefix

    @classmethod
    def materializer_id(cls) -> str:
        return cls.ID or f"py:{cls.__module__}.{cls.__qualname__}"

    def open(self, relpath: str, mode: str = "rb"):
        """A binary stream for a file of this artifact, by path relative to `uri`."""
        if self._files is None:
            os.makedirs(os.path.dirname(os.path.join(self.uri, relpath)) or ".", exist_ok=True)
            return open(os.path.join(self.uri, relpath), mode)
        return self._files.open(self._prefix + relpath, mode)

    def child(self, cls: type["BaseMaterializer"], relpath: str) -> "BaseMaterializer":
        """A materializer of `cls` for a sub-folder (containers of other types)."""
        return cls(os.path.join(self.uri, relpath), self.artifact_store,
                   files=self._files, prefix=f"{self._prefix}{relpath}/")

    def load(self, data_type: type) -> Any:
        raise MaterializerError(f"{type(self).__name__} does not implement load()")

    def save(self, data: Any) -> None:
        raise MaterializerError(f"{type(self).__name__} does not implement save()")

    def extract_metadata(self, data: Any) -> dict[str, Any]:
        return {}

    def save_visualizations(self, data: Any) -> dict[str, VisualizationType]:
        return {}
