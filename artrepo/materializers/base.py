"""BaseMaterializer: ZenML's materializer API on artrepo's store.

A materializer writes its files under `self.uri`, as ZenML's docs write them:
through `self.artifact_store.open(os.path.join(self.uri, ...), "w")`,
`fileio`, or plain `open`; artrepo ingests what it leaves there (chunked and
deduplicated like any other file). Built-ins stream through
`self.open(relpath, mode)` straight into the chunk store (no temporary copy).

    class MyMaterializer(BaseMaterializer):
        ASSOCIATED_TYPES = (MyModel,)
        def save(self, data): ...
        def load(self, data_type): ...
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Any, ClassVar, Iterator

from artrepo.errors import MaterializerError
from artrepo.records.artifact import ArtifactType, VisualizationType


class BaseMaterializer:
    """Subclass with `ASSOCIATED_TYPES`, `load`, `save`; optionally metadata and visualizations."""

    ASSOCIATED_TYPES: ClassVar[tuple[type, ...]] = ()
    ASSOCIATED_ARTIFACT_TYPE: ClassVar[ArtifactType] = ArtifactType.BASE
    # As in ZenML, these two apply to the class that sets them, not to its subclasses:
    SKIP_REGISTRATION: ClassVar[bool] = False
    ID: ClassVar[str | None] = None  # stable id recorded with each version; built-ins set it
    # True for materializers that only use `self.open`: no files need to be
    # materialized on disk before `load`. A user's subclass of a built-in that
    # overrides `load` reads from disk unless it sets it again.
    STREAMS: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("artrepo."):
            return
        if "STREAMS" not in cls.__dict__ and "load" in cls.__dict__:
            cls.STREAMS = False
        if cls.ASSOCIATED_TYPES and not cls.__dict__.get("SKIP_REGISTRATION", False):
            from artrepo.materializers import registry

            registry.register(cls)

    def __init__(self, uri: str, artifact_store: Any = None, *, files: Any = None, prefix: str = ""):
        self.uri = uri
        self._artifact_store = artifact_store
        self._files = files
        self._prefix = prefix

    @property
    def artifact_store(self):
        """ZenML's artifact-store file API (`open`, `exists`, `makedirs`, `listdir`…), paths under `uri`."""
        if self._artifact_store is None:
            from artrepo.io.artifact_store import LocalArtifactStore

            self._artifact_store = LocalArtifactStore(self.uri)
        return self._artifact_store

    @classmethod
    def materializer_id(cls) -> str:
        """The id recorded with a version: it names the class whose `load` reads the files.

        A subclass that does not override `load` (only `save`, metadata or
        visualizations) records its base's id, so it loads without its own code;
        a built-in's is stable; a user's class is `py:` and where it lives (see `source`).
        """
        for klass in cls.__mro__:
            if klass.__dict__.get("ID"):
                return klass.__dict__["ID"]
            if "load" in klass.__dict__:
                from artrepo.materializers.source import import_path

                return "py:" + import_path(klass)
        raise MaterializerError(f"{cls.__name__} is not a materializer")

    def open(self, relpath: str, mode: str = "rb"):
        """A binary stream for a file of this artifact, by path relative to `uri`."""
        if self._files is None:
            os.makedirs(os.path.dirname(os.path.join(self.uri, relpath)) or ".", exist_ok=True)
            return open(os.path.join(self.uri, relpath), mode)
        return self._files.open(self._prefix + relpath, mode)

    def child(self, cls: type["BaseMaterializer"], relpath: str) -> "BaseMaterializer":
        """A materializer of `cls` for a sub-folder (containers of other types).

        A child that reads and writes real files under its `uri` (a user's
        materializer) gets that folder: empty when saving (what it leaves there
        is stored under `relpath/`), holding its files when loading.
        """
        uri, prefix = os.path.join(self.uri, relpath), f"{self._prefix}{relpath}/"
        if not cls.STREAMS and self._files is not None:
            os.makedirs(uri, exist_ok=True)
            if hasattr(self._files, "materialize"):  # loading
                from pathlib import Path

                self._files.materialize(Path(uri), prefix)
        return cls(uri, None, files=self._files, prefix=prefix)

    def load(self, data_type: type) -> Any:
        raise MaterializerError(f"{type(self).__name__} does not implement load()")

    def save(self, data: Any) -> None:
        raise MaterializerError(f"{type(self).__name__} does not implement save()")

    def extract_metadata(self, data: Any) -> dict[str, Any]:
        return {}

    def save_visualizations(self, data: Any) -> dict[str, VisualizationType]:
        return {}

    # -- the rest of ZenML's BaseMaterializer API ------------------------------------
    @classmethod
    def can_save_type(cls, data_type: type) -> bool:
        return any(issubclass(data_type, t) for t in cls.ASSOCIATED_TYPES)

    can_load_type = can_save_type

    def validate_save_type_compatibility(self, data_type: type) -> None:
        if not self.can_save_type(data_type):
            raise TypeError(f"Unable to save type {data_type}. {type(self).__name__} can only save "
                            f"artifacts of the following types: {self.ASSOCIATED_TYPES}.")

    def validate_load_type_compatibility(self, data_type: type) -> None:
        if not self.can_load_type(data_type):
            raise TypeError(f"Unable to load type {data_type}. {type(self).__name__} can only load "
                            f"artifacts of the following types: {self.ASSOCIATED_TYPES}.")

    def extract_full_metadata(self, data: Any) -> dict[str, Any]:
        """The materializer's metadata; artrepo adds `storage_size` itself when it stores the files."""
        return dict(self.extract_metadata(data) or {})

    @contextlib.contextmanager
    def get_temporary_directory(self, delete_at_exit: bool = True,
                                delete_after_step_execution: bool = True) -> Iterator[str]:
        """A scratch folder outside the artifact (its files are not stored), deleted on exit by default.

        ZenML requires `delete_at_exit`; its docs call it without: both work here. A folder kept past
        the block is the caller's to remove.
        """
        folder = tempfile.mkdtemp(prefix="artrepo-")
        try:
            yield folder
        finally:
            if delete_at_exit:
                shutil.rmtree(folder, ignore_errors=True)
