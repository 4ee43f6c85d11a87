"""Runs that arrive by clone or pull join the pipeline chains, heads/runs and the cache, as if run here."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from artrepo.remotes.config import get_remote
from artrepo.remotes.pull import pull
from artrepo.repository import Repository
from artrepo.queries import list_runs
from artrepo_testing import git_fsck, run_cli

PIPELINE = textwrap.dedent('''
    from typing_extensions import Annotated
    from artrepo import pipeline, step

    @step
    def load(n: int = 3) -> Annotated[list, "numbers"]:
        return list(range(n))

    @step
    def doubled(values: list) -> Annotated[list, "doubled"]:
        return [v * 2 for v in values]

    @pipeline
    def numbers_pipeline(n: int = 3):
        doubled(load(n=n))
''')
CHAIN = "refs/artrepo/pipelines/numbers_pipeline"


@pytest.fixture(params=["folder", "s3"])
def shared(request, tmp_path):
    """(remote url, extra CLI options) of an empty remote reachable from a subprocess."""
    if request.param == "folder":
        return str(tmp_path / "shared"), []
    endpoint, bucket = request.getfixturevalue("s3_env")
    return f"s3://{bucket}/team", ["--endpoint-url", endpoint]


# The team's remote is trusted: only then are its runs' cache entries used (docs/reliability.md, item 3).
def project(root: Path, remote: tuple[str, list[str]]) -> Path:
    run_cli("init", str(root), check=True)
    run_cli("remote", "add", "origin", remote[0], *remote[1], "--trusted", cwd=root, check=True)
    (root / "pipe.py").write_text(PIPELINE)
    return root


def clone(remote: tuple[str, list[str]], root: Path) -> Path:
    run_cli("clone", remote[0], str(root), *remote[1], "--trusted", cwd=root.parent, check=True)
    (root / "pipe.py").write_text(PIPELINE)
    return root


def run(root: Path, n: int, *options: str) -> str:
    """`artrepo run` with parameter n; returns the output (one line per step, then the run)."""
    return run_cli("run", "pipe.py", "-p", f"n={n}", *options, cwd=root, check=True).stdout


def runs(root: Path) -> dict[str, str]:
    """{run id: run commit} as `artrepo log --json` lists them."""
    return {r["id"]: r["commit"] for r in json.loads(run_cli("log", "--json", cwd=root, check=True).stdout)}


def git_log(root: Path, ref: str) -> list[str]:
    return subprocess.run(["git", "--git-dir", str(root / ".artrepo"), "log", "--format=%H", ref],
                          capture_output=True, text=True, check=True).stdout.split()


def assert_chains_reach(root: Path, expected: dict[str, str]) -> None:
    """`artrepo log`, the pipeline chain, HEAD and the Python API all show exactly the `expected` runs."""
    assert runs(root) == expected
    for ref in (CHAIN, "HEAD"):
        assert set(expected.values()) <= set(git_log(root, ref)), ref
    repo = Repository(root)
    try:
        assert {r.id for r in list_runs(repo, "numbers_pipeline")} == set(expected)
        newest = sorted(list_runs(repo), key=lambda r: r.record.start_ns, reverse=True)[:2]
        assert list_runs(repo, limit=2) == newest
    finally:
        repo.close()
    git_fsck(root)


def test_a_clone_lists_the_other_sides_runs_and_serves_their_steps_from_cache(tmp_path, shared):
    a = project(tmp_path / "a", shared)
    run(a, 1)
    run(a, 2)
    run_cli("push", cwd=a, check=True)
    b = clone(shared, tmp_path / "b")
    assert_chains_reach(b, runs(a))
    assert git_log(b, CHAIN) == git_log(a, CHAIN)  # the same chain, not a copy: run commits never change
    out = run(b, 1, "--explain")
    assert out.count("cache hit") == 2 and "(2 steps, 2 cached" in out


def test_pull_joins_divergent_chains_with_a_merge_and_both_sides_converge(tmp_path):
    remote = (str(tmp_path / "shared"), [])
    a = project(tmp_path / "a", remote)
    run(a, 1)
    run_cli("push", cwd=a, check=True)
    b = clone(remote, tmp_path / "b")
    run(b, 2)  # executed on both sides: the same cache keys point at different runs
    run(a, 2)
    run(a, 3)
    run_cli("push", cwd=a, check=True)
    a_tip, b_tip = git_log(a, CHAIN)[0], git_log(b, CHAIN)[0]
    run_cli("pull", cwd=b, check=True)

    everyone = {**runs(a), **runs(b)}
    assert len(everyone) == 4
    assert_chains_reach(b, everyone)
    (merge,) = [c for c in git_log(b, CHAIN) if c not in everyone.values()]
    parents = subprocess.run(["git", "--git-dir", str(b / ".artrepo"), "rev-parse", f"{merge}^@"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert parents == [a_tip, b_tip]  # newest chain first
    out = run(b, 3, "--explain")  # ran only on the other side
    assert out.count("cache hit") == 2

    run_cli("push", cwd=b, check=True)
    run_cli("pull", cwd=a, check=True)
    assert git_log(a, CHAIN) == git_log(b, CHAIN)
    assert_chains_reach(a, runs(b))


def test_a_run_finishing_during_a_pull_stays_in_the_chain(tmp_path, monkeypatch):
    remote = (str(tmp_path / "shared"), [])
    a = project(tmp_path / "a", remote)
    run(a, 1)
    run_cli("push", cwd=a, check=True)
    b = project(tmp_path / "b", remote)
    run(b, 2)
    from artrepo.gitdb.objects import ObjectStore

    walk, calls = ObjectStore.walk, []

    def run_meanwhile(*args):
        found = walk(*args)
        if not calls:  # after the pull found which runs arrived
            calls.append(run(b, 3))  # another process moves the chain after the pull read it
        return found

    monkeypatch.setattr(ObjectStore, "walk", run_meanwhile)
    repo = Repository(b)
    try:
        pull(repo, get_remote(repo, "origin"))
    finally:
        repo.close()
    assert len(runs(b)) == 3
    assert_chains_reach(b, runs(b))



KILLED_PULL = textwrap.dedent('''
    import os, signal, sys
    from artrepo.remotes.config import get_remote
    from artrepo.remotes.pull import pull
    from artrepo.repository import Repository

    def killed(*args, **kwargs):  # the cache refs are set; the chain is not joined yet
        os.kill(os.getpid(), signal.SIGKILL)

    Repository.join_chains = killed
    repo = Repository(sys.argv[1])
    pull(repo, get_remote(repo, "origin"))
''')


def test_a_pull_killed_before_joining_the_chains_is_completed_by_the_next_pull(tmp_path):
    import signal
    import sys

    remote = (str(tmp_path / "shared"), [])
    a = project(tmp_path / "a", remote)
    run(a, 1)
    run(a, 2)
    run_cli("push", cwd=a, check=True)
    b = project(tmp_path / "b", remote)
    run(b, 3)
    mine = runs(b)
    child = subprocess.run([sys.executable, "-c", KILLED_PULL, str(b)], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert set(git_log(b, CHAIN)) == set(mine.values())  # killed before the chain moved
    git_fsck(b)
    out = run(b, 1, "--explain")  # the cache refs the killed pull set already answer
    assert out.count("cache hit") == 2
    run_cli("pull", cwd=b, check=True)
    assert_chains_reach(b, {**runs(a), **runs(b)})
    assert len(runs(b)) == 4


def test_a_run_pushed_or_pulled_by_its_id_travels_with_the_versions_its_steps_read_and_made(tmp_path):
    from artrepo.values import load_value

    a = project(tmp_path / "a", (str(tmp_path / "everything"), []))
    run(a, 1)
    (first,) = runs(a)
    run(a, 2)
    (second,) = set(runs(a)) - {first}
    run_cli("remote", "add", "one-run", str(tmp_path / "one-run"), cwd=a, check=True)
    run_cli("push", "one-run", second, cwd=a, check=True)
    run_cli("push", cwd=a, check=True)  # everything to origin

    b = tmp_path / "b"  # a push sends the run's refs and its versions, nothing else
    run_cli("clone", str(tmp_path / "one-run"), str(b), cwd=tmp_path, check=True)
    c = tmp_path / "c"  # a pull brings every ref's metadata and the data of what it names
    run_cli("init", str(c), check=True)
    run_cli("remote", "add", "origin", str(tmp_path / "everything"), cwd=c, check=True)
    run_cli("pull", "origin", first, cwd=c, check=True)
    (tmp_path / "everything").rename(tmp_path / "gone")  # what c loads now must be here
    for root, rid, n in ((b, second, 2), (c, first, 1)):
        assert rid in runs(root)  # (with the earlier runs of its chain as history: records only)
        repo = Repository(root)
        try:
            if root == b:
                assert {name: list(repo.version_refs(name)) for name in repo.names()} == \
                    {"numbers": ["2"], "doubled": ["2"]}
            assert load_value(repo, repo.get("numbers", str(n))) == list(range(n))
            assert load_value(repo, repo.get("doubled", str(n))) == [v * 2 for v in range(n)]
        finally:
            repo.close()
        git_fsck(root)
