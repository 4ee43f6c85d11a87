"""Files and folders (`pathlib.Path`), as `register_artifact` ingests them.

A folder is walked without following symlinks: a link is stored as a link
(its target text), never as the bytes it points to, so registering a folder
cannot leak files from outside it. FIFOs, sockets and devices are refused.
Loading gives a `Path` to a read-only materialized copy.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
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
        files = self._files
        try:
            cache = _materialized(files, files.cache_dir(), self._prefix)
        except OSError as exc:  # a read-only repository: the user's own cache (docs/reliability.md, item 14)
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            cache = _materialized(files, _user_cache() / files.cache_dir().name, self._prefix)
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


def _materialized(files, cache: Path, prefix: str) -> Path:
    """`cache` (a folder named by the content hash), materialized read-only unless it already is."""
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=".tmp-"))
        try:
            files.materialize(tmp, prefix)
            from artrepo.payload import make_read_only

            make_read_only(tmp)
            try:
                os.rename(tmp, cache)
            except OSError:  # another process materialized it first
                _remove_read_only(tmp)
        except BaseException:
            _remove_read_only(tmp)
            raise
    return cache


def _user_cache() -> Path:
    """This user's cache of materialized copies, for repositories they cannot write to."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "artrepo" / "paths"


def _remove_read_only(path: Path) -> None:
    if path.exists():
        for folder, dirs, _files in os.walk(path):
            os.chmod(folder, 0o755)
        shutil.rmtree(path, ignore_errors=True)
