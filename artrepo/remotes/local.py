"""A remote in a local (or mounted) folder, with atomic writes done by the OS.

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

from artrepo.errors import UserError
from artrepo.remotes.backend import ObjectInfo, RemoteMissingError, content_token
from artrepo.atomic import flock, write_atomic


class LocalBackend:
    def __init__(self, url: str, path: str):
        self.url = url
        self.root = Path(path).expanduser().resolve()

    def path(self, key: str) -> Path:
        return self.root / key

    def _ensure_root(self) -> None:
        if not self.root.is_dir():
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create remote folder {self.root}: {exc.strerror}") from None

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteMissingError(key) from None

    def get_with_token(self, key: str) -> tuple[bytes, str] | None:
        return content_token(self, key)

    def put(self, key: str, data: bytes) -> None:
        self._ensure_root()
        write_atomic(self.path(key), data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self._ensure_root()
        return write_atomic(self.path(key), data, exclusive=True)

    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        self._ensure_root()
        with flock(self.root / "locks" / key.replace("/", "-")):
            current = self.get_with_token(key)
            if current is None or current[1] != token:
                return False
            write_atomic(self.path(key), data)
            return True

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def info(self, key: str) -> ObjectInfo | None:
        try:
            st = self.path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(st.st_size, st.st_mtime)

    def list_prefix(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        out = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if not name.startswith(".tmp-"):
                    out.append(str((Path(dirpath) / name).relative_to(self.root)))
        return sorted(out)

    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        found = {key: self.info(key) for key in self.list_prefix(prefix)}
        return {key: info for key, info in found.items() if info is not None}

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass
