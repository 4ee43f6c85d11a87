"""Chunk data between the local store and a remote: what is missing, repacked, verified.

Push reads the stored (already compressed) bytes of the chunks the remote
lacks and groups them into new packs of ~16 MiB, so that thousands of small
local packs become a few remote objects. Pull downloads whole packs (ranged
GETs are slow on many S3 servers), verifies the pack id and every chunk
(bounded decompression, BLAKE3) in memory, and only then writes the pack and
an index file naming it. Nothing unverified reaches the local store.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from artrepo.errors import IntegrityError, UserError
from artrepo.storage import hashing
from artrepo.atomic import fsync_dir, write_atomic
from artrepo.storage.chunkstore import PACK_TARGET, decompress_chunk, verify_chunk
from artrepo.storage.index import decode_index, encode_index
from artrepo.storage.packfile import CODEC_ZSTD, PackEntry, decode_header, encode_header

WORKERS = 4
# A pack left by an interrupted push is reused only while it is younger than this; an older one is
# uploaded again (which makes it young), so a remote gc with a grace period longer than this window
# plus the push's duration never deletes a pack that a push counts on (docs/reliability.md).
REUSE_WINDOW = 30 * 60


class RemoteIndexGone(UserError):
    """An index file the ref table named is gone: a remote gc replaced it since the table was read."""


def pack_key(pack_id: bytes) -> str:
    return f"packs/{pack_id.hex()}"


def needed_chunks(repo, version_ids) -> dict[bytes, int]:
    """Every chunk the versions' data and visualizations name: {chunk id: raw length}, in order."""
    out: dict[bytes, int] = {}
    for vid in version_ids:
        manifest = repo.manifest(vid)
        for stored in list(manifest.files) + [v[2] for v in manifest.visualizations]:
            for cid, n in stored.chunks:
                out.setdefault(cid, n)
    return out


class RemoteIndex:
    """The union of a remote's index files, cached in `remote-cache/<name>/index/`."""

    def __init__(self, cache: Path):
        self.folder = cache / "index"
        self.locations: dict[bytes, bytes] = {}  # chunk id -> remote pack id
        self._files: dict[str, dict[bytes, bytes]] = {}  # index file name -> its {chunk id: pack id}

    def sync(self, backend, names: list[str]) -> int:
        """Make `locations` exactly the union of the named index files; returns how many were downloaded.

        Exactly: after a remote gc rewrote the index list, chunks of dropped packs are forgotten, so a
        push that re-plans uploads them again instead of naming a deleted pack.
        """
        fetched = 0
        for name in names:
            if name not in self._files:
                fetched += self._load(backend, name)
        self.locations = {}
        for name in names:
            for cid, pid in self._files[name].items():
                self.locations.setdefault(cid, pid)
        return fetched

    def _load(self, backend, name: str) -> int:
        from artrepo.remotes.backend import RemoteMissingError

        path = self.folder / name
        if path.is_file():
            data, fetched = path.read_bytes(), 0
        else:
            try:
                data, fetched = backend.get(f"index/{name}"), 1
            except RemoteMissingError:
                raise RemoteIndexGone(f"remote index {name[:12]} is gone (a remote gc replaced it); run again") from None
        if hashing.digest(data).hex() != name:
            raise IntegrityError(f"remote index {name[:12]}: content does not match its name")
        self._files[name] = {e.chunk_id: pid for pid, entries in decode_index(data, name[:12]).items()
                             for e in entries}
        if not path.is_file():
            write_atomic(path, data)
        return fetched


def build_packs(store, chunk_ids):
    """Yield (pack id, pack bytes, entries): the chunks' stored bytes regrouped into packs."""
    buf, entries = bytearray(), []
    fds: dict[bytes, int] = {}
    try:
        for cid in chunk_ids:
            loc = store.index.locations.get(cid)
            if loc is None:
                store.index.refresh()
                loc = store.index.locations.get(cid)
            if loc is None:
                raise IntegrityError(f"chunk {cid.hex()[:12]} is missing from the local store; cannot push it")
            pid, e = loc
            fd = fds.get(pid)
            if fd is None:
                fd = fds[pid] = os.open(store.pack_path(pid), os.O_RDONLY)
            data = os.pread(fd, e.length, e.offset)
            if len(data) != e.length:
                raise IntegrityError(f"chunk {cid.hex()[:12]} in pack {pid.hex()[:12]}: truncated")
            entries.append(PackEntry(cid, e.codec, len(buf), e.length, e.raw_length))
            buf += data
            if len(buf) >= PACK_TARGET:
                yield _seal(buf, entries)
                buf, entries = bytearray(), []
        if entries:
            yield _seal(buf, entries)
    finally:
        for fd in fds.values():
            os.close(fd)


def _seal(buf: bytearray, entries: list[PackEntry]):
    header = encode_header(entries)
    buf += header
    return hashing.digest(header), bytes(buf), entries


def upload_packs(backend, packs, progress) -> tuple[dict[bytes, list[PackEntry]], int]:
    """Upload packs not already on the remote (a re-run skips what arrived); returns (index, bytes sent)."""
    index: dict[bytes, list[PackEntry]] = {}
    sent = 0

    def send(pid: bytes, data: bytes) -> int:
        key = pack_key(pid)
        found = backend.info(key)
        if found is not None and found.size == len(data) and _young(found.mtime):  # left by an interrupted push
            progress.advance(len(data))
            return 0
        backend.put(key, data)
        progress.advance(len(data))
        return len(data)

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="artrepo-push") as pool:
        pending = []
        for pid, data, entries in packs:
            index[pid] = entries
            pending.append(pool.submit(send, pid, data))
            while len(pending) > WORKERS * 2:  # bound memory: ~12 packs in flight
                sent += pending.pop(0).result()
        for fut in pending:
            sent += fut.result()
    return index, sent


def _young(mtime: float | None) -> bool:
    return mtime is not None and time.time() - mtime < REUSE_WINDOW


def upload_index(backend, index: dict[bytes, list[PackEntry]]) -> str:
    data = encode_index(index)
    name = hashing.digest(data).hex()
    backend.put(f"index/{name}", data)
    return name


def verify_pack(pack_id: bytes, data: bytes) -> list[PackEntry]:
    """Entries of a pack after checking its id and every chunk; IntegrityError otherwise."""
    name = pack_id.hex()[:12]
    entries = decode_header(data, len(data), name)
    hlen = int.from_bytes(data[-12:-8], "little")
    if hashing.digest(data[-12 - hlen:]) != pack_id:
        raise IntegrityError(f"pack {name}: header does not match the pack id")
    view = memoryview(data)
    for e in entries:
        stored = view[e.offset:e.offset + e.length]
        plain = decompress_chunk(bytes(stored), e, pack_id) if e.codec == CODEC_ZSTD else stored
        verify_chunk(plain, e, pack_id)
    return entries


def fetch_packs(backend, store, pack_ids, progress) -> int:
    """Download, verify and store packs, then index them; returns bytes downloaded."""
    got: dict[bytes, list[PackEntry]] = {}
    received = 0

    def fetch(pid: bytes) -> tuple[bytes, list[PackEntry], int]:
        path = store.pack_path(pid)
        if path.is_file():  # left by an interrupted pull: verify instead of downloading again
            try:
                entries = verify_pack(pid, path.read_bytes())
                progress.advance(path.stat().st_size)
                return pid, entries, 0
            except IntegrityError:
                path.unlink()
        data = backend.get(pack_key(pid))
        entries = verify_pack(pid, data)
        write_atomic(path, data)
        progress.advance(len(data))
        return pid, entries, len(data)

    with ThreadPoolExecutor(WORKERS, thread_name_prefix="artrepo-pull") as pool:
        for pid, entries, n in pool.map(fetch, list(pack_ids)):
            got[pid] = entries
            received += n
    if got:
        store.index.write(got)
        fsync_dir(store.root / "index")
    return received
