"""The pygit2-free path of a cached run: loose objects and refs written and read as git does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from artrepo import Client, pipeline, step
from artrepo.errors import IntegrityError
from artrepo.gitdb import loose
from artrepo_testing import git_fsck

PIPE = textwrap.dedent('''
    from artrepo import pipeline, step

    @step
    def first(i: int = 0) -> int:
        return i

    @step
    def inc(x: int) -> int:
        return x + 1

    @pipeline
    def chain(i: int = 0):
        x = first(i=i)
        for _ in range(4):
            x = inc(x)

    if __name__ == "__main__":
        import json, sys
        run = chain()
        print(json.dumps({"cached": [s.cached for s in run.steps.values()], "run": run.id,
                          "modules": sorted(m for m in ("pygit2", "numpy", "zstandard", "ssl", "typing", "inspect",
                                                        "dataclasses", "threading") if m in sys.modules)}))
''')


def run_file(project, name="pipe.py"):
    proc = subprocess.run([sys.executable, name], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@step
def one(i: int = 0) -> int:
    return i


@pipeline
def single(i: int = 0):
    one(i=i)


def test_a_fully_cached_run_imports_no_heavy_module_and_is_readable_by_git(project):
    (project / "pipe.py").write_text(PIPE)
    first = run_file(project)
    assert first["cached"] == [False] * 5 and "pygit2" in first["modules"]
    again = run_file(project)
    assert again["cached"] == [True] * 5
    # pygit2 (and ssl through it), numpy, zstandard, typing (plain annotations), inspect and dataclasses
    # (about 14 ms of a process with teardown; runtime/introspect.py, artrepo/plain.py), and threading
    # (no scheduler or chunk store is made when no step runs) stay unloaded
    assert again["modules"] == []
    git_fsck(project)
    git = ["git", "--git-dir", str(project / ".artrepo")]
    log = subprocess.run([*git, "log", "--format=%s", "refs/heads/runs"], capture_output=True, text=True).stdout
    assert log.splitlines() == ["run chain: completed (5 steps, 5 cached)", "run chain: completed (5 steps, 0 cached)"]
    shown = subprocess.run([*git, "show", "--stat", "--format=%B", "refs/heads/runs"], capture_output=True,
                           text=True).stdout
    assert f"Artrepo-Run-Id: {again['run']}" in shown and "steps/inc_4.msgpack" in shown
    reflog = subprocess.run([*git, "reflog", "show", "--format=%gs", "refs/heads/runs"], capture_output=True,
                            text=True).stdout
    assert reflog.splitlines() == ["run chain", "run chain"]
    assert Client().get_pipeline_run(again["run"][:10]).steps["inc_4"].cached


def test_objects_written_in_python_are_the_objects_pygit2_writes(repo):
    writer = loose.ObjectWriter(repo.git_dir)
    blob = writer.blob(b"step record")
    sub = writer.tree([(loose.BLOB, "b.msgpack", blob), (loose.BLOB, "a", blob)])
    tree = writer.tree([(loose.TREE, "steps", sub), (loose.BLOB, "steps.txt", blob), (loose.BLOB, "run", blob)])
    commit = writer.commit(tree, [], "run x: completed\n\nArtrepo-Run-Id: 1\n", 1_700_000_000_123_456_789)
    objects = repo.full_objects if hasattr(repo, "full_objects") else repo.objects
    assert objects.write_blob(b"step record") == blob
    expected_tree = objects.write_tree({"steps": {"b.msgpack": b"step record", "a": b"step record"},
                                        "steps.txt": b"step record", "run": b"step record"})
    assert expected_tree == tree
    assert objects.write_commit(tree, [], "run x: completed\n\nArtrepo-Run-Id: 1\n", 1_700_000_000_123_456_789) == commit
    assert loose.tree_file(repo.git_dir, commit, "steps/b.msgpack") == b"step record"
    assert loose.tree_file(repo.git_dir, commit, "steps/missing") is None
    assert loose.tree_file(repo.git_dir, commit, "steps.txt/x") is None


def test_packed_objects_and_refs_are_read_through_pygit2(project):
    (project / "pipe.py").write_text(PIPE)
    first = run_file(project)
    subprocess.run(["git", "--git-dir", str(project / ".artrepo"), "gc", "--quiet", "--prune=now"], check=True)
    assert not (project / ".artrepo" / "refs" / "artrepo" / "runs" / first["run"]).exists()  # packed now
    again = run_file(project)
    assert again["cached"] == [True] * 5 and "pygit2" in again["modules"]  # the fallback opened it
    third = run_file(project)
    assert third["cached"] == [True] * 5
    git_fsck(project)
    assert [r.id for r in Client().list_pipeline_runs()] == [third["run"], again["run"], first["run"]]


def test_a_damaged_loose_step_record_is_an_integrity_error(repo):
    run = single()
    tree = loose.commit_links(loose.read_object(repo.git_dir, run.commit)[1])[0]
    steps = loose.tree_entries(loose.read_object(repo.git_dir, tree)[1])["steps"][1]
    oid = loose.tree_entries(loose.read_object(repo.git_dir, steps)[1])["one.msgpack"][1]
    path = repo.git_dir / "objects" / oid[:2] / oid[2:]
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    with pytest.raises(IntegrityError):
        Client().get_pipeline_run(run.id).steps


def test_a_stale_git_lock_left_by_a_killed_writer_is_removed(repo):
    single()
    lock = repo.git_dir / "refs" / "heads" / "runs.lock"
    lock.write_text("garbage\n")  # what a writer killed between lock and rename leaves
    run = single(i=1)
    assert not lock.exists()
    assert loose.read_ref(repo.git_dir, "refs/heads/runs") == run.commit


def test_a_ref_that_is_not_a_plain_id_is_left_to_pygit2(repo):
    from artrepo.lightrepo import LightRepository

    single()
    (repo.git_dir / "refs" / "heads" / "alias").write_text("ref: refs/heads/runs\n")
    (repo.git_dir / "refs" / "heads" / "empty").write_text("")
    light = LightRepository(repo.root)
    for name in ("refs/heads/alias", "refs/heads/runs", "refs/heads/missing"):
        assert light.refs.get(name) == repo.refs.get(name)
    with pytest.raises(loose.NotSimple):
        loose.read_ref(repo.git_dir, "refs/heads/alias")
    assert "pygit2" in type(light.full_refs.repo).__module__


def test_a_light_repository_has_every_attribute_of_a_full_one(repo):
    from artrepo.lightrepo import LightRepository

    light = LightRepository(repo.root)
    assert set(vars(repo)) - {"git"} <= set(vars(light))
    assert light.git.path == repo.git.path


def test_derived_refs_a_crash_left_empty_are_rebuilt_by_the_next_run(repo):
    from artrepo import runstore

    first = single()
    key = first.steps["one"].cache_key
    for ref in (runstore.cache_ref(key), runstore.pipeline_ref("single")):
        (repo.git_dir / ref).write_bytes(b"")  # written without fsync: what a power cut may leave
    again = single()
    assert again.status == "completed" and not again.steps["one"].cached  # the torn cache ref is a miss
    assert loose.read_ref(repo.git_dir, runstore.pipeline_ref("single")) == again.commit
    assert single().steps["one"].cached
    assert {r.id for r in Client().list_pipeline_runs()} >= {first.id, again.id}
    git_fsck(repo.root)


def _refs_and_locks(repo, names):
    values = {n: repo.refs.get(n) for n in names}
    locks = sorted(p.name for p in (repo.git_dir / "refs").rglob("*.lock"))
    return values, locks


def test_a_ref_transaction_publishes_every_ref_with_its_reflog(repo):
    run = single()
    names = ["refs/artrepo/runs/extra", "refs/heads/runs"]
    with loose.RefTransaction(repo.git_dir) as refs:
        assert refs.set(names[0], lambda cur: run.commit if cur is None else None, "made in a transaction") == run.commit
        assert refs.set(names[1], lambda cur: None, "unchanged") == run.commit  # decide keeps it: nothing written
        assert repo.refs.get(names[0]) is None  # nothing visible before commit
        refs.commit()
    assert _refs_and_locks(repo, names) == ({n: run.commit for n in names}, [])
    assert repo.refs.reflog(names[0])[0][2] == "made in a transaction"
    assert len(repo.refs.reflog(names[1])) == 1  # the unchanged ref got no reflog line
    git_fsck(repo.root)


def test_a_ref_transaction_that_fails_changes_nothing(repo):
    run = single()
    before = single(i=1)
    (repo.git_dir / "refs" / "heads" / "alias").write_text("ref: refs/heads/runs\n")
    names = ["refs/heads/runs", "refs/heads/alias"]
    with pytest.raises(loose.NotSimple):
        with loose.RefTransaction(repo.git_dir) as refs:
            refs.set(names[0], lambda cur: run.commit, "first of two")
            refs.set(names[1], lambda cur: run.commit, "second of two")  # symbolic: left to pygit2
    assert _refs_and_locks(repo, names[:1]) == ({names[0]: before.commit}, [])
    assert all(m != "first of two" for _, _, m in repo.refs.reflog(names[0]))


def test_sigkill_inside_a_ref_transaction_leaves_the_refs_as_they_were(repo):
    import signal

    run = single()
    code = textwrap.dedent(f'''
        import sys, time
        from artrepo.gitdb import loose
        with loose.RefTransaction({str(repo.git_dir)!r}) as refs:
            refs.set("refs/artrepo/runs/killed", lambda cur: {run.commit!r}, "killed")
            refs.set("refs/heads/runs", lambda cur: "0" * 39 + "1", "killed")
            print("ready", flush=True)
            time.sleep(60)
            refs.commit()
    ''')
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (repo.git_dir / "refs" / "heads" / "runs.lock").exists()  # what the killed writer left
    assert repo.refs.get("refs/artrepo/runs/killed") is None and repo.refs.get("refs/heads/runs") == run.commit
    again = single(i=2)  # the next run takes the stale locks over
    assert loose.read_ref(repo.git_dir, "refs/heads/runs") == again.commit
    assert not (repo.git_dir / "refs" / "heads" / "runs.lock").exists()
    git_fsck(repo.root)  # the lock file left on a ref nobody wrote since does not bother git
