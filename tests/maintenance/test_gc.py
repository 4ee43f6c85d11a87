"""gc removes exactly what no ref needs and is older than the grace period; retention keeps what is needed."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from typing_extensions import Annotated

from artrepo import load_artifact, pipeline, save_artifact, step
from artrepo_testing import git_fsck, run_cli

OLD = time.time() - 7200


PAYLOAD_BYTES = 200_000 * 8


def payload(seed: int, n: int = 200_000):
    return np.random.default_rng(seed).random(n)


def packs(project):
    return sorted(p for p in (project / ".artrepo" / "chunks" / "packs").glob("*/*") if not p.name.startswith("."))


def crashed_save(repo, data: bytes) -> None:
    """What a save killed after its chunks were durable leaves: packs and index, no ref."""
    session = repo.chunks.session()
    w = session.writer("data.bin")
    w.write(data)
    w.close()
    session.commit()


def age_everything(project) -> None:
    for folder, _dirs, files in os.walk(project / ".artrepo" / "chunks"):
        for f in files:
            os.utime(os.path.join(folder, f), (OLD, OLD))


def test_gc_removes_old_unreferenced_packs_and_keeps_young_ones(project, repo):
    save_artifact(payload(1), "kept")
    crashed_save(repo, payload(2).tobytes())
    assert len(packs(project)) == 2
    out = run_cli("gc")  # default grace 1h: the crashed save's pack is too young to touch
    assert out.returncode == 0 and "kept 1 packs in use, 1 unused packs younger" in out.stdout
    assert len(packs(project)) == 2
    age_everything(project)
    dry = run_cli("gc", "--dry-run")
    assert dry.returncode == 0 and "would remove 1 packs" in dry.stdout and len(packs(project)) == 2
    out = run_cli("gc")
    assert out.returncode == 0 and "removed 1 packs" in out.stdout
    assert len(packs(project)) == 1
    assert np.array_equal(load_artifact("kept"), payload(1))
    assert run_cli("fsck", "--read-data").returncode == 0
    git_fsck(project)


def test_gc_merges_index_files_and_data_stays_readable(project):
    for i in range(4):
        save_artifact(payload(i), f"n{i}")
    assert len(list((project / ".artrepo" / "chunks" / "index").iterdir())) == 4
    assert run_cli("gc", "--grace", "0").returncode == 0
    assert len(list((project / ".artrepo" / "chunks" / "index").iterdir())) == 1
    for i in range(4):
        assert np.array_equal(load_artifact(f"n{i}"), payload(i))
    assert run_cli("fsck", "--read-data").returncode == 0


def test_gc_refuses_to_delete_anything_when_a_ref_is_damaged(project, repo):
    save_artifact(payload(1), "a")
    crashed_save(repo, payload(2).tobytes())
    age_everything(project)
    (project / ".artrepo" / "refs" / "artrepo" / "v" / "a" / "1").write_text("garbage\n")
    before = packs(project)
    out = run_cli("gc", "--grace", "0")
    assert out.returncode == 3 and "nothing was deleted" in out.stderr and "Traceback" not in out.stderr
    assert packs(project) == before


def test_keep_last_drops_old_versions_but_never_aliased_latest_or_highest(project):
    for i in range(5):
        save_artifact(payload(i), "model")
    assert run_cli("alias", "model:2", "production").returncode == 0
    out = run_cli("gc", "--keep-last", "2", "--grace", "0", "model")
    assert out.returncode == 0, out.stderr
    assert "keep model:2: an alias points at it" in out.stdout
    assert "drop model:1" in out.stdout and "drop model:3" in out.stdout
    listing = run_cli("log", "model", "--json").stdout
    import json

    assert sorted(v["version"] for v in json.loads(listing)) == ["2", "4", "5"]
    for label in ("2", "4", "5"):
        assert np.array_equal(load_artifact("model", version=label), payload(int(label) - 1))
    assert run_cli("export", "model:1", str(project.parent / "x")).returncode == 1
    stored = sum(p.stat().st_size for p in packs(project))
    assert 3 * PAYLOAD_BYTES < stored < 3.1 * PAYLOAD_BYTES  # the dropped versions' data is gone
    assert len(packs(project)) == 1  # and the three small packs left were regrouped into one
    save_artifact(payload(9), "model")  # numbers are never reused
    assert load_artifact("model:6") is not None
    assert run_cli("fsck", "--read-data").returncode == 0
    git_fsck(project)


def test_older_than_keeps_young_versions_and_dry_run_changes_nothing(project):
    for i in range(3):
        save_artifact(payload(i), "m")
    out = run_cli("gc", "--older-than", "1h", "m")
    assert out.returncode == 0 and "drop" not in out.stdout
    dry = run_cli("gc", "--keep-last", "1", "--dry-run", "m")
    assert "would drop m:1" in dry.stdout and "would drop m:2" in dry.stdout
    assert len(packs(project)) == 3


def test_gc_usage_errors_are_one_line(project):
    out = run_cli("gc", "--grace", "soon")
    assert out.returncode == 1 and "invalid duration" in out.stderr and len(out.stderr.splitlines()) == 1
    out = run_cli("gc", "--keep-last", "1", "nosuch")
    assert out.returncode == 1 and "no artifact named" in out.stderr
    assert run_cli("gc", "--keep-last", "0").returncode == 2


SLOW_SAVE = """
import os, time
import numpy as np
from artrepo import save_artifact
from artrepo.materializers.numpy import NumpyMaterializer

class Slow(NumpyMaterializer):
    SKIP_REGISTRATION = True
    def save(self, data):
        super().save(data)
        open("saving", "w").close()
        while not os.path.exists("go"):
            time.sleep(0.01)

save_artifact(np.random.default_rng(2).random(200_000), "again", materializer=Slow)
"""


def test_gc_during_a_save_that_reuses_unreferenced_chunks_loses_nothing(project, repo):
    crashed_save(repo, np.random.default_rng(2).random(200_000).tobytes())  # the chunks a new save will reuse
    age_everything(project)
    child = subprocess.Popen([sys.executable, "-c", SLOW_SAVE], cwd=project, stderr=subprocess.PIPE, text=True)
    while not (project / "saving").exists():
        assert child.poll() is None, child.stderr.read()
        time.sleep(0.01)
    gc = subprocess.Popen([*run_cli_args(), "gc", "--grace", "0"], cwd=project, stdout=subprocess.PIPE)
    try:
        gc.wait(3)
    except subprocess.TimeoutExpired:
        pass  # gc waits for the save: the behaviour wanted
    (project / "go").touch()
    assert child.wait(60) == 0, child.stderr.read()
    gc.wait(60)
    from artrepo import repository

    repository._OPEN.clear()
    assert np.array_equal(load_artifact("again"), np.random.default_rng(2).random(200_000))


def run_cli_args():
    return [sys.executable, "-m", "artrepo"]


def test_a_long_lived_process_saving_after_gc_stores_its_data(project, repo):
    save_artifact(payload(1), "tmp")
    save_artifact(payload(2), "tmp")
    assert run_cli("gc", "--keep-last", "1", "--grace", "0", "tmp").returncode == 0  # drops tmp:1 and its pack
    save_artifact(payload(1), "again")  # same process: its in-memory index still lists the dropped pack
    assert run_cli("fsck").returncode == 0


def test_gc_gives_up_with_one_line_while_a_save_holds_the_lock(project, repo):
    with repo.saving():
        out = run_cli("gc", "--grace", "0", env={"ARTREPO_GC_LOCK_WAIT": "0.3"})
    assert out.returncode == 1 and out.stderr.strip().endswith("try again later"), out.stderr
    assert len(out.stderr.splitlines()) == 1


@step
def counted(n: int) -> Annotated[list, "counted"]:
    return list(range(n))


@pipeline
def counting(n: int):
    counted(n=n)


def test_keep_last_keeps_what_a_cache_entry_serves_unless_forced(project):
    counting(n=1)
    counting(n=2)
    kept = run_cli("gc", "--keep-last", "1", "--grace", "0", "counted")
    assert kept.returncode == 0, kept.stderr
    assert "keep counted:1: cache entry of step 'counted' needs it (use --force to drop it anyway)" in kept.stdout
    forced = run_cli("gc", "--keep-last", "1", "--grace", "0", "--force", "counted")
    assert forced.returncode == 0 and "drop counted:1" in forced.stdout
