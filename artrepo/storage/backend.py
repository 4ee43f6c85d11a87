"""One backend interface for every place objects are stored, fsspec style.

    backend = open_backend("s3://bucket/prefix", endpoint_url)
    backend.put_content("packs/<id>", data)      # create-only; already there is success

Keys are `/`-separated paths relative to the backend's root URL. Content-
addressed objects (packs, index files, git packs) are written create-only
with `put_content`: an object that exists already holds the same content, so
many writers on many machines may write the same key at once. The one
mutable object (a remote's ref table) is written only with the conditional
writes `put_if_absent` / `put_if_match`, whose atomicity is what makes
concurrent pushers safe. Each backend says how it provides it: local folders
with link(2) and flock, S3 with If-None-Match / If-Match, other fsspec
filesystems with a process-local lock (atomic for `memory://` only).

Backends are registered by URL protocol and imported only when used: this
module imports none of them.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from artrepo.storage.hashing import digest


class MissingObjectError(KeyError):
    """The key does not exist in the backend."""


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Size and modification time (seconds since the epoch; None if the store keeps none) of an object."""

    size: int
    mtime: float | None


class Backend(ABC):
    """A flat namespace of immutable-once-written objects (and one kind of conditional write)."""

    url: str

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object (one request); MissingObjectError if absent."""

    @abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """At most `length` bytes from `start` (fewer only at the object's end); MissingObjectError if absent."""

    @abstractmethod
    def put(self, key: str, data) -> None:
        """Create or replace atomically (readers never see a torn object). `data`: bytes or a list of buffers."""

    @abstractmethod
    def put_if_absent(self, key: str, data) -> bool:
        """Create only if absent; False if the key exists (and was not our own write)."""

    def put_content(self, key: str, data) -> None:
        """Create-only write of a content-addressed object: an object already at `key` is success."""
        self.put_new(key, data)

    def put_new(self, key: str, data) -> bool:
        """Create-only write of a content-addressed object, in one request: False if `key` existed.

        Unlike `put_if_absent`, a refusal is never checked against our own data
        (whoever wrote a content-addressed key wrote the same bytes).
        """
        return self.put_if_absent(key, data)

    def get_with_token(self, key: str) -> tuple[bytes, str] | None:
        """The object and a token for `put_if_match`, or None if absent (here: the content's hash)."""
        try:
            data = self.get(key)
        except MissingObjectError:
            return None
        return data, digest(data).hex()

    @abstractmethod
    def put_if_match(self, key: str, data: bytes, token: str) -> bool:
        """Replace only if unchanged since `token` was read; False otherwise."""

    @abstractmethod
    def info(self, key: str) -> ObjectInfo | None:
        """Size and age of one object (one HEAD), or None if absent."""

    def exists(self, key: str) -> bool:
        return self.info(key) is not None

    @abstractmethod
    def stat_prefix(self, prefix: str) -> dict[str, ObjectInfo]:
        """Every object under the folder `prefix` with its size and age (one listing, no GET)."""

    def list_prefix(self, prefix: str) -> list[str]:
        """Keys of every object under the folder `prefix`, sorted."""
        return sorted(self.stat_prefix(prefix))

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object, durably; a missing one is no error."""

    def local_path(self, key: str) -> Path | None:
        """The file holding `key`, for backends on the local filesystem (fast paths); else None."""
        return None

    @classmethod
    def check_url(cls, url: str) -> None:
        """Refuse a URL this backend cannot open, without network access."""


# protocol -> "module:class"; "*" serves every protocol fsspec knows
_BACKENDS = {
    "file": "artrepo.storage.backends.local:LocalBackend",
    "s3": "artrepo.storage.backends.s3:S3Backend",
    "s3a": "artrepo.storage.backends.s3:S3Backend",
    "*": "artrepo.storage.backends.generic:FsspecBackend",
}


def register(protocol: str, target: str) -> None:
    """Serve URLs of `protocol` with the class `target` ("package.module:Class"), imported when first used."""
    _BACKENDS[protocol] = target


def protocol_of(url: str) -> str:
    return url.partition("://")[0] if "://" in url else "file"


def backend_class(url: str) -> type[Backend]:
    module, _, name = _BACKENDS.get(protocol_of(url), _BACKENDS["*"]).partition(":")
    return getattr(importlib.import_module(module), name)


def open_backend(url: str, endpoint_url: str | None = None) -> Backend:
    """The backend for a URL: a local folder, S3, or any other fsspec protocol."""
    return backend_class(url)(url, endpoint_url)


def check_url(url: str) -> None:
    """Refuse a URL no backend can open (no network access)."""
    backend_class(url).check_url(url)


def joined(data) -> bytes:
    """`data` (bytes or a list of buffers) as one bytes object."""
    return b"".join(data) if isinstance(data, list) else bytes(data)
