"""Shared pieces of the fault-injection suite: payloads, child savers, whole-repository checks."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
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
    from artrepo.gitdb.parsed import is_oid
    from artrepo.maintenance.inventory import artrepo_refs, classify_all

    return {t.version: t.oid for t in classify_all(artrepo_refs(root / ".artrepo"))
            if t.kind == "version" and t.name == name and is_oid(t.oid)}


def kill_at_random(child: subprocess.Popen, ready: Path, rng, full: float) -> None:
    """SIGKILL `child` at a random moment of its work (up to 1.1 x `full` seconds after it touched `ready`)."""
    while not ready.exists() and child.poll() is None:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, full * 1.1))
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait()


def racing_registers(project: Path, name: str, version: str, count: int) -> list[tuple[int, str]]:
    """`count` processes register a file each as `name:version` at once; [(exit code, stderr)]."""
    sources = []
    for i in range(count):
        f = project.parent / f"source-{i}.txt"
        f.write_text(f"creator {i}\n")
        sources.append(f)
    cmd = [sys.executable, "-m", "artrepo", "register"]
    procs = [subprocess.Popen([*cmd, str(f), "--name", name, "--version", version], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in sources]
    return [(p.wait(120), p.stderr.read()) for p in procs]
