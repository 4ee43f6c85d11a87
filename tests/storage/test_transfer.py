"""transfer(src, dest, ids): regrouped or whole packs, every chunk verified before anything is visible."""
import uuid

import numpy as np
import pytest

from artrepo.errors import IntegrityError
from artrepo.storage.backend import open_backend
from artrepo.storage.chunkstore import ChunkStore, open_store
from artrepo.storage.packfile import MAX_BLOBS, PackEntry
from artrepo.storage.transfer import transfer


def save(store, data: bytes, path="f"):
    session = store.session()
    writer = session.writer(path)
    writer.write(data)
    writer.close()
    session.commit()
    return writer.result


def read(store, stored) -> bytes:
    with store.open(stored) as f:
        return f.read()


def memory_store() -> ChunkStore:
    return open_store(f"memory://artrepo-tests/{uuid.uuid4().hex}")


@pytest.fixture
def local(tmp_path):
    store = ChunkStore(tmp_path / "chunks")
    yield store
    store.close()


def test_many_small_packs_are_regrouped_and_a_pack_regrouped_whole_keeps_its_id(local, tmp_path):
    files = [save(local, np.random.default_rng(i).random(20_000).tobytes(), f"f{i}") for i in range(30)]
    assert len(local.list_packs()[0]) == 30
    dest = open_store(str(tmp_path / "remote"))
    moved = transfer(local, dest, [cid for f in files for cid, _ in f.chunks])
    assert moved.packs == 1 and len(dest.list_packs()[0]) == 1 and list(dest.index.files) == [moved.index_file]
    fresh = open_store(str(tmp_path / "remote"))
    assert all(read(fresh, f) == np.random.default_rng(i).random(20_000).tobytes() for i, f in enumerate(files))
    one = next(iter(local.list_packs()[0]))
    other = memory_store()
    transfer(local, other, [e.chunk_id for e in local.index.packs[one]])
    assert set(other.list_packs()[0]) == {one}
    assert transfer(local, other, [e.chunk_id for e in local.index.packs[one]]).index_file is None  # nothing missing


def test_a_damaged_source_chunk_is_refused_before_anything_becomes_visible(local, tmp_path):
    stored = save(local, np.random.default_rng(5).random(100_000).tobytes())
    (pid,) = local.list_packs()[0]
    path = local.pack_path(pid)
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0x10
    path.write_bytes(bytes(raw))
    dest = open_store(str(tmp_path / "remote"))
    with pytest.raises(IntegrityError, match="hash mismatch"):
        transfer(local, dest, [cid for cid, _ in stored.chunks])
    assert not open_store(str(tmp_path / "remote")).index.files  # no index names anything: nothing is visible


def test_whole_packs_come_verified_from_a_store_off_the_local_filesystem(local):
    remote = memory_store()
    data = np.random.default_rng(6).random(300_000).tobytes()
    stored = save(remote, data)
    moved = transfer(remote, local, [cid for cid, _ in stored.chunks])
    assert set(local.list_packs()[0]) == set(remote.list_packs()[0]) and moved.bytes > len(data)
    assert read(local, stored) == data
    damaged = memory_store()
    stored = save(damaged, data + b"x")
    (pid,) = damaged.list_packs()[0]
    key = damaged.pack_key(pid)
    blob = bytearray(damaged.backend.get(key))
    blob[10] ^= 0x01
    damaged.backend.put(key, bytes(blob))
    fresh = ChunkStore(local.root.parent / "other")
    with pytest.raises(IntegrityError, match="hash mismatch"):
        transfer(damaged, fresh, [cid for cid, _ in stored.chunks])
    assert not fresh.index.files


def test_an_index_claiming_a_pack_larger_than_the_format_allows_is_refused_unread(local):
    hostile = open_backend(f"memory://artrepo-tests/{uuid.uuid4().hex}")
    cid, pid = bytes(range(32)), bytes(32)
    store = ChunkStore(hostile)
    store.index.write({pid: [PackEntry(cid, 0, 0, MAX_BLOBS + 1, MAX_BLOBS + 1)]})
    reads = []
    hostile.get_range = lambda *args: reads.append(args) or b""
    src = ChunkStore(hostile)
    assert "more than the format's largest chunk" in " ".join(src.index.damaged.values())
    with pytest.raises(IntegrityError, match="missing"):
        transfer(src, local, [cid])
    assert not reads and not local.index.files
