"""A run's record arrives as one git pack (issue 15): few new files, readable everywhere, crash-safe, merged later.

A cached run adds one `.pack` and its `.idx` and no loose object; stock git
reads them (`git fsck --strict`, `cat-file`); a new process reads the run
and hits the cache. A SIGKILL while the pack is written (between the pack
and its index, or at random moments of a loop of runs) leaves a readable
repository without half a run; `artrepo gc` collects what a killed run left.
Many runs leave many small packs, which maintenance merges.
"""
from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import textwrap

import pytest

from artrepo_testing import git_fsck, run_cli
from helpers import REPACK_LOOP, kill_at_random, python_child, run_child

PIPELINE = textwrap.dedent('''
    from artrepo import pipeline, step

    @step
    def first(i: int = 0) -> int:
        return i

    @step
    def inc(x: int) -> int:
        return x + 1

    @pipeline
    def chain(i: int = 0):
        inc(inc(first(i=i)))
''')

RUNS = """
import sys
sys.path.insert(0, ".")
from chain_pipe import chain
open("ready-{trial}", "w").close()
for i in range({count}):
    chain(i={seed})
"""


def _object_files(project) -> set[str]:
    objects = project / ".artrepo" / "objects"
    return {os.path.relpath(os.path.join(d, f), objects) for d, _s, files in os.walk(objects) for f in files}


def _packs(project) -> list[str]:
    return sorted(n for n in os.listdir(project / ".artrepo" / "objects" / "pack") if n.endswith(".idx"))


def _runs(project) -> list[dict]:
    return json.loads(run_cli("log", "--json", cwd=project, check=True).stdout)


def _git(project, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(project / ".artrepo"), *args], capture_output=True, text=True,
                          check=True).stdout


READ_ALL = """
from artrepo.repository import Repository
repo = Repository.find()
for run_id, commit in repo.run_ids().items():
    run = repo.read_run(commit)
    assert run.run_id == run_id and run.status == "completed", run
    for name in run.steps:
        assert "return" in repo.read_code(repo.read_step(commit, name).code)
print(len(repo.run_ids()))
"""


def _assert_runs_readable(project) -> list[dict]:
    """Every recorded run reads back whole (record, steps, code) in a new process, the newest and oldest
    show; stock git fsck passes."""
    runs = _runs(project)
    assert int(run_child(READ_ALL, project).stdout) == len(runs)
    for run in runs[:1] + runs[-1:]:
        shown = json.loads(run_cli("show", run["id"], "--json", cwd=project, check=True).stdout)
        assert [s["name"] for s in shown["steps"]] == ["first", "inc", "inc_2"]
    git_fsck(project)
    return runs


def test_a_cached_run_adds_one_pack_and_no_loose_object(project):
    (project / "chain_pipe.py").write_text(PIPELINE)
    first = run_cli("run", "chain_pipe.py", cwd=project, check=True).stdout
    assert "step inc_2: completed" in first
    (run,) = _runs(project)
    code = run_cli("show", run["id"], "--step", "inc", "--code", cwd=project, check=True).stdout
    assert "return x + 1" in code  # the step code blobs came with the run's pack
    before = _object_files(project)
    again = run_cli("run", "chain_pipe.py", cwd=project, check=True).stdout
    assert again.count(": cached") == 3
    added = _object_files(project) - before
    assert len(added) == 2 and {os.path.splitext(a)[1] for a in added} == {".pack", ".idx"}, added
    assert all(a.startswith("pack/pack-") for a in added)
    runs = _assert_runs_readable(project)
    assert len(runs) == 2
    assert "run chain: completed" in _git(project, "log", "-1", "--format=%B", runs[0]["commit"])
    pack = next(a for a in added if a.endswith(".idx"))
    listed = _git(project, "verify-pack", "-v", str(project / ".artrepo" / "objects" / pack))
    assert runs[0]["commit"] in listed  # the commit is in the new pack, with its tree and records
    third = run_cli("run", "chain_pipe.py", cwd=project, check=True).stdout
    assert third.count(": cached") == 3


def test_a_reader_that_opened_before_the_run_finds_its_pack(project):
    """Pure-Python reads and pygit2 (opened before the pack existed) both see a run written meanwhile."""
    (project / "chain_pipe.py").write_text(PIPELINE)
    run_cli("run", "chain_pipe.py", cwd=project, check=True)
    from artrepo.repository import Repository

    reader = Repository.find(project)
    head = reader.refs.get("refs/heads/runs")
    assert [c.id for c in reader.objects.walk([head])] == [head]  # pygit2 open, its pack list read
    run_cli("run", "chain_pipe.py", cwd=project, check=True)
    new = reader.refs.get("refs/heads/runs")
    assert new != head and reader.read_run(new).pipeline == "chain"
    assert [c.id for c in reader.objects.walk([new])] == [new, head]
    reader.close()


KILLED_BETWEEN = """
import os, signal, sys
sys.path.insert(0, ".")
from artrepo.gitdb import batch

def land(self, *, synced=True):
    os.replace(self.tmp_pack, self.idx_path.with_suffix(".pack"))
    os.kill(os.getpid(), signal.SIGKILL)  # the pack is in place, its index is not

batch.StagedPack.land = land
from chain_pipe import chain
chain(i=7)
"""


def test_sigkill_between_a_runs_pack_and_its_index_leaves_no_run(project):
    (project / "chain_pipe.py").write_text(PIPELINE)
    run_cli("run", "chain_pipe.py", cwd=project, check=True)
    before = _runs(project)
    child = python_child(KILLED_BETWEEN, project, stderr=subprocess.DEVNULL)
    assert child.wait(120) == -9
    pack_dir = project / ".artrepo" / "objects" / "pack"
    orphans = [n for n in os.listdir(pack_dir)
               if n.endswith(".pack") and not (pack_dir / n).with_suffix(".idx").exists()]
    assert len(orphans) == 1  # the killed run's pack, which no reader finds without its index
    assert _runs(project) == before
    _assert_runs_readable(project)
    assert run_cli("run", "chain_pipe.py", cwd=project, check=True).stdout.count(": cached") == 3
    run_cli("gc", "--grace", "0", cwd=project, check=True)
    assert not [n for n in os.listdir(pack_dir) if n.startswith("tmp_") or n in orphans]
    assert len(_assert_runs_readable(project)) == 2


def test_sigkill_at_random_moments_of_runs_leaves_whole_runs_only(project):
    (project / "chain_pipe.py").write_text(PIPELINE)
    run_child(RUNS.format(trial="warm", count=1, seed=0), project)
    rng = random.Random(15)
    for trial in range(6):
        child = python_child(RUNS.format(trial=trial, count=40, seed="i % 3"), project, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        kill_at_random(child, project / f"ready-{trial}", rng, 0.6)
    assert len(_assert_runs_readable(project)) > 1
    run_cli("gc", "--grace", "0", cwd=project, check=True)
    pack_dir = project / ".artrepo" / "objects" / "pack"
    assert not [n for n in os.listdir(pack_dir) if n.startswith("tmp_")]  # what the kills left is collected
    _assert_runs_readable(project)


UNDER_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit}))
from artrepo.cli.main import main
sys.argv = {argv!r}
main()
"""


def _done_or_out_of_files(code: str, project, ending: str = "") -> int:
    """Run `code` (a CLI command in a child); it exits 0 silently, or 1 with the one line for too many open files
    (which ends with `ending`), never a traceback or an integrity error (3). Returns the exit code."""
    child = python_child(code, project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    status, said = child.wait(timeout=60), child.stderr.read().splitlines()
    line = "artrepo: error: too many open files ("
    assert status == 0 and said == [] or status == 1 and len(said) == 1 and said[0].startswith(line) and \
        said[0].endswith(ending), (code, status, said)
    return status


def test_many_runs_leave_small_packs_that_maintenance_merges(project, monkeypatch):
    (project / "chain_pipe.py").write_text(PIPELINE)
    monkeypatch.setenv("ARTREPO_AUTO_PACK", "0")
    run_child(RUNS.format(trial="off", count=60, seed="i % 2"), project)
    assert len(_packs(project)) == 60
    for command in (["log", "-n", "5"], ["fsck"], ["gc", "--dry-run"]):  # more packs than it may open files
        run_child(UNDER_LIMIT.format(limit=48, argv=["artrepo", *command]), project)
    codes = set()
    for limit in range(4, 10):  # from a limit no command works under to one fsck works under (which depends
        # on the Python version): fsck succeeds or says it ran out of files, never that the repository is damaged
        codes.add(_done_or_out_of_files(UNDER_LIMIT.format(limit=limit, argv=["artrepo", "fsck"]), project,
                                        f"this process may open {limit}; raise it with `ulimit -n`)"))
    assert codes == {0, 1}
    from artrepo.repository import active, upkeep

    upkeep.maintain(active())
    assert len(_packs(project)) == 1
    assert not [f for f in _object_files(project) if not f.startswith(("pack/", "info/"))]  # nothing loose
    monkeypatch.delenv("ARTREPO_AUTO_PACK")
    run_child(RUNS.format(trial="auto", count=60, seed="i % 3"), project)
    assert len(_packs(project)) <= upkeep.AUTO_GIT_PACKS + 1  # a run that counts more packs merges them
    runs = _assert_runs_readable(project)
    assert len(runs) == 120
    assert run_cli("run", "chain_pipe.py", "-p", "i=2", cwd=project, check=True).stdout.count(": cached") == 3


HOGGED = """
import os, sys
if "HOGGED" not in os.environ:  # a limit set by the shell: `resource` stays unimported, as in `artrepo` itself
    os.environ["HOGGED"] = "1"
    os.execvp("sh", ["sh", "-c", 'ulimit -n 256 && exec "$@"', "sh", *sys.orig_argv])
from artrepo.cli.main import main
sys.argv = {argv!r}
try:
    main()  # once with files to spare: every module the command imports is imported now
except SystemExit:
    pass
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
for fd in held[:{spare}]:
    os.close(fd)
main()
"""


def test_running_out_of_files_is_one_line_never_damage(project, monkeypatch):
    from artrepo import save_artifact
    from artrepo.maintenance.inventory import survey
    from artrepo.repository import active
    import artrepo.gitdb.objects as objects_module

    monkeypatch.setenv("ARTREPO_AUTO_PACK", "0")  # loose git objects and one chunk pack per save
    for i in range(3):
        save_artifact(i, name="x")
    for argv in (["artrepo", "fsck"], ["artrepo", "log", "x"]):
        for spare in range(7):  # with no file left, the error handler itself must not need one (no import)
            _done_or_out_of_files(HOGGED.format(argv=argv, spare=spare), project)

    def out_of_files(*_args, **_kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    repo = active()
    loose = next(f for f in _object_files(project) if not f.startswith(("pack/", "info/")))
    monkeypatch.setattr(objects_module, "read_file", out_of_files)
    with pytest.raises(OSError):  # not IntegrityError("git object ... is unreadable"): exit 3
        repo.objects.read(loose.replace("/", ""))
    monkeypatch.setattr(type(repo.chunks), "read_footer", out_of_files)
    with pytest.raises(OSError):  # not a pack reported damaged
        survey(repo.chunks)


def test_two_processes_running_beside_a_repacker_land_every_run(project):
    (project / "chain_pipe.py").write_text(PIPELINE)
    run_child(RUNS.format(trial="warm", count=1, seed=0), project)
    packer = python_child(REPACK_LOOP, project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = [python_child(RUNS.format(trial=w, count=15, seed=f"i + {100 * w}"), project, stderr=subprocess.PIPE)
               for w in (1, 2)]
    try:
        for p in writers:
            assert p.wait(300) == 0, p.stderr.read()
    finally:
        (project / "writers-done").touch()
        out, err = packer.communicate(timeout=300)
    assert packer.returncode == 0, err
    assert int(out.strip().splitlines()[-1]) >= 1
    runs = _assert_runs_readable(project)
    assert len(runs) == 31
    assert len(_git(project, "log", "--format=%H", "refs/artrepo/pipelines/chain").split()) == 31
