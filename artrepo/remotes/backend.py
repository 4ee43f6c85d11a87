"""The few operations a remote store must offer, and the fsspec adapter.

Keys are `/`-separated paths relative to the remote's root URL. Content-
addressed objects (packs, index files, git packs) are written with `put`;
the one mutable object (the ref table, see state.py) only with the
conditional writes `put_if_absent` / `put_if_match`, whose atomicity is what
makes concurrent pushers safe. Each backend says how it provides it:
local folders with link(2) and flock (local.py), S3 with If-None-Match /
If-Match (s3.py), and this generic adapter with a process-local lock, which
is atomic for `memory://` only.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

from artrepo.errors import UserError
from artrepo.storage.hashing import digest


class RemoteMissingError(KeyError):
    """The key does not exist on the remote."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Size and modification time (seconds since the epoch; None if the store keeps none) of an object."""

    size: int
    mtime: float | None


class RemoteBackend(Protocol):
    url: str

    def get(self, key: str) -> bytes:
        """The whole object (one request); RemoteMissingError if absent."""

    def get_with_token(self, key: str) -> tuple[bytes, str] | None:
        """The object and a token for `put_if_match`, or None if absent."""

    def put(self, key: str, data: bytes) -> None:
        """Create or replace atomically (readers never see a torn object)."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create only if absent; False if the key exists (and was not our own write)."""

    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        """Replace only if unchanged since `token` was read; False otherwise."""

    def exists(self, key: str) -> bool: ...

    def info(self, key: str) -> ObjectInfo | None:
        """Size and age of one object (one HEAD), or None if absent."""

    def list_prefix(self, prefix: str) -> list[str]: ...

    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        """Every object under `prefix` with its size and age (one listing, no GET)."""

    def delete(self, key: str) -> None: ...


def open_backend(url: str, endpoint_url: str | None = None) -> RemoteBackend:
    """The backend for a remote URL: a local folder, S3, or any other fsspec protocol."""
    protocol, _, rest = url.partition("://") if "://" in url else ("file", "", url)
    if protocol == "file":
        from artrepo.remotes.local import LocalBackend

        return LocalBackend(url, rest)
    if protocol in ("s3", "s3a"):
        from artrepo.remotes.s3 import S3Backend

        return S3Backend(url, rest, endpoint_url)
    import fsspec

    try:
        fs = fsspec.filesystem(protocol)
    except (ValueError, ImportError) as exc:
        raise UserError(f"cannot open remote {url}: {exc}") from None
    return FsspecBackend(url, fs, fs._strip_protocol(url))


def check_url(url: str) -> None:
    """Refuse a URL whose protocol fsspec does not know (no network access)."""
    if "://" not in url:
        return
    protocol = url.partition("://")[0]
    if protocol in ("file", "s3", "s3a"):
        return
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as exc:
        raise UserError(f"unsupported remote URL {url}: {exc}") from None


def with_retries(call, *, attempts: int = 5, what: str = "remote request"):
    """Run `call()`, retrying transient network errors with exponential backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except (ConnectionError, TimeoutError) as exc:
            if attempt == attempts - 1:
                raise UserError(f"{what} failed after {attempts} attempts: {exc}") from None
            time.sleep(min(5.0, 0.1 * 2 ** attempt))


def content_token(backend, key: str) -> tuple[bytes, str] | None:
    """`get_with_token` for backends without ETags: the token is the content's hash."""
    try:
        data = backend.get(key)
    except RemoteMissingError:
        return None
    return data, digest(data).hex()


class FsspecBackend:
    """Any fsspec filesystem. Conditional writes are atomic within this process only."""

    _lock = threading.Lock()

    def __init__(self, url: str, fs, root: str):
        self.url = url
        self.fs = fs
        self.root = root.rstrip("/")

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def get(self, key: str) -> bytes:
        try:
            return with_retries(lambda: self.fs.cat_file(self.path(key)), what=f"read {key}")
        except FileNotFoundError:
            raise RemoteMissingError(key) from None

    def get_with_token(self, key: str) -> tuple[bytes, str] | None:
        return content_token(self, key)

    def put(self, key: str, data: bytes) -> None:
        with_retries(lambda: self.fs.pipe_file(self.path(key), bytes(data)), what=f"write {key}")

    def put_if_absent(self, key: str, data: bytes) -> bool:
        with self._lock:
            if self.fs.exists(self.path(key)):
                return False
            self.put(key, data)
            return True

    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        with self._lock:
            current = self.get_with_token(key)
            if current is None or current[1] != token:
                return False
            self.put(key, data)
            return True

    def exists(self, key: str) -> bool:
        return with_retries(lambda: self.fs.exists(self.path(key)), what=f"look up {key}")

    def info(self, key: str) -> ObjectInfo | None:
        try:
            return _object_info(with_retries(lambda: self.fs.info(self.path(key)), what=f"look up {key}"))
        except FileNotFoundError:
            return None

    def list_prefix(self, prefix: str) -> list[str]:
        try:
            found = self.fs.find(self.path(prefix))
        except FileNotFoundError:
            return []
        cut = len(self.root) + 1
        return sorted(p[cut:] if p.startswith(self.root + "/") else p for p in found)

    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        try:
            found = with_retries(lambda: self.fs.find(self.path(prefix), detail=True), what=f"list {prefix}")
        except FileNotFoundError:
            return {}
        cut = len(self.root) + 1
        return {(p[cut:] if p.startswith(self.root + "/") else p): _object_info(d) for p, d in found.items()}

    def delete(self, key: str) -> None:
        try:
            self.fs.rm_file(self.path(key))
        except FileNotFoundError:
            pass


def _object_info(detail: dict) -> ObjectInfo:
    """fsspec listing details -> ObjectInfo (S3: LastModified; local and memory: mtime or created)."""
    stamp = detail.get("LastModified") or detail.get("mtime") or detail.get("created")
    if hasattr(stamp, "timestamp"):
        stamp = stamp.timestamp()
    return ObjectInfo(int(detail.get("size") or 0), float(stamp) if stamp is not None else None)
