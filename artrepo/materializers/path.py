"""Files and folders (`pathlib.Path`), as `register_artifact` ingests them.

A folder is walked without following symlinks: a link is stored as a link
(its target text), never as the bytes it points to, so registering a folder
cannot leak files from outside it. FIFOs, sockets and devices are refused.
Loading gives a `Path` to a read-only materialized copy.
"""
from __future__ import annotations

import os
from pathlib import Path

from artrepo.errors import UserError
from artrepo.materializers.base import BaseMaterializer
from artrepo.records.artifact import ArtifactType


class PathMaterializer(BaseMaterializer):
    ASSOCIATED_TYPES = (Path,)
    ASSOCIATED_ARTIFACT_TYPE = ArtifactType.DATA
    STREAMS = True
    ID = "path/v1"

    def save(self, data) -> None:
        source = Path(data).absolute()
        if not source.exists():
            raise UserError(f"no such file or folder: {source}")
        if source.is_dir():
            self._files.add_tree(source, self._prefix + "dir/")
        elif source.is_file():
            self._files.add_file(f"{self._prefix}file/{source.name}", source)
        else:
            raise UserError(f"cannot store {source}: not a regular file or folder")

    def load(self, data_type: type) -> Path:
        cache = self._files.read_only_copy(self._prefix)
        if (cache / "dir").is_dir():
            return cache / "dir"
        inner = cache / "file"
        names = os.listdir(inner) if inner.is_dir() else []
        return inner / names[0] if names else cache

    def extract_metadata(self, data) -> dict:
        source = Path(data)
        if source.is_dir():
            count = sum(len(files) for _, _, files in os.walk(source))
            return {"kind": "folder", "files": count}
        return {"kind": "file", "filename": source.name}

    def save_visualizations(self, data):
        from artrepo.materializers.visuals import path_visualizations

        return path_visualizations(self, data)

