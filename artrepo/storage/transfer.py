"""Moving chunks between two content stores: push, pull and on-demand fetch are one `transfer`.

    moved = transfer(repo.chunks, remote_store, chunk_ids)   # push
    moved = transfer(remote_store, repo.chunks, chunk_ids)   # pull

Where the source is on the local filesystem (reads are cheap), the chunks the
destination lacks are regrouped: their stored (compressed) bytes are gathered
into new packs of ~16 MiB, so thousands of small packs become a few objects;
a pack regrouped whole keeps its id. Elsewhere (ranged GETs are slow on many
S3 servers) the source packs holding them are copied whole, each read no
further than the size its index entries imply. Either way every pack is
verified before it is written (its id, and every chunk decompressed within
the bound its entry gives and hashed), and the one index file naming the new
packs is written after all of them (`ChunkStore.publish`): nothing
unverified becomes visible, and a transfer killed midway leaves unindexed
packs that the next run reuses and gc removes.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from artrepo.errors import IntegrityError
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.ids import ChunkId, PackId, pack_id, short
from artrepo.storage.packfile import (MAX_PACK_ENTRIES, PACK_TARGET, PackEntry, check_blob,
                                      encode_footer, pack_size, verify_pack)

WORKERS = 4


@dataclass
class Moved:
    """What a transfer did: chunks and packs now in the destination, bytes it had to write there."""

    chunks: int = 0
    packs: int = 0
    bytes: int = 0  # bytes written (packs already in the destination excluded)
    index_file: str | None = None  # the destination's new index file (None when nothing was missing)


def transfer(src: ChunkStore, dest: ChunkStore, ids: Iterable[ChunkId], progress=None, label: str = "transfer") -> Moved:
    """Copy the chunks `ids` that `dest` lacks from `src`, verified, and index them in `dest`.

    `progress` (optional) has `start(label, packs)`, `advance(bytes)` per pack and `finish()`.
    """
    missing = [c for c in dict.fromkeys(ids) if not dest.has(c)]
    moved = Moved(chunks=len(missing))
    if not missing:
        return moved
    if src.root is not None:
        jobs = [(_regrouped, group) for group in _groups(src, missing)]
    else:
        jobs = [(_whole, pid) for pid in dict.fromkeys(src.locate(c)[0] for c in missing)]
    if progress is not None:
        progress.start(label, len(jobs))
    written: dict[PackId, list[PackEntry]] = {}
    for pid, entries, size, sent in in_order(lambda job: job[0](src, dest, job[1]), jobs, WORKERS, "transfer"):
        written[pid] = entries
        moved.bytes += size if sent else 0
        if progress is not None:
            progress.advance(size)
    if progress is not None:
        progress.finish()
    moved.packs = len(written)
    moved.index_file = dest.publish(written)
    return moved


def in_order(fn, items: Iterable, workers: int, name: str):
    """`fn(item)` of each item, in order, run by `workers` threads with at most twice as many results held
    (bounded memory: a dozen packs in flight)."""
    pending: deque = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix=f"artrepo-{name}") as pool:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _groups(src: ChunkStore, missing: list[ChunkId]) -> list[list[tuple[PackId, PackEntry]]]:
    """The chunks' locations in `src`, cut into groups of about PACK_TARGET stored bytes."""
    groups, group, size = [], [], 0
    for cid in missing:
        loc = src.locate(cid)
        group.append(loc)
        size += loc[1].length
        if size >= PACK_TARGET or len(group) >= MAX_PACK_ENTRIES:
            groups.append(group)
            group, size = [], 0
    return groups + [group] if group else groups


def _regrouped(src: ChunkStore, dest: ChunkStore, group: list[tuple[PackId, PackEntry]]):
    """One new pack of the group's stored bytes, each chunk verified, written to `dest`."""
    parts, entries, offset = [], [], 0
    for from_pack, e in group:
        stored = src.read_range(from_pack, e.offset, e.length)
        check_blob(stored, e, from_pack)
        parts.append(stored)
        entries.append(PackEntry(e.chunk_id, e.codec, offset, e.length, e.raw_length))
        offset += e.length
    footer = encode_footer(entries)
    pid = pack_id(footer)
    sent = dest.write_pack(pid, parts + [footer])
    return pid, entries, offset + len(footer), sent


def _whole(src: ChunkStore, dest: ChunkStore, pid: PackId):
    """The whole source pack, verified against its id and the entries the source's index gives."""
    entries = src.index.packs[pid]  # bounded when the index was decoded (index.decode_index)
    size = pack_size(entries)
    damaged = False
    if dest.root is not None and dest.pack_path(pid).is_file():  # left by an interrupted transfer
        try:
            _verified(pid, dest.read_pack(pid, size), entries)
            return pid, entries, size, False
        except IntegrityError:
            damaged = True
    data = src.read_pack(pid, size)
    _verified(pid, data, entries)
    dest.write_pack(pid, [data], replace=damaged)
    return pid, entries, size, True


def _verified(pid: PackId, data: bytes, entries: list[PackEntry]) -> None:
    if verify_pack(pid, data) != entries:
        raise IntegrityError(f"pack {short(pid)}: its footer differs from the index entries naming it")
