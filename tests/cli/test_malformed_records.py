"""A malformed record of any kind is one line on stderr and exit 3, never a traceback.

The records are planted with stock git (a new commit with one blob replaced,
and every ref that pointed at the old commit moved to it), as a damaged or
hostile repository would hold them.
"""
from __future__ import annotations

import os
import subprocess

import msgpack
import pytest

from artrepo import Client, pipeline, save_artifact, step
from artrepo_testing import run_cli


@step
def make() -> int:
    return 1


@pipeline
def making():
    make()


def _git(project, *args: str, stdin: bytes | None = None, env: dict | None = None) -> str:
    proc = subprocess.run(["git", "--git-dir", str(project / ".artrepo"), *args], input=stdin, capture_output=True,
                          env={**os.environ, **(env or {})}, check=True)
    return proc.stdout.decode().strip()


def _plant(project, commit: str, path: str, mutate) -> None:
    """Replace the blob at `path` in `commit` by its mutated msgpack; move every ref on `commit` to the result."""
    old = msgpack.unpackb(subprocess.run(["git", "--git-dir", str(project / ".artrepo"), "cat-file", "blob",
                                          f"{commit}:{path}"], capture_output=True, check=True).stdout, raw=False)
    blob = _git(project, "hash-object", "-w", "--stdin", stdin=mutate(old))
    env = {"GIT_INDEX_FILE": str(project / "planting-index")}
    _git(project, "read-tree", commit, env=env)
    _git(project, "update-index", "--cacheinfo", f"100644,{blob},{path}", env=env)
    tree = _git(project, "write-tree", env=env)
    planted = _git(project, "commit-tree", tree, "-m", "planted", env={**env, "GIT_AUTHOR_NAME": "t",
                   "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    for ref in _git(project, "for-each-ref", "--points-at", commit, "--format=%(refname)").split():
        _git(project, "update-ref", ref, planted)


def missing(field):
    return lambda doc: msgpack.packb({k: v for k, v in doc.items() if k != field}, use_bin_type=True)


def extra(doc):
    return msgpack.packb({**doc, "surprise": 1}, use_bin_type=True)


def retyped(field, value):
    return lambda doc: msgpack.packb({**doc, field: value}, use_bin_type=True)


def truncated(doc):
    return msgpack.packb(doc, use_bin_type=True)[:-5]


@pytest.fixture
def recorded(project):
    save_artifact([1, 2], name="data")
    Client().update_artifact_version("data", add_tags=["checked"])
    run = making()
    repo = Client().active_repository
    notes = _git(project, "rev-parse", "refs/artrepo/annotations")
    note_path = _git(project, "ls-tree", "-r", "--name-only", notes)
    return {"version": repo.resolve("data").id, "notes": notes, "note_path": note_path, "run": run}


CASES = {  # kind: (where the record is, how it is spoiled, the command that reads it)
    "artifact_version": (lambda r: (r["version"], "record.msgpack"), extra, ["show", "data"]),
    "manifest": (lambda r: (r["version"], "manifest.msgpack"), truncated, ["export", "data", "out"]),
    "pipeline_run": (lambda r: (r["run"].commit, "run.msgpack"), missing("end_ns"), ["log"]),
    "step_run": (lambda r: (r["run"].commit, "steps/make.msgpack"), missing("outputs"), ["show", "RUN"]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_malformed_record_is_one_line_and_exit_3(project, recorded, kind):
    where, spoil, command = CASES[kind]
    _plant(project, *where(recorded), spoil)
    proc = run_cli(*[recorded["run"].id if a == "RUN" else a for a in command], cwd=project)
    assert proc.returncode == 3, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("artrepo: error: ")


def test_a_malformed_annotation_is_skipped_with_one_warning_line(project, recorded):
    """An annotation costs only itself (docs/reliability.md, item 7): the version still shows, without it."""
    _plant(project, recorded["notes"], recorded["note_path"], retyped("tags", "checked"))
    proc = run_cli("show", "data", cwd=project)
    assert proc.returncode == 0 and "data:1" in proc.stdout and "checked" not in proc.stdout, proc
    assert proc.stderr.startswith("artrepo: warning: skipped an unreadable annotation") and \
        len(proc.stderr.splitlines()) == 1, proc.stderr
