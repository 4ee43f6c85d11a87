"""Many processes on one repository: no version lost, numbered twice, torn or forgotten."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from artrepo import load_artifact
from artrepo_testing import run_cli
from helpers import assert_repository_sound, python_child, racing_registers, version_ids

APPENDER = """
from artrepo import save_artifact
for i in range({saves}):
    save_artifact(b"writer-{w}-save-%d" % i, "counter")
"""


def _auto_increment(project, writers: int, saves: int, meanwhile=None) -> None:
    procs = [python_child(APPENDER.format(w=w, saves=saves), project, stderr=subprocess.PIPE) for w in range(writers)]
    for p in procs:
        assert p.wait(600) == 0, p.stderr.read()
    if meanwhile is not None:
        meanwhile()
    labels = version_ids(project, "counter")
    total = writers * saves
    assert sorted(labels, key=int) == [str(i) for i in range(1, total + 1)]  # 1..N, each exactly once
    payloads = {load_artifact("counter", version=label) for label in labels}
    assert payloads == {b"writer-%d-save-%d" % (w, i) for w in range(writers) for i in range(saves)}
    assert_repository_sound(project)


def test_four_writers_times_25_auto_increment_saves(project):
    _auto_increment(project, writers=4, saves=25)


@pytest.mark.long
def test_sixteen_writers_times_50_auto_increment_saves(project):
    _auto_increment(project, writers=16, saves=50)


GC_LOOP = """
import os, subprocess, sys
done = 0
while not os.path.exists("writers-done"):
    proc = subprocess.run([sys.executable, "-m", "artrepo", "gc"], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr  # 1: busy with a save, deleted nothing
    assert "Traceback" not in proc.stderr, proc.stderr
    done += proc.returncode == 0
print(done)
"""


def test_gc_packing_refs_beside_four_writers_loses_no_version(project, monkeypatch):
    """gc packs refs under the same per-ref locks as writers: 4 x 25 saves all survive, each with its payload."""
    monkeypatch.setenv("ARTREPO_GC_LOCK_WAIT", "1")  # a busy gc gives up soon and runs again
    collector = python_child(GC_LOOP, project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = []

    def stop_collector():
        (project / "writers-done").touch()
        result.extend(collector.communicate(timeout=300))

    try:
        _auto_increment(project, writers=4, saves=25, meanwhile=stop_collector)
    finally:
        if not result:
            stop_collector()
    assert collector.returncode == 0, result[1]
    assert int(result[0]) >= 1  # gc did run (not only report that saves kept it busy)
    packed = (project / ".artrepo" / "packed-refs").read_text()
    assert "refs/artrepo/v/counter/" in packed  # gc did pack version refs while writers ran


def test_eight_racing_creators_of_one_custom_version_one_wins(project):
    results = racing_registers(project, "release", "v1", 8)
    assert sorted(rc for rc, _ in results) == [0] + [1] * 7, results
    for rc, err in results:
        if rc == 1:
            assert "already exists" in err or "at the same time" in err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    winner = load_artifact("release", version="v1")
    assert winner.read_text().startswith("creator ")
    assert list(version_ids(project, "release")) == ["v1"]
    assert_repository_sound(project)


WRITER = """
import numpy as np
from artrepo import save_artifact
for i in range(12):
    save_artifact(np.full(150_000, {w} * 1000 + i, dtype=np.int64), "live")
"""

READER = """
import numpy as np
from artrepo import client, load_artifact
import os
seen = 0
while not os.path.exists("writers-done") or seen < 3:
    a = load_artifact("live")
    assert a.shape == (150_000,) and (a == a[0]).all(), "partial or mixed read"
    assert a[0] % 1000 < 12 and a[0] // 1000 in (1, 2), a[0]
    seen += 1
print(seen)
"""


def test_readers_loading_latest_while_writers_append_never_see_a_partial_version(project):
    import artrepo

    artrepo.save_artifact(np.full(150_000, 1000, dtype=np.int64), "live")
    readers = [python_child(READER, project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    writers = [python_child(WRITER.format(w=w), project, stderr=subprocess.PIPE) for w in (1, 2)]
    for w in writers:
        assert w.wait(300) == 0, w.stderr.read()
    (project / "writers-done").touch()
    for r in readers:
        out, err = r.communicate(timeout=300)
        assert r.returncode == 0, err
        assert int(out) >= 3
    assert len(version_ids(project, "live")) == 25
    assert_repository_sound(project)


ANNOTATOR = """
from artrepo import log_artifact_metadata
from artrepo.client import Client
for i in range(10):
    Client().update_artifact_version("notes", add_tags=["t-{w}-%d" % i])
    log_artifact_metadata({{"k-{w}-%d" % i: i}}, artifact_name="notes")
"""


def test_tags_and_metadata_added_concurrently_are_all_kept(project):
    import artrepo

    artrepo.save_artifact([1, 2, 3], "notes")
    procs = [python_child(ANNOTATOR.format(w=w), project, stderr=subprocess.PIPE) for w in range(4)]
    for p in procs:
        assert p.wait(300) == 0, p.stderr.read()
    from artrepo import repository

    repository._OPEN.clear()
    av = artrepo.Client().get_artifact_version("notes")
    assert {t for t in av.tags if t.startswith("t-")} == {f"t-{w}-{i}" for w in range(4) for i in range(10)}
    assert {k: v for k, v in av.run_metadata.items() if k.startswith("k-")} == \
        {f"k-{w}-{i}": i for w in range(4) for i in range(10)}
    shown = run_cli("show", "notes", "--json")
    assert shown.returncode == 0 and "t-3-9" in shown.stdout
    assert_repository_sound(project)
