"""Fixtures of the hostile-remote suite (issue 14): a legitimate remote, its forgeries, and a victim.

`legit` is made once per session by real `artrepo` commands (register, save,
run, push to a folder); every test copies its objects into a `Forgery`,
rewrites them with the documented format only (recipes.py), and writes the
result to a `bucket`: a local folder or an S3 prefix on moto_server. The victim
then runs real CLI processes against it (`victim.cli`), each measured for peak
RSS. `world` is one repository holding every forgery whose only defence is in
materializing, loading and printing, planted as a pull that checks nothing
would leave it: those defences must hold however a version arrived, and stay
testable once pull refuses such versions.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from forgery import FolderBucket, Forgery, S3Bucket, read_objects
from harness import PIPELINE, SAVES, Victim, setup_cli
from recipes import forge_bad_trees, forge_chain, forge_escapes, forge_hostile_values, forge_visuals

_spec = importlib.util.spec_from_file_location("hostile_remote_fixtures",
                                               Path(__file__).parents[1] / "remotes" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
moto_server, s3_env = _fixtures.moto_server, _fixtures.s3_env


@dataclass
class Legit:
    objects: dict[str, bytes]
    publisher: Path
    scratch: Path  # a git repository holding the remote's objects, copied by each forgery


@pytest.fixture(scope="session")
def legit(tmp_path_factory) -> Legit:
    """A remote made by a real `artrepo push`: a folder, a number, an array, a text, one pipeline run."""
    top = tmp_path_factory.mktemp("legit")
    pub = top / "publisher"
    setup_cli("init", str(pub), cwd=top)
    folder = top / "dataset"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha\n")
    (folder / "sub" / "b.txt").write_text("beta\n")
    os.symlink("sub/b.txt", folder / "link-to-b")
    setup_cli("register", str(folder), "--name", "data", cwd=pub)
    subprocess.run([sys.executable, "-c", SAVES], cwd=pub, check=True, capture_output=True, timeout=120)
    (pub / "pipe.py").write_text(PIPELINE)
    setup_cli("run", "pipe.py", cwd=pub)
    remote = top / "remote"
    setup_cli("remote", "add", "origin", str(remote), cwd=pub)
    setup_cli("push", "origin", cwd=pub)
    objects = read_objects(FolderBucket(remote))
    scratch = top / "scratch.git"
    Forgery(objects, scratch)
    return Legit(objects, pub, scratch)


@pytest.fixture
def forged(legit, tmp_path) -> Forgery:
    """A fresh copy of the legit remote, ready to be rewritten."""
    scratch = tmp_path / "scratch.git"
    shutil.copytree(legit.scratch, scratch)
    return Forgery(legit.objects, scratch)


@pytest.fixture(params=["folder", "s3"])
def bucket(request, tmp_path):
    """Where the forged remote is written: a local folder, or a prefix of a bucket on moto_server."""
    if request.param == "folder":
        return FolderBucket(tmp_path / "remote")
    endpoint, name = request.getfixturevalue("s3_env")
    return S3Bucket(endpoint, name)


@pytest.fixture(scope="session")
def victim_template(tmp_path_factory) -> Path:
    """A repository holding the victim's own `mine:1` (a registered file), copied by `project_with`."""
    top = tmp_path_factory.mktemp("victim-template")
    (top / "mine.txt").write_text("the victim's own data\n")
    setup_cli("init", str(top / "repo"), cwd=top)
    setup_cli("register", str(top / "mine.txt"), "--name", "mine", cwd=top / "repo")
    return top / "repo"


@pytest.fixture
def victim(tmp_path, victim_template) -> Victim:
    home = tmp_path / "home"
    home.mkdir()
    return Victim(home, victim_template)


@dataclass
class World:
    victim: Victim  # its repository holds the planted forgeries, marked as pulled from remote `evil`
    outside: Path  # where the `W` link of item 1's chain points
    run_id: str  # the run whose records carry escape sequences (item 12)


@pytest.fixture(scope="session")
def world(legit, victim_template, tmp_path_factory) -> World:
    top = tmp_path_factory.mktemp("world")
    shutil.copytree(legit.scratch, top / "scratch.git")
    forged = Forgery(legit.objects, top / "scratch.git")
    outside = top / "outside"
    outside.mkdir()
    forge_chain(forged, outside)
    forge_hostile_values(forged)
    forge_bad_trees(forged)
    forge_visuals(forged)
    run_id = forge_escapes(forged)
    (top / "home").mkdir()
    victim = Victim(top / "home", victim_template)
    victim.project_with(FolderBucket(top / "remote"))
    refs = dict(forged.table["refs"])
    run = refs[f"refs/artrepo/runs/{run_id}"]
    refs.update({"refs/artrepo/pipelines/adder": run, "refs/heads/runs": run})  # derived (format.md §11a)
    forged.plant(victim.root, refs, origin="evil")
    return World(victim, outside, run_id)
