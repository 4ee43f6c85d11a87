"""Consolidating a local store: small packs into full ones, many index files into few (`git gc --auto`'s job).

    result = repack(repo.chunks)

A save of a few bytes writes one small pack and one index file. Left alone,
100,000 saves leave 200,000 files, and every process lists and reads 100,000
index files. A repack treats each index file with the packs it names as a
segment and merges the smallest segments, geometrically (the segments merged
hold fewer entries together than half the next one), so a store keeps
O(log n) index files and each entry is rewritten O(log n) times. Of the
merged segments' packs, the small ones are regrouped (their stored bytes
copied, each chunk verified on the way) into new packs of up to 16 MiB; full
packs are kept as they are and only named again.

Order, so that a crash at any point loses nothing (docs/format.md §6):
1. the new packs, written and made durable (one syncfs);
2. one new index file naming the new packs and the kept ones, durable;
3. the merged segments' index files are removed, then the packs regrouped.
A process holding the old index finds a removed pack missing, re-reads the
index and reads the chunk from its new pack (ChunkStore retries once). The
caller holds the repository's maintenance lock and the shared gc lock
(`Repository.maintain`): gc never plans while a repack moves chunks.
"""
from __future__ import annotations

from dataclasses import dataclass

from artrepo.errors import IntegrityError
from artrepo.storage.chunkstore import READERS, ChunkStore
from artrepo.storage.ids import PackId, pack_id, short
from artrepo.storage.index import index_key
from artrepo.storage.packfile import MAX_PACK_ENTRIES, PACK_TARGET, PackEntry, check_blob, encode_footer, pack_size

FACTOR = 2
FULL_BYTES = PACK_TARGET // 2  # a pack this large, or with half the entries a pack may hold, is not regrouped
FULL_ENTRIES = MAX_PACK_ENTRIES // 2


@dataclass
class RepackResult:
    index_files: int = 0  # index files merged (removed)
    packs_regrouped: int = 0  # small packs whose chunks moved into new packs (removed)
    packs_written: int = 0
    index_file: str | None = None  # the new index file


def segments(store: ChunkStore) -> list[tuple[str, dict[PackId, list[PackEntry]]]]:
    """(index file, the packs it names) for every readable index file, fewest entries first."""
    files = store.index.files
    return sorted(files.items(), key=lambda item: (sum(len(e) for e in item[1].values()), item[0]))


def choose(sizes: list[int]) -> int:
    """How many of the smallest segments (sizes ascending) to merge: none unless at least two."""
    if len(sizes) < 2:
        return 0
    roll, taken = sizes[0], 1
    for size in sizes[1:]:
        if size >= FACTOR * roll:
            break
        roll += size
        taken += 1
    return taken if taken >= 2 else 0


def repack(store: ChunkStore) -> RepackResult:
    """Merge the smallest segments of a local store."""
    if store.root is None:
        raise ValueError("repack works on a local store")
    store.index.refresh()
    found = segments(store)
    taken = choose([sum(len(e) for e in packs.values()) for _n, packs in found])
    result = RepackResult()
    if taken < 2:
        return result
    merged = found[:taken]
    packs: dict[PackId, list[PackEntry]] = {}
    for _name, by_pack in merged:
        for pid, entries in by_pack.items():
            packs.setdefault(pid, entries)
    small = {pid: entries for pid, entries in packs.items() if not full(entries)}
    if len(small) < 2:
        small = {}  # one small pack alone gains nothing from being rewritten
    written = regroup(store, small)
    kept = {pid: entries for pid, entries in packs.items() if pid not in small}
    new_index = {**kept, **written}
    result.index_file = store.index.write(new_index) if new_index else None  # durable
    old_files = [name for name, _packs in merged if name != result.index_file]
    _remove(store, [index_key(name) for name in old_files])
    store.index.refresh()
    # Only once no index file that survives a crash names them: a lookup must never find a removed pack.
    _remove(store, [store.pack_key(pid) for pid in small if pid not in written])
    result.index_files, result.packs_regrouped, result.packs_written = len(old_files), len(small), len(written)
    return result


def _remove(store: ChunkStore, keys: list[str]) -> None:
    """Delete local files, then one sync makes the deletions durable (not one fsync per file)."""
    import os

    from artrepo.atomic import sync_filesystem

    for key in keys:
        try:
            os.unlink(store.root / key)
        except FileNotFoundError:
            pass
    if keys:
        sync_filesystem(store.root)


def full(entries: list[PackEntry]) -> bool:
    """Whether a pack is large enough to be left as it is (not regrouped)."""
    return len(entries) >= FULL_ENTRIES or sum(e.length for e in entries) >= FULL_BYTES


def regroup(store: ChunkStore, small: dict[PackId, list[PackEntry]], keep=None) -> dict[PackId, list[PackEntry]]:
    """The chunks of `small` packs (those in `keep` if given), copied into new packs; {new pack: entries}.

    Each chunk is verified on the way; the new packs are durable on return.
    A new pack may have the id of an old one (the same chunks in the same
    order): callers never remove a pack that is also among the new ones.
    Works on any store: a remote's packs are read whole, a few GETs in flight.
    """
    written: dict[PackId, list[PackEntry]] = {}
    parts: list = []
    entries: list[PackEntry] = []
    seen: set[bytes] = set()
    size = 0

    def seal():
        nonlocal parts, entries, size
        if entries:
            footer = encode_footer(entries)
            pid = pack_id(footer)
            store.write_pack(pid, parts + [footer])
            written[pid] = entries
        parts, entries, size = [], [], 0

    def read(item):
        return store.read_pack(item[0], pack_size(item[1]))

    # one by one from the local filesystem, elsewhere READERS requests in flight (a few packs held at a time)
    if store.root is not None:
        reads = map(read, small.items())
    else:
        from artrepo.storage.transfer import in_order  # concurrent.futures: not on a save's automatic packing

        reads = in_order(read, small.items(), READERS, "regroup")
    for (from_pack, rows), data in zip(small.items(), reads):
        view = memoryview(data)
        for e in rows:
            if e.chunk_id in seen or (keep is not None and e.chunk_id not in keep):
                continue
            stored = view[e.offset:e.offset + e.length]
            try:
                check_blob(stored, e, from_pack)
            except IntegrityError as exc:
                raise IntegrityError(f"{exc}; nothing was repacked (run 'artrepo fsck')") from None
            seen.add(e.chunk_id)
            if size + e.length > PACK_TARGET or len(entries) >= MAX_PACK_ENTRIES:
                seal()
            parts.append(bytes(stored))
            entries.append(PackEntry(e.chunk_id, e.codec, size, e.length, e.raw_length))
            size += e.length
    seal()
    if written and store.root is not None:
        from artrepo.atomic import sync_filesystem

        sync_filesystem(store.root)  # the new packs durable before an index names them
    return written


def describe(result: RepackResult) -> str:
    if not result.index_files or result.index_file is None:
        return "nothing to repack"
    return (f"merged {result.index_files} index files into {short(bytes.fromhex(result.index_file))}, "
            f"regrouped {result.packs_regrouped} small packs into {result.packs_written}")
