"""Start-up: the CLI stays light until a command needs the heavy libraries."""
import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "pyarrow", "pygit2", "s3fs", "fsspec", "dask", "distributed")

PROBE = """
import json, runpy, sys
sys.argv = ["artrepo", *sys.argv[1:]]
try:
    runpy.run_module("artrepo", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def heavy_modules_after(*args: str, cwd=None) -> list[str]:
    """Run `artrepo ARGS` in a fresh interpreter; the heavy modules it imported."""
    proc = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["log", "--help"], ["show", "--help"]])
def test_help_imports_no_heavy_library(args, tmp_path):
    assert heavy_modules_after(*args, cwd=tmp_path) == []


def test_the_probe_sees_imports_a_command_makes(project):
    """The check above would notice a heavy import: showing an array's data loads numpy."""
    code = "import numpy, artrepo; artrepo.save_artifact(numpy.arange(3), name='x')"
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True, timeout=60)
    assert heavy_modules_after("log", "x", cwd=project) == []  # reads stay pure Python
    assert heavy_modules_after("alias", "x:1", "production", cwd=project) == []  # and so do ref writes
    assert "pygit2" in heavy_modules_after("remote", "add", "origin", str(project.parent / "r"), cwd=project)
