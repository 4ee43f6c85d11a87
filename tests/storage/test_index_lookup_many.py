"""ChunkIndex.lookup_many (fsck's batched lookups) answers exactly as one `lookup` per chunk."""
import os

from artrepo.storage.backends.local import LocalBackend
from artrepo.storage.index import ChunkIndex
from artrepo.storage.packfile import PackEntry


def _pack(seed: int, cids: list[bytes]) -> tuple[bytes, list[PackEntry]]:
    entries, offset = [], 0
    for cid in cids:
        entries.append(PackEntry(cid, 0, offset, 10 + seed, 10 + seed))
        offset += 10 + seed
    return bytes([seed]) * 32, entries


def test_lookup_many_agrees_with_lookup_over_both_formats_duplicates_and_forgotten_packs(tmp_path):
    ids = [os.urandom(32) for _ in range(400)]
    index = ChunkIndex(LocalBackend(str(tmp_path)), sorted_from=50)
    index.write(dict([_pack(1, ids[:20])]))  # format 1
    index.write(dict([_pack(2, ids[10:200]), _pack(3, ids[150:250])]))  # format 2, chunks held by two packs
    index.write(dict([_pack(4, ids[240:300]), _pack(5, ids[0:60])]))  # format 2 again, overlapping both
    fresh = ChunkIndex(LocalBackend(str(tmp_path)), sorted_from=50)
    fresh.refresh()
    assert len(fresh._sorted) == 2 and len(fresh._small) == 1
    asked = ids + [os.urandom(32) for _ in range(50)]  # 300 indexed, 150 not
    for index in (fresh, index):
        for query in (asked, asked[:5]):  # many: one pass over each file; few: a binary search each
            assert index.lookup_many(query) == {cid: index.lookup(cid) for cid in query}
    fresh.forget([bytes([3]) * 32, bytes([1]) * 32])
    found = fresh.lookup_many(asked)
    assert found == {cid: fresh.lookup(cid) for cid in asked}
    assert found[ids[160]][0] == bytes([2]) * 32 and found[ids[210]] is None and found[ids[5]][0] == bytes([5]) * 32
