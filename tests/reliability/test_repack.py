"""Consolidation (automatic repack, issue 15): crash-safe, safe beside savers, and the result travels.

A repack merges small packs and index files, packs git objects and refs. A
SIGKILL at any point of it loses nothing; four processes saving while it
runs lose nothing; packed version refs still refuse a second writer of a
custom version; a consolidated repository pushes, clones and pulls.
"""
from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time

import numpy as np
import pytest

from artrepo import load_artifact, save_artifact
from artrepo_testing import run_cli
from helpers import (REPACK_LOOP, assert_repository_sound, kill_at_random, payload, python_child, racing_registers,
                     version_ids)
from remote_fixtures import moto_server, remote_url, s3_env  # noqa: F401  (fixtures)

SMALL = 3_000  # 24 KB of float64 per version: each save leaves a small pack of its own

REPACKER = """
from artrepo.repository import Repository
from artrepo.repository.upkeep import maintain
repo = Repository.find()
open("ready-{trial}", "w").close()
print(maintain(repo))
"""


def _index_files(project) -> int:
    return len([n for n in os.listdir(project / ".artrepo" / "chunks" / "index") if not n.startswith(".")])


def _files(project) -> int:
    """Files under .artrepo but the lock files (a fixed set of stripes, whatever the size)."""
    return sum(len(f) for d, _s, f in os.walk(project / ".artrepo") if "locks" not in d)


def _repack(project) -> None:
    done = python_child(REPACKER.format(trial="now"), project, stderr=subprocess.PIPE)
    assert done.wait(300) == 0, done.stderr.read()


def _save_many(start: int, count: int) -> None:
    for i in range(start, start + count):
        save_artifact(payload(i, SMALL), "weights")


def _assert_every_version_loads(project) -> None:
    from artrepo import repository

    repository._OPEN.clear()  # a fresh reader, as the next process would be
    labels = version_ids(project, "weights")
    for label in labels:
        assert np.array_equal(load_artifact("weights", version=label), payload(int(label) - 1, SMALL)), label


@pytest.fixture
def no_auto_pack(monkeypatch):
    monkeypatch.setenv("ARTREPO_AUTO_PACK", "0")  # the tests pack when they say so


def test_small_saves_are_consolidated_into_few_files(project, no_auto_pack):
    _save_many(0, 60)
    assert _index_files(project) == 60  # one index file (and one pack) per save until packed
    _repack(project)
    assert _index_files(project) <= 2 and _files(project) <= 60 / 2
    assert (project / ".artrepo" / "packed-refs").read_text().count("refs/artrepo/v/weights/") == 60
    _assert_every_version_loads(project)
    assert_repository_sound(project)


def test_automatic_packing_rewrites_packed_refs_only_once_enough_refs_are_loose(project, no_auto_pack, monkeypatch):
    from artrepo.repository import active, upkeep

    monkeypatch.setattr(upkeep, "AUTO_LOOSE_REFS", 8)
    packed, loose = project / ".artrepo" / "packed-refs", project / ".artrepo" / "refs" / "artrepo" / "v" / "weights"
    _save_many(0, 3)
    upkeep.maintain(active())  # `gc` and explicit packings pack every ref
    first = packed.stat().st_ino
    assert not loose.exists()
    _save_many(3, 4)
    upkeep.maintain(active(), every_ref=False)  # as after a save: 4 loose version refs and a head are not 8
    assert packed.stat().st_ino == first and len(os.listdir(loose)) == 4
    _save_many(7, 4)
    upkeep.maintain(active(), every_ref=False)
    assert packed.stat().st_ino != first and not loose.exists()
    assert packed.read_text().count("refs/artrepo/v/weights/") == 11
    _assert_every_version_loads(project)
    assert_repository_sound(project)


def test_sigkill_at_random_points_of_a_repack_loses_nothing(project, no_auto_pack):
    _save_many(0, 40)
    rng = random.Random(15)
    start = time.monotonic()
    first = python_child(REPACKER.format(trial=0), project, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    full = time.monotonic() - start
    saved = 40
    for trial in range(1, 7):
        _save_many(saved, 12)  # new small packs, so each repack has work to do
        saved += 12
        child = python_child(REPACKER.format(trial=trial), project, stdout=subprocess.DEVNULL)
        kill_at_random(child, project / f"ready-{trial}", rng, full)
        assert sorted(map(int, version_ids(project, "weights"))) == list(range(1, saved + 1))
        _assert_every_version_loads(project)
    assert_repository_sound(project)
    _repack(project)  # a repack after the crashes completes what they left
    assert _index_files(project) <= 4  # geometric segments: O(log n) index files, not one per save
    _assert_every_version_loads(project)
    assert_repository_sound(project)


APPENDER = """
from artrepo import save_artifact
for i in range({saves}):
    save_artifact(b"writer-{w}-save-%d" % i, "counter")
"""

def test_a_repack_running_while_four_processes_save_loses_nothing(project, no_auto_pack):
    packer = python_child(REPACK_LOOP, project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writers = [python_child(APPENDER.format(w=w, saves=25), project, stderr=subprocess.PIPE) for w in range(4)]
    try:
        for p in writers:
            assert p.wait(600) == 0, p.stderr.read()
    finally:
        (project / "writers-done").touch()
        out, err = packer.communicate(timeout=300)
    assert packer.returncode == 0, err
    assert int(out.strip().splitlines()[-1]) >= 1  # the repack did run, beside the savers
    labels = version_ids(project, "counter")
    assert sorted(labels, key=int) == [str(i) for i in range(1, 101)]
    from artrepo import repository

    repository._OPEN.clear()
    payloads = {load_artifact("counter", version=label) for label in labels}
    assert payloads == {b"writer-%d-save-%d" % (w, i) for w in range(4) for i in range(25)}
    assert_repository_sound(project)


def test_packed_version_refs_still_refuse_a_second_writer_of_a_custom_version(project, no_auto_pack):
    save_artifact(b"first", "release", version="v1")
    _save_many(0, 5)
    assert run_cli("gc", cwd=project).returncode == 0
    assert "refs/artrepo/v/release/v1" in (project / ".artrepo" / "packed-refs").read_text()
    assert not (project / ".artrepo" / "refs" / "artrepo" / "v" / "release" / "v1").exists()  # packed only
    source = project.parent / "other.txt"
    source.write_text("second\n")
    proc = run_cli("register", str(source), "--name", "release", "--version", "v1", cwd=project)
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # racing creators of a new custom version beside packed refs: exactly one wins
    results = racing_registers(project, "release", "v2", 4)
    assert sorted(rc for rc, _ in results) == [0, 1, 1, 1], results
    from artrepo import repository

    repository._OPEN.clear()
    assert load_artifact("release", version="v1") == b"first"
    assert sorted(version_ids(project, "release")) == ["v1", "v2"]
    assert_repository_sound(project)


def test_gc_packs_many_refs_under_a_small_open_files_limit(project, no_auto_pack):
    """gc holds one ref lock at a time: more refs than the process may open files."""
    for i in range(300):
        save_artifact(i, f"metric{i % 150:03d}")
    limit = "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))"
    code = f"{limit}\nimport sys\nfrom artrepo.cli.main import main\nsys.argv = ['artrepo', 'gc']\nmain()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    packed = (project / ".artrepo" / "packed-refs").read_text()
    assert packed.count("refs/artrepo/v/") == 300
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 96  # the limit was the child's only
    assert_repository_sound(project)


@pytest.mark.parametrize("remote_url", ["folder", "s3"], indirect=True)
def test_a_consolidated_repository_pushes_clones_and_pulls(project, no_auto_pack, remote_url, tmp_path):
    _save_many(0, 40)
    _repack(project)
    assert _index_files(project) <= 2
    url, endpoint = remote_url
    add = ["remote", "add", "origin", url] + (["--endpoint-url", endpoint] if endpoint else [])
    assert run_cli(*add, cwd=project).returncode == 0
    proc = run_cli("push", cwd=project)
    assert proc.returncode == 0, proc.stderr
    clone_args = ["clone", url, str(tmp_path / "copy")] + (["--endpoint-url", endpoint] if endpoint else [])
    proc = run_cli(*clone_args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    copy = tmp_path / "copy"
    assert_repository_sound(copy)
    os.chdir(copy)
    _assert_every_version_loads(copy)
    save_artifact(payload(40, SMALL), "weights")  # version 41, saved in the clone
    _repack(copy)
    assert run_cli("push", cwd=copy).returncode == 0
    os.chdir(project)
    proc = run_cli("pull", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert len(version_ids(project, "weights")) == 41
    _assert_every_version_loads(project)
    assert_repository_sound(project)
