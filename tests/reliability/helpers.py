"""Shared pieces of the fault-injection suite: payloads, child savers, whole-repository checks."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from artrepo_testing import git_fsck, run_cli

ROOT = Path(__file__).resolve().parents[2]


def payload(seed: int, n: int = 200_000) -> np.ndarray:
    """A deterministic array that is different for every seed (and not compressible)."""
    return np.random.default_rng(seed).random(n)


def python_child(code: str, cwd: Path, **popen) -> subprocess.Popen:
    """A real Python process running `code` in the project folder."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, **popen)


def run_child(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = python_child(code, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_repository_sound(root: Path) -> None:
    """`artrepo fsck --read-data` is clean and stock git fsck passes."""
    proc = run_cli("fsck", "--read-data", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    git_fsck(root)


def version_ids(root: Path, name: str) -> dict[str, str]:
    """{label: version id} straight from the ref files (loose and packed)."""
    from artrepo.maintenance.inventory import version_refs

    return {t.version: t.oid for t in version_refs(root / ".artrepo") if t.name == name}
