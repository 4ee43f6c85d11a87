"""Issue 14 item 15: `gc --remote` never deletes the index its own ref table names, and a missing index can be
rebuilt from the packs' self-describing headers."""
from __future__ import annotations

import msgpack
import pytest

from harness import setup_cli
from forgery import FolderBucket, Forgery, digest, index_bytes, read_objects


@pytest.fixture(scope="module")
def three_pushes(tmp_path_factory) -> dict[str, bytes]:
    """A remote where `keep:1`, `also:1`, `drop:1` were pushed one by one (a pack and an index file each)."""
    top = tmp_path_factory.mktemp("three-pushes")
    setup_cli("init", str(top / "pusher"), cwd=top)
    setup_cli("remote", "add", "origin", str(top / "remote"), cwd=top / "pusher")
    for name in ("keep", "also", "drop"):
        (top / f"{name}.bin").write_bytes(name.encode() * 5000)
        setup_cli("register", str(top / f"{name}.bin"), "--name", name, cwd=top / "pusher")
        setup_cli("push", "origin", f"{name}:1", cwd=top / "pusher")
    return read_objects(FolderBucket(top / "remote"))


@pytest.fixture
def two_pushes(three_pushes, bucket, victim, tmp_path):
    """That remote in `bucket` with `drop:1` unpublished (as a remote retention would), and a victim using it."""
    forged = Forgery(three_pushes, tmp_path / "gc.git")
    doc = forged.table
    del doc["refs"]["refs/artrepo/v/drop/1"]
    forged.table = doc
    victim.project_with(bucket, forged, name="origin")
    return forged


def test_a_gc_after_a_killed_gc_keeps_the_index_it_names(two_pushes, bucket, victim, tmp_path):
    forged = two_pushes
    survivors = {}
    for name in forged.table["index"][:2]:  # the packs of `keep:1` and `also:1`
        survivors.update(msgpack.unpackb(forged.objects[f"index/{name}"], raw=False, strict_map_key=False)["packs"])
    merged = index_bytes(survivors)  # the bytes gc writes: same packs, same rows, so the same name
    bucket.write(f"index/{digest(merged).hex()}", merged)  # a gc killed before its ref-table write left it
    gc = victim.cli("gc", "--remote", "origin", "--grace", "0")
    assert gc.returncode == 0, gc
    cloned = victim.cli("clone", bucket.url, str(tmp_path / "after"),
                        *(["--endpoint-url", bucket.endpoint] if bucket.endpoint else []), cwd=tmp_path)
    assert cloned.returncode == 0, cloned
    assert victim.cli("fsck", "--remote", "origin", "--read-data").returncode == 0


def test_a_missing_remote_index_is_rebuilt_from_pack_headers(two_pushes, bucket, victim, tmp_path):
    for name in two_pushes.table["index"]:
        bucket.delete(f"index/{name}")
    repair = victim.cli("fsck", "--remote", "origin", "--repair")
    if repair.returncode == 2:  # no --repair option: gc is the other place the issue allows
        repair = victim.cli("gc", "--remote", "origin")
    assert repair.returncode == 0, repair
    cloned = victim.cli("clone", bucket.url, str(tmp_path / "after"),
                        *(["--endpoint-url", bucket.endpoint] if bucket.endpoint else []), cwd=tmp_path)
    assert cloned.returncode == 0, cloned
    export = victim.cli("export", "keep", str(tmp_path / "out"), cwd=tmp_path / "after")
    assert export.returncode == 0 and (tmp_path / "out" / "file" / "keep.bin").read_bytes() == b"keep" * 5000
