"""Running a user's script as its user runs it: `python NAME.py` in the project, a fresh process."""
import os
import subprocess
import sys
from pathlib import Path


def run_script(project: Path, code: str, name: str, ok: bool = True, env: dict | None = None):
    (project / f"{name}.py").write_text(code)
    proc = subprocess.run([sys.executable, f"{name}.py"], cwd=project, capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
