"""`self.artifact_store` of a materializer: ZenML's artifact-store file API, kept inside one folder.

    with self.artifact_store.open(os.path.join(self.uri, "data.json"), "w") as f:
        json.dump(data, f)

A materializer's `uri` is a local folder whose files become the version's
files; a path outside the store's folder raises the `FileNotFoundError` ZenML
raises for a path outside its artifact store, since a file written there would
not be part of the version.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from artrepo.io import fileio
from artrepo.io.fileio import PathType


class LocalArtifactStore:
    """open, copyfile, exists, glob, isdir, listdir, makedirs, mkdir, remove, rename, rmtree, stat, size, walk."""

    def __init__(self, path: str | os.PathLike):
        self._root = os.path.abspath(os.fspath(path))

    def __repr__(self) -> str:
        return f"LocalArtifactStore(path={self._root!r})"

    @property
    def path(self) -> str:
        """The folder this store keeps its files in."""
        return self._root

    def _inside(self, path: PathType) -> str:
        text = os.path.abspath(fileio.convert_to_str(os.fspath(path)))
        if text != self._root and not text.startswith(self._root + os.sep):
            raise FileNotFoundError(f"File `{fileio.convert_to_str(os.fspath(path))}` is outside of artifact "
                                    f"store bounds `{self._root}`")
        return text

    def open(self, path: PathType, mode: str = "r") -> Any:
        return fileio.open(self._inside(path), mode)

    def copyfile(self, src: PathType, dst: PathType, overwrite: bool = False) -> None:
        fileio.copy(self._inside(src), self._inside(dst), overwrite=overwrite)

    def exists(self, path: PathType) -> bool:
        return fileio.exists(self._inside(path))

    def glob(self, pattern: PathType) -> list[PathType]:
        return fileio.glob(self._inside(pattern))

    def isdir(self, path: PathType) -> bool:
        return fileio.isdir(self._inside(path))

    def listdir(self, path: PathType) -> list[PathType]:
        return os.listdir(self._inside(path))

    def makedirs(self, path: PathType) -> None:
        fileio.makedirs(self._inside(path))

    def mkdir(self, path: PathType) -> None:
        fileio.mkdir(self._inside(path))

    def remove(self, path: PathType) -> None:
        fileio.remove(self._inside(path))

    def rename(self, src: PathType, dst: PathType, overwrite: bool = False) -> None:
        fileio.rename(self._inside(src), self._inside(dst), overwrite=overwrite)

    def rmtree(self, path: PathType) -> None:
        fileio.rmtree(self._inside(path))

    def stat(self, path: PathType) -> os.stat_result:
        return fileio.stat(self._inside(path))

    def size(self, path: PathType) -> int:
        return fileio.size(self._inside(path))

    def walk(self, top: PathType, topdown: bool = True,
             onerror: Callable[..., None] | None = None) -> Iterable[tuple[PathType, list[PathType], list[PathType]]]:
        return fileio.walk(self._inside(top), topdown=topdown, onerror=onerror)
