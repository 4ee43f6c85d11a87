"""Any fsspec filesystem (`memory://`, `gcs://`, ...). Conditional writes are atomic within this process only."""
from __future__ import annotations

import threading
import time

from artrepo.errors import UserError
from artrepo.storage.backend import Backend, MissingObjectError, ObjectInfo, joined, protocol_of


def with_retries(call, *, attempts: int = 5, what: str = "remote request"):
    """Run `call()`, retrying transient network errors with exponential backoff."""
    for attempt in range(attempts):
        try:
            return call()
        except (ConnectionError, TimeoutError) as exc:
            if attempt == attempts - 1:
                raise UserError(f"{what} failed after {attempts} attempts: {exc}") from None
            time.sleep(min(5.0, 0.1 * 2 ** attempt))


class FsspecBackend(Backend):
    _lock = threading.Lock()

    def __init__(self, url: str, endpoint_url: str | None = None, fs=None):
        import fsspec

        self.url = url
        if fs is None:
            try:
                fs = fsspec.filesystem(protocol_of(url))
            except (ValueError, ImportError) as exc:
                raise UserError(f"cannot open remote {url}: {exc}") from None
        self.fs = fs
        self.root = fs._strip_protocol(url).rstrip("/")

    @classmethod
    def check_url(cls, url: str) -> None:
        import fsspec

        try:
            fsspec.get_filesystem_class(protocol_of(url))
        except (ValueError, ImportError) as exc:
            raise UserError(f"unsupported remote URL {url}: {exc}") from None

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _key(self, path: str) -> str:
        return path[len(self.root) + 1:] if path.startswith(self.root + "/") else path

    def get(self, key: str, *span) -> bytes:
        try:
            return with_retries(lambda: self.fs.cat_file(self.path(key), *span), what=f"read {key}")
        except FileNotFoundError:
            raise MissingObjectError(key) from None

    def get_range(self, key: str, start: int, length: int) -> bytes:
        return self.get(key, start, start + length)

    def put(self, key: str, data) -> None:
        with_retries(lambda: self.fs.pipe_file(self.path(key), joined(data)), what=f"write {key}")

    def put_if_absent(self, key: str, data) -> bool:
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

    def info(self, key: str) -> ObjectInfo | None:
        try:
            return object_info(with_retries(lambda: self.fs.info(self.path(key)), what=f"look up {key}"))
        except FileNotFoundError:
            return None

    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        try:
            found = with_retries(lambda: self.fs.find(self.path(prefix), detail=True), what=f"list {prefix}")
        except FileNotFoundError:
            return {}
        return {self._key(p): object_info(d) for p, d in found.items()}

    def delete(self, key: str) -> None:
        try:
            self.fs.rm_file(self.path(key))
        except FileNotFoundError:
            pass


def object_info(detail: dict) -> ObjectInfo:
    """fsspec listing details -> ObjectInfo (S3: LastModified; local and memory: mtime or created)."""
    stamp = detail.get("LastModified") or detail.get("mtime") or detail.get("created")
    if hasattr(stamp, "timestamp"):
        stamp = stamp.timestamp()
    return ObjectInfo(int(detail.get("size") or 0), float(stamp) if stamp is not None else None)
