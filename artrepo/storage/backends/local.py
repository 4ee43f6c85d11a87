"""A local (or mounted) folder, with atomic writes done by the OS.

fsspec's generic `mode="create"` checks then writes, which lets racing
writers both win on a folder; here every object is written to a temporary
file, fsynced and renamed (or link(2)ed, which fails if the name exists), and
compare-and-swap holds an flock on `locks/<key>` while it re-reads and
replaces. flock does not work across machines on every network filesystem:
share such folders through S3 instead.
"""
from __future__ import annotations

import os
from pathlib import Path

from artrepo.atomic import flock, fsync_dir, write_atomic
from artrepo.errors import UserError
from artrepo.storage.backend import Backend, MissingObjectError, ObjectInfo

TEMP_PREFIX = ".tmp-"  # write_atomic's temporary files: never objects


class LocalBackend(Backend):
    def __init__(self, url: str, endpoint_url: str | None = None):
        self.url = url
        self.root = Path(url.partition("://")[2] if "://" in url else url).expanduser().resolve()

    def local_path(self, key: str) -> Path:
        return self.root / key

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create folder {self.root}: {exc.strerror}") from None

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise MissingObjectError(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        try:
            fd = os.open(self.root / key, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise MissingObjectError(key) from None
        try:
            return os.pread(fd, length, start)
        finally:
            os.close(fd)

    def put(self, key: str, data) -> None:
        self._ensure_root()
        write_atomic(self.root / key, data)

    def put_if_absent(self, key: str, data) -> bool:
        self._ensure_root()
        return write_atomic(self.root / key, data, exclusive=True)

    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        self._ensure_root()
        with flock(self.root / "locks" / key.replace("/", "-")):
            current = self.get_with_token(key)
            if current is None or current[1] != token:
                return False
            write_atomic(self.root / key, data)
            return True

    def info(self, key: str) -> ObjectInfo | None:
        try:
            st = (self.root / key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(st.st_size, st.st_mtime)

    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        out = {}
        for key, entry in self._files(prefix):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            out[key] = ObjectInfo(st.st_size, st.st_mtime)
        return out

    def list_prefix(self, prefix: str) -> list[str]:
        """Keys under the folder `prefix`, sorted (names only: no stat per file)."""
        return sorted(key for key, _entry in self._files(prefix))

    def _files(self, prefix: str):
        """(key, DirEntry) of every file under the folder `prefix` but temporary ones, as os.walk lists them (links
        to folders are not followed, nor listed), without its per-folder relpath: every save lists `index/`."""
        folders = [os.path.normpath(prefix)]
        while folders:
            rel = folders.pop()
            try:
                entries = os.scandir(os.path.join(self.root, rel))
            except OSError:
                continue
            with entries:
                for e in entries:
                    if e.is_dir():
                        if not e.is_symlink():
                            folders.append(f"{rel}/{e.name}")
                    elif not e.name.startswith(TEMP_PREFIX):
                        yield f"{rel}/{e.name}", e

    def delete(self, key: str) -> None:
        path = self.root / key
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)  # durable on return, like a put (gc deletes index files before packs)
