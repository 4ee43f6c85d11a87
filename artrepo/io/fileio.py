"""ZenML's `fileio` functions on local paths.

    from artrepo.io import fileio
    with fileio.open(os.path.join(self.uri, "data.json"), "w") as f: ...

Same names, arguments, return shapes and errors as `zenml.io.fileio`.
artrepo stores artifact files in its own chunk store, never at a URL, so a
path such as `s3://bucket/key` is refused instead of being written to a
local folder of that name.
"""
from __future__ import annotations

import builtins
import glob as _glob
import os
import shutil
from typing import Any, Callable, Iterable

from artrepo.errors import UserError

PathType = bytes | str


def convert_to_str(path: PathType) -> str:
    """A path as `str` (bytes are UTF-8)."""
    return path if isinstance(path, str) else path.decode("utf-8")


def _local(path: PathType) -> str:
    text = convert_to_str(os.fspath(path))
    if "://" in text:
        raise UserError(f"artrepo's fileio works on local paths only, not {text!r}: materializers write under "
                        "self.uri, a local folder, and artrepo stores those files itself")
    return text


def open(path: PathType, mode: str = "r") -> Any:  # noqa: A001 - ZenML's name
    """Open a file (as the built-in `open`; text is UTF-8)."""
    return builtins.open(_local(path), mode, encoding=None if "b" in mode else "utf-8")


def copy(src: PathType, dst: PathType, overwrite: bool = False) -> None:
    """Copy a file; FileExistsError if `dst` exists and not `overwrite`."""
    src, dst = _local(src), _local(dst)
    if not overwrite and os.path.exists(dst):
        raise FileExistsError(f"Destination file '{dst}' already exists and `overwrite` is false.")
    shutil.copyfile(src, dst)


def exists(path: PathType) -> bool:
    return os.path.exists(_local(path))


def glob(pattern: PathType) -> list[PathType]:
    return _glob.glob(_local(pattern))


def isdir(path: PathType) -> bool:
    return os.path.isdir(_local(path))


def listdir(path: str, only_file_names: bool = True) -> list[str]:
    """Names in a folder (full paths if not `only_file_names`); [] if it does not exist."""
    folder = _local(path)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return names if only_file_names else [os.path.join(folder, n) for n in names]


def makedirs(path: PathType) -> None:
    os.makedirs(_local(path), exist_ok=True)


def mkdir(path: PathType) -> None:
    os.mkdir(_local(path))


def remove(path: PathType) -> None:
    path = _local(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} does not exist!")
    os.remove(path)


def rename(src: PathType, dst: PathType, overwrite: bool = False) -> None:
    src, dst = _local(src), _local(dst)
    if not overwrite and os.path.exists(dst):
        raise FileExistsError(f"Destination file {dst} already exists and `overwrite` is false.")
    os.replace(src, dst)


def rmtree(dir_path: str) -> None:
    path = _local(dir_path)
    if not os.path.isdir(path):
        raise TypeError(f"Path '{path}' is not a directory.")
    shutil.rmtree(path)


def stat(path: PathType) -> os.stat_result:
    return os.stat(_local(path))


def size(path: PathType) -> int:
    """Bytes of a file, or of every file under a folder; 0 if it does not exist."""
    path = _local(path)
    if not os.path.exists(path):
        return 0
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def walk(top: PathType, topdown: bool = True,
         onerror: Callable[..., None] | None = None) -> Iterable[tuple[PathType, list[PathType], list[PathType]]]:
    return os.walk(_local(top), topdown=topdown, onerror=onerror)


__all__ = ["copy", "exists", "glob", "isdir", "listdir", "makedirs", "mkdir", "open", "remove", "rename",
           "rmtree", "size", "stat", "walk"]
