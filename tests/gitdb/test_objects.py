"""gitdb.objects: loose objects written and read in pure Python, as stock git writes and reads them."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from artrepo.errors import IntegrityError
from artrepo.gitdb.objects import BLOB, TREE, Blob, ObjectStore
from artrepo_testing import git_fsck


def git(repo, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", "--git-dir", str(repo.git_dir), *args], input=data, capture_output=True,
                          check=True).stdout.decode().strip()


def test_objects_written_in_python_have_the_ids_stock_git_gives_them(repo):
    objects = repo.objects
    blob = objects.write_blob(b"step record")
    assert blob == git(repo, "hash-object", "--stdin", data=b"step record")
    tree = objects.write_tree({"steps": {"b.msgpack": b"step record", "a": Blob(blob)},
                               "steps.txt": b"step record", "run": b"step record"})
    sub = git(repo, "mktree", data=f"100644 blob {blob}\ta\n100644 blob {blob}\tb.msgpack\n".encode())
    expected = git(repo, "mktree", data=(f"100644 blob {blob}\trun\n040000 tree {sub}\tsteps\n"
                                         f"100644 blob {blob}\tsteps.txt\n").encode())
    assert tree == expected  # git's order: a tree sorts as if its name ended in '/'
    commit = objects.write_commit(tree, [], "run x: completed\n\nArtrepo-Run-Id: 1\n", 1_700_000_000_123_456_789)
    assert git(repo, "cat-file", "-p", commit).splitlines()[:3] == [
        f"tree {tree}", "author artrepo <artrepo@localhost> 1700000000 +0000",
        "committer artrepo <artrepo@localhost> 1700000000 +0000"]
    assert git(repo, "cat-file", "-t", commit) == "commit"
    assert objects.tree_file(commit, "steps/b.msgpack") == b"step record"
    assert objects.tree_file(commit, "steps/missing") is None
    assert objects.tree_file(commit, "steps.txt/x") is None
    assert set(objects.tree_listing(commit, "steps")) == {"a", "b.msgpack"}
    c = objects.commit(commit)
    assert (c.tree_id, c.parent_ids, c.commit_time) == (tree, (), 1_700_000_000)


def test_packed_objects_are_read_after_git_gc_packs_them(repo):
    blob = repo.objects.write_blob(b"packed soon")
    commit = repo.objects.write_commit(repo.objects.write_tree({"f": Blob(blob)}), [], "m\n", 10**18)
    repo.refs.create("refs/artrepo/runs/x", commit)
    git(repo, "gc", "--quiet", "--prune=now")
    assert not (repo.git_dir / "objects" / blob[:2] / blob[2:]).exists()
    fresh = ObjectStore(repo.git_dir)  # a reader that opened before gc finds them too (it reopens)
    assert fresh.tree_file(commit, "f") == b"packed soon" and fresh.contains(commit)
    assert fresh.expand_prefix(commit[:8]) == [commit]
    assert [c.id for c in fresh.walk([commit])] == [commit]


def test_missing_among_answers_as_contains_does_for_packed_loose_and_absent_objects(repo):
    """fsck checks every cached commit at once: whether a pack is searched or read whole, the answer is the same."""
    packed = [repo.objects.write_blob(b"packed %d" % i) for i in range(40)]
    commit = repo.objects.write_commit(repo.objects.write_tree({str(i): Blob(b) for i, b in enumerate(packed)}),
                                       [], "m\n", 10**18)
    repo.refs.create("refs/artrepo/runs/x", commit)
    git(repo, "gc", "--quiet", "--prune=now")
    loose = repo.objects.write_blob(b"still loose")
    absent = ["0" * 40, "f" * 40]
    fresh = ObjectStore(repo.git_dir)
    fresh.packs()
    for asked in ([*packed, commit, loose, *absent, "not an id"], [packed[0], absent[0]], [loose]):
        assert fresh.missing_among(asked) == {o for o in asked if not fresh.contains(o)}
    assert fresh.missing_among([*packed, loose, *absent]) == set(absent)


def test_a_corrupt_or_missing_object_is_an_integrity_error_naming_it(repo):
    blob = repo.objects.write_blob(b"soon corrupt")
    path = repo.git_dir / "objects" / blob[:2] / blob[2:]
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    with pytest.raises(IntegrityError, match=blob[:12]):
        ObjectStore(repo.git_dir).blob(blob)
    with pytest.raises(IntegrityError, match="0123456789ab"):
        repo.objects.blob("0123456789abcdef0123456789abcdef01234567")
    with pytest.raises(IntegrityError, match="not an object id"):
        repo.objects.blob("<empty ref>")


def test_writing_objects_survives_git_gc_removing_their_folders(repo):
    """`git gc` removes the object folders it emptied; a writer that made one a moment before retries."""
    objects_dir = repo.git_dir / "objects"
    remover = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, time
        end = time.monotonic() + 20
        while time.monotonic() < end and not os.path.exists({str(objects_dir / "stop")!r}):
            for name in os.listdir({str(objects_dir)!r}):
                try:
                    os.rmdir(os.path.join({str(objects_dir)!r}, name))  # only empty ones go, as in git
                except OSError:
                    pass
    """)])
    try:
        ids = [repo.objects.write_blob(b"blob %d" % i) for i in range(3000)]
    finally:
        (objects_dir / "stop").touch()
        remover.wait()
    store = ObjectStore(repo.git_dir)
    assert all(store.blob(oid) == b"blob %d" % i for i, oid in enumerate(ids))


def test_annotation_trees_grow_and_merge_by_union(repo):
    objects = repo.objects
    a = objects.insert_path(None, ["ab", "cd", "note1"], b"one")
    b = objects.insert_path(objects.insert_path(None, ["ab", "cd", "note2"], b"two"), ["ef", "gh", "n"], b"x")
    both = objects.union_trees(a, b)
    commit = objects.write_commit(both, [], "m\n", 0)
    assert set(objects.tree_listing(commit, "ab/cd")) == {"note1", "note2"}
    assert set(objects.tree_listing(commit, "")) == {"ab", "ef"}
    repo.refs.create("refs/artrepo/annotations", commit)
    git_fsck(repo.root)


def test_rows_keep_modes(repo):
    blob = repo.objects.write_blob(b"x")
    sub = repo.objects.write_tree_rows([(BLOB, "f", blob)])
    top = repo.objects.write_tree_rows([(TREE, "d", sub), (BLOB, "d.txt", blob)])
    assert repo.objects.tree(top) == {"d": (TREE, sub), "d.txt": (BLOB, blob)}


def test_a_batch_becomes_one_pack_stock_git_reads_and_an_error_drops_it(repo):
    objects, pack_dir = repo.objects, repo.git_dir / "objects" / "pack"
    loose = objects.write_blob(b"already loose")
    with objects.batch():
        blob = objects.write_blob(b"in the batch")
        assert objects.blob(blob) == b"in the batch" and objects.contains(blob)  # read back before it is on disk
        commit = objects.write_commit(objects.write_tree({"f": Blob(blob), "g": Blob(loose)}), [], "m\n", 10**18)
        assert objects.tree_file(commit, "f") == b"in the batch"
        assert not list(pack_dir.glob("*"))
    (idx,) = pack_dir.glob("*.idx")
    listed = git(repo, "verify-pack", "-v", str(idx))
    assert blob in listed and commit in listed and loose not in listed  # what was stored is not written again
    assert git(repo, "cat-file", "-p", blob) == "in the batch"
    repo.refs.create("refs/artrepo/runs/x", commit)
    git_fsck(repo.root)
    assert ObjectStore(repo.git_dir).tree_file(commit, "g") == b"already loose"
    with objects.batch():  # everything there already (the pack's mtime renewed): no new file
        tree = objects.write_tree({"f": Blob(blob), "g": Blob(loose)})
        assert objects.write_commit(tree, [], "m\n", 10**18) == commit
    with pytest.raises(RuntimeError), objects.batch():
        dropped = objects.write_blob(b"dropped")
        raise RuntimeError("the run failed")
    assert sorted(p.name for p in pack_dir.iterdir()) == sorted([idx.name, idx.with_suffix(".pack").name])
    assert not objects.contains(dropped)
