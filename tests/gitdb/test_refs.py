"""gitdb.refs: refs read and updated in pure Python under the locks stock git and gc respect."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from artrepo.errors import IntegrityError
from artrepo.gitdb import layout
from artrepo.gitdb.refs import RefsContainer
from artrepo_testing import git_fsck


@pytest.fixture
def commits(repo):
    tree = repo.objects.write_tree({"f": b"x"})
    return [repo.objects.write_commit(tree, [], f"c{i}\n", i * 10**9) for i in range(3)]


def test_create_refuses_a_second_writer_and_updates_keep_a_reflog_git_reads(repo, commits):
    refs = repo.refs
    assert refs.create("refs/artrepo/v/x/1", commits[0], "save x:1")
    assert not refs.create("refs/artrepo/v/x/1", commits[1], "save again")
    assert refs.get("refs/artrepo/v/x/1") == commits[0]
    assert refs.compare_and_swap("refs/artrepo/aliases/x/prod", None, commits[0], "alias one")
    assert not refs.compare_and_swap("refs/artrepo/aliases/x/prod", commits[1], commits[2], "lost race")
    assert refs.compare_and_swap("refs/artrepo/aliases/x/prod", commits[0], commits[1], "alias two")
    assert [(oid, msg) for oid, _t, msg in refs.reflog("refs/artrepo/aliases/x/prod")] == [
        (commits[1], "alias two"), (commits[0], "alias one")]
    shown = subprocess.run(["git", "--git-dir", str(repo.git_dir), "reflog", "show", "--format=%H %gs",
                            "refs/artrepo/aliases/x/prod"], capture_output=True, text=True, check=True).stdout
    assert shown.splitlines() == [f"{commits[1]} alias two", f"{commits[0]} alias one"]
    git_fsck(repo.root)


def test_packed_refs_are_read_listed_and_deleted_like_loose_ones(repo, commits):
    refs = repo.refs
    refs.create("refs/artrepo/v/x/1", commits[0])
    refs.create("refs/artrepo/v/x/2", commits[1])
    subprocess.run(["git", "--git-dir", str(repo.git_dir), "pack-refs", "--all"], check=True)
    assert not (repo.git_dir / "refs/artrepo/v/x/1").exists()
    assert refs.list_prefix("refs/artrepo/v/x") == {"1": commits[0], "2": commits[1]}
    assert refs.list_folders("refs/artrepo/v") == {"x"}
    assert refs.all()["refs/artrepo/v/x/2"] == commits[1]
    assert not refs.delete("refs/artrepo/v/x/1", commits[2])  # not what it holds
    assert refs.delete("refs/artrepo/v/x/1", commits[0])
    assert refs.get("refs/artrepo/v/x/1") is None and refs.list_prefix("refs/artrepo/v/x") == {"2": commits[1]}
    assert refs.create("refs/artrepo/v/x/1", commits[2])  # loose again
    assert refs.list_prefix("refs/artrepo/v/x") == {"1": commits[2], "2": commits[1]}
    git_fsck(repo.root)


def test_symbolic_refs_are_followed_and_damaged_ones_are_integrity_errors(repo, commits):
    repo.refs.create(layout.RUNS_HEAD, commits[0])
    (repo.git_dir / "refs" / "heads" / "alias").write_text(f"ref: {layout.RUNS_HEAD}\n")
    (repo.git_dir / "refs" / "heads" / "empty").write_text("")
    assert repo.refs.get("refs/heads/alias") == commits[0]
    assert repo.refs.get("refs/heads/missing") is None
    with pytest.raises(IntegrityError, match="refs/heads/empty"):
        repo.refs.get("refs/heads/empty")
    assert repo.refs.get("refs/heads/empty", derived=True) is None  # a torn derived ref reads as absent
    with pytest.raises(IntegrityError):
        repo.refs.update("refs/heads/empty", lambda cur: commits[1], "over a damaged ref")
    assert not list((repo.git_dir / "refs").rglob("*.lock"))


def test_a_stale_git_lock_left_by_a_killed_writer_is_taken_over(repo, commits):
    lock = repo.git_dir / "refs" / "heads" / "runs.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("garbage\n")  # what a writer killed between lock and rename leaves
    assert repo.refs.update(layout.RUNS_HEAD, lambda cur: commits[0], "after a crash") == commits[0]
    assert not lock.exists() and repo.refs.get(layout.RUNS_HEAD) == commits[0]


def test_a_ref_transaction_publishes_every_ref_with_its_reflog(repo, commits):
    names = ["refs/artrepo/aliases/x/extra", layout.RUNS_HEAD]
    repo.refs.create(names[1], commits[1])
    with repo.refs.transaction() as txn:
        assert txn.set(names[0], lambda cur: commits[0] if cur is None else None, "made in a transaction") == commits[0]
        assert txn.set(names[1], lambda cur: None, "unchanged") == commits[1]  # decide keeps it: nothing written
        assert repo.refs.get(names[0]) is None  # nothing visible before commit
        txn.commit()
    assert [repo.refs.get(n) for n in names] == commits[:2]
    assert not list((repo.git_dir / "refs").rglob("*.lock"))
    assert repo.refs.reflog(names[0])[0][2] == "made in a transaction"
    assert len(repo.refs.reflog(names[1])) == 1  # the unchanged ref got no reflog line
    git_fsck(repo.root)


def test_create_only_and_derived_refs_get_no_reflog_file(repo, commits):
    for ref in ("refs/artrepo/v/x/1", "refs/artrepo/runs/r1", "refs/artrepo/heads/x", "refs/artrepo/cache/ab/cd"):
        assert repo.refs.create(ref, commits[0])
        assert not (repo.git_dir / "logs" / ref).exists()
    assert repo.refs.create("refs/artrepo/aliases/x/prod", commits[0])
    assert (repo.git_dir / "logs" / "refs/artrepo/aliases/x/prod").is_file()


def test_a_ref_transaction_that_fails_changes_nothing(repo, commits):
    repo.refs.create(layout.RUNS_HEAD, commits[1])
    (repo.git_dir / "refs" / "heads" / "damaged").write_text("garbage\n")
    with pytest.raises(IntegrityError):
        with repo.refs.transaction() as txn:
            txn.set(layout.RUNS_HEAD, lambda cur: commits[0], "first of two")
            txn.set("refs/heads/damaged", lambda cur: commits[0], "second of two")
            txn.commit()
    assert repo.refs.get(layout.RUNS_HEAD) == commits[1]
    assert not list((repo.git_dir / "refs").rglob("*.lock"))
    assert all(m != "first of two" for _, _, m in repo.refs.reflog(layout.RUNS_HEAD))


def test_sigkill_inside_a_ref_transaction_leaves_the_refs_as_they_were(repo, commits):
    repo.refs.create(layout.RUNS_HEAD, commits[0])
    code = textwrap.dedent(f'''
        import time
        from artrepo.gitdb.refs import RefsContainer
        with RefsContainer({str(repo.git_dir)!r}).transaction() as txn:
            txn.set("refs/artrepo/runs/killed", lambda cur: {commits[1]!r}, "killed")
            txn.set("refs/heads/runs", lambda cur: {commits[2]!r}, "killed")
            print("ready", flush=True)
            time.sleep(60)
            txn.commit()
    ''')
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (repo.git_dir / "refs" / "heads" / "runs.lock").exists()  # what the killed writer left
    assert repo.refs.get("refs/artrepo/runs/killed") is None and repo.refs.get(layout.RUNS_HEAD) == commits[0]
    git_fsck(repo.root)  # a lock file left on a ref nobody wrote since does not bother git
    assert RefsContainer(repo.git_dir).update(layout.RUNS_HEAD, lambda cur: commits[2], "next") == commits[2]
    assert not (repo.git_dir / "refs" / "heads" / "runs.lock").exists()


@pytest.mark.parametrize("header", [b"# pack-refs with: peeled sorted \n", b""])
def test_packed_refs_name_every_ref_holding_a_commit_first_record_and_peeled_lines_included(header):
    from artrepo.gitdb.packedrefs import PackedRefs

    a, b, c = "a" * 40, "b" * 40, "c" * 40
    packed = PackedRefs(header + f"{a} refs/artrepo/v/x/1\n^{b}\n{b} refs/artrepo/v/x/2\n{a} refs/artrepo/v/y/1\n"
                                 f"{c} refs/heads/runs".encode())
    assert list(packed.holding(a)) == ["refs/artrepo/v/x/1", "refs/artrepo/v/y/1"]
    assert list(packed.holding(b)) == ["refs/artrepo/v/x/2"]  # not the peeled line
    assert list(packed.holding(c)) == ["refs/heads/runs"]  # the last line, without a newline
    assert list(packed.holding("d" * 40)) == []
