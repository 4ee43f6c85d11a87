"""Helpers shared by the test suites (imported by name; conftest.py holds the fixtures)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, check: bool = False, env: dict | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m artrepo ARGS` in a real subprocess."""
    proc = subprocess.run([sys.executable, "-m", "artrepo", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"artrepo {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def git_fsck(root: Path) -> None:
    """Stock `git fsck --strict` must pass on the repository's metadata."""
    proc = subprocess.run(["git", "--git-dir", str(root / ".artrepo"), "fsck", "--strict", "--no-dangling"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stderr.lower() and "warning" not in proc.stderr.lower(), proc.stderr


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (to prove nothing was written)."""
    out = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds; False if it ended (or timed out) first."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    return False
