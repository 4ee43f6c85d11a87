"""The chunk store: dedup, verified reads, bounded decompression, seekable files."""
import os

import pytest
import zstandard

from artrepo.errors import IntegrityError
from artrepo.storage.chunkstore import ChunkStore
from artrepo.storage.packfile import CODEC_ZSTD


@pytest.fixture
def store(tmp_path):
    s = ChunkStore(tmp_path / "chunks")
    yield s
    s.close()


def put(store, data: bytes, path="f"):
    session = store.session()
    w = session.writer(path)
    w.write(data)
    w.close()
    session.commit()
    return w.result, session


def test_round_trip_and_seek(store):
    data = os.urandom(3 << 20) + bytes(2 << 20)
    stored, _ = put(store, data)
    with store.open(stored) as f:
        assert f.read() == data
        f.seek(len(data) - 10)
        assert f.read(5) == data[-10:-5]
        f.seek(1234567)
        assert f.read(100000) == data[1234567:1334567]


def test_the_callers_buffer_is_free_to_reuse_once_write_returns(store):
    """Large writes are stored from the caller's memory without a copy: that
    memory must be done with when `write` returns, in every pack."""
    original = os.urandom(40 << 20)  # several packs, cut straight from the buffer
    buf = bytearray(original)
    session = store.session()
    w = session.writer("f")
    w.write(buf)
    buf[:] = bytes(len(buf))  # the caller reuses its buffer
    w.write(buf[: 1 << 20])
    w.close()
    session.commit()
    with store.open(w.result) as f:
        assert f.read() == original + bytes(1 << 20)


def test_storing_identical_data_writes_no_new_chunk(store):
    data = os.urandom(4 << 20)
    put(store, data)
    packs_before = set(store.list_packs()[0])
    _, session = put(store, data)
    assert set(store.list_packs()[0]) == packs_before


def test_compressible_chunks_are_compressed_and_random_ones_are_not(store):
    def packed() -> int:
        return sum(info.size for info in store.list_packs()[0].values())

    put(store, bytes(8 << 20))
    zeros = packed()
    assert zeros < (1 << 20) // 4
    put(store, os.urandom(8 << 20), "g")
    assert packed() - zeros >= 8 << 20


def test_a_flipped_byte_is_an_integrity_error_naming_the_chunk(store):
    stored, _ = put(store, os.urandom(1 << 20))
    (pack,) = store.list_packs()[0]
    path = store.pack_path(pack)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    store.close()
    cid = stored.chunks[0][0].hex()[:12]
    with pytest.raises(IntegrityError, match=cid):
        store.open(stored).read()


def test_a_missing_pack_is_an_integrity_error(store):
    stored, _ = put(store, os.urandom(1 << 20))
    for pack in store.list_packs()[0]:
        store.pack_path(pack).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        store.open(stored).read()


def test_a_frame_claiming_more_than_the_recorded_size_is_refused(store):
    stored, _ = put(store, bytes(1 << 20))
    cid = stored.chunks[0][0]
    pack_id, entry = store.index.locations[cid]
    assert entry.codec == CODEC_ZSTD
    bomb = zstandard.ZstdCompressor().compress(bytes(64 << 20))  # claims 64 MiB
    path = store.pack_path(pack_id)
    raw = bytearray(path.read_bytes())
    raw[entry.offset:entry.offset + entry.length] = (bomb + bytes(entry.length))[: entry.length]
    path.write_bytes(bytes(raw))
    store.close()
    with pytest.raises(IntegrityError, match="decompress"):
        store.read_chunk(cid)


def test_a_pack_is_sealed_at_its_chunk_count_bound_so_its_footer_stays_readable(store, monkeypatch):
    import artrepo.storage.packwriter as packwriter

    monkeypatch.setattr(packwriter, "MAX_PACK_ENTRIES", 10)
    session = store.session()
    files = []
    for i in range(25):  # tiny files: one small chunk each, far from the 16 MiB pack size
        w = session.writer(f"f{i}")
        w.write(b"%d" % i * 100)
        w.close()
        files.append(w.result)
    session.commit()
    packs = store.list_packs()[0]
    assert sorted(len(store.read_footer(pid, info.size)) for pid, info in packs.items()) == [5, 10, 10]
    assert [store.open(f).read() for f in files] == [b"%d" % i * 100 for i in range(25)]
