"""ChunkIndex.locate_all (fsck's one pass over every index file) answers exactly as one `lookup` per chunk."""
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


def _located(index: ChunkIndex, asked: list[bytes]) -> dict:
    found = index.locate_all(index.rows())
    return {cid: (found[cid][0], PackEntry(*found[cid][1])) if cid in found else None for cid in asked}


def test_locate_all_agrees_with_lookup_over_both_formats_duplicates_and_forgotten_packs(tmp_path):
    ids = [os.urandom(32) for _ in range(400)]
    index = ChunkIndex(LocalBackend(str(tmp_path)), sorted_from=50)
    index.write(dict([_pack(1, ids[:20])]))  # format 1
    index.write(dict([_pack(2, ids[10:200]), _pack(3, ids[150:250])]))  # format 2, chunks held by two packs
    index.write(dict([_pack(4, ids[240:300]), _pack(5, ids[0:60])]))  # format 2 again, overlapping both
    index.write(dict([_pack(6, ids[15:30] + ids[15:18])]))  # format 1, a chunk listed twice in one pack
    fresh = ChunkIndex(LocalBackend(str(tmp_path)), sorted_from=50)
    fresh.refresh()
    assert len(fresh._sorted) == 2 and len(fresh._small) == 2
    asked = ids + [os.urandom(32) for _ in range(50)]  # 300 indexed, 150 not
    for index in (fresh, index):
        assert _located(index, asked) == {cid: index.lookup(cid) for cid in asked}
    fresh.forget([bytes([1]) * 32, bytes([2]) * 32])
    found = _located(fresh, asked)
    assert found == {cid: fresh.lookup(cid) for cid in asked}
    assert found[ids[160]] is None  # pack 3 holds it too, but lookup stops at the file's first row (pack 2)
    assert found[ids[210]][0] == bytes([3]) * 32 and found[ids[5]][0] == bytes([5]) * 32
    assert found[ids[16]][0] == bytes([6]) * 32  # format 1 files answer first
