"""Disk full during a save: a clear error, nothing partial referenced, earlier versions intact."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from artrepo_testing import git_fsck
from helpers import ROOT, payload


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "artrepo", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=120)


def test_a_full_disk_during_save_publishes_nothing_and_keeps_earlier_versions(small_disk, tmp_path):
    project = small_disk / "project"
    assert _cli("init", str(project), cwd=tmp_path).returncode == 0
    small = tmp_path / "small.bin"
    small.write_bytes(payload(1, 20_000).tobytes())
    big = tmp_path / "big.bin"
    big.write_bytes(payload(2, 2_000_000).tobytes())  # 16 MB of incompressible data on an 8 MiB disk
    assert _cli("register", str(small), "--name", "kept", cwd=project).returncode == 0
    proc = _cli("register", str(big), "--name", "huge", cwd=project)
    assert proc.returncode != 0 and "No space left on device" in proc.stderr
    refs = project / ".artrepo" / "refs" / "artrepo" / "v"
    assert not (refs / "huge").exists()
    # the repository is still sound, and the earlier version loads bit-exact
    for f in (project / ".artrepo" / "tmp").glob("*"):
        assert False, f"temp file left behind: {f}"
    check = _cli("fsck", "--read-data", cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    git_fsck(project)
    out = tmp_path / "out"
    assert _cli("export", "kept", str(out), cwd=project).returncode == 0
    (exported,) = out.rglob("small.bin")
    assert exported.read_bytes() == small.read_bytes()


def test_a_full_disk_leaves_no_unreferenced_data_after_gc(small_disk, tmp_path):
    project = small_disk / "project"
    assert _cli("init", str(project), cwd=tmp_path).returncode == 0
    big = tmp_path / "big.bin"
    big.write_bytes(np.random.default_rng(3).random(2_000_000).tobytes())
    assert _cli("register", str(big), "--name", "huge", cwd=project).returncode != 0
    assert _cli("gc", "--grace", "0", cwd=project).returncode == 0
    used = sum(f.stat().st_size for f in (project / ".artrepo" / "chunks").rglob("*") if f.is_file())
    assert used == 0


def test_a_full_disk_is_reported_in_one_line(small_disk, tmp_path):
    project = small_disk / "project"
    assert _cli("init", str(project), cwd=tmp_path).returncode == 0
    big = tmp_path / "big.bin"
    big.write_bytes(payload(2, 2_000_000).tobytes())
    proc = _cli("register", str(big), "--name", "huge", cwd=project)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "space" in proc.stderr.lower()
