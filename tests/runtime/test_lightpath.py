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
from artrepo.gitdb import layout
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
    assert first["cached"] == [False] * 5 and "pygit2" not in first["modules"]  # saving needs no pygit2 either
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


def test_packed_objects_and_refs_are_read_without_pygit2(project):
    (project / "pipe.py").write_text(PIPE)
    first = run_file(project)
    subprocess.run(["git", "--git-dir", str(project / ".artrepo"), "gc", "--quiet", "--prune=now"], check=True)
    assert not (project / ".artrepo" / "refs" / "artrepo" / "runs" / first["run"]).exists()  # packed now
    again = run_file(project)
    assert again["cached"] == [True] * 5 and again["modules"] == []  # git's packs read in pure Python (gitpack.py)
    third = run_file(project)
    assert third["cached"] == [True] * 5
    git_fsck(project)
    assert [r.id for r in Client().list_pipeline_runs()] == [third["run"], again["run"], first["run"]]


def test_a_damaged_step_record_is_an_integrity_error(repo):
    run = single()
    oid = repo.objects.tree_listing(run.commit, "steps")["one.msgpack"]
    pack, offset = repo.objects._find_packed(bytes.fromhex(oid))  # in the run's pack
    os.chmod(pack.pack_path, 0o644)
    data = bytearray(pack.pack_path.read_bytes())
    data[offset + 8] ^= 0xFF  # inside its deflated record
    pack.pack_path.write_bytes(bytes(data))
    repo.objects._packs = None  # as a new process: a small pack read before the damage is held in memory
    with pytest.raises(IntegrityError):
        Client().get_pipeline_run(run.id).steps


def test_derived_refs_a_crash_left_empty_are_rebuilt_by_the_next_run(repo):
    first = single()
    key = first.steps["one"].cache_key
    for ref in (layout.cache_ref(key), layout.pipeline_ref("single")):
        (repo.git_dir / ref).write_bytes(b"")  # written without fsync: what a power cut may leave
    again = single()
    assert again.status == "completed" and not again.steps["one"].cached  # the torn cache ref is a miss
    assert repo.refs.get(layout.pipeline_ref("single")) == again.commit
    assert single().steps["one"].cached
    assert {r.id for r in Client().list_pipeline_runs()} >= {first.id, again.id}
    git_fsck(repo.root)


