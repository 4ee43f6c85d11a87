"""Start-up: the CLI stays light until a command needs the heavy libraries."""
import json
import os
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


# `artrepo ARGS` in a fresh interpreter, through the click-free path for `run` (fast) or click alone (click);
# the modules of CLICKY it imported go to the file $PROBE_OUT.
CLICKY = ("click", "inspect", "artrepo.client")
RUN_PROBE = """
import json, os, sys
import artrepo.cli.fastrun as fastrun
if sys.argv[1] == "click":
    fastrun.plain_run = lambda args: None
from artrepo.cli.main import main
code = 0
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump(sorted(m for m in {clicky!r} if m in sys.modules), f)
sys.exit(code)
"""

TWO_PIPELINES = '''
from artrepo import pipeline, step

@step
def first(i: int = 0) -> int:
    return i

@step
def inc(x: int) -> int:
    return x + 1

@pipeline
def linear2(i: int = 0):
    inc(first(i=i))

@pipeline
def other():
    first()
'''


def artrepo_by(way: str, *args: str, cwd) -> tuple[tuple[int, str, str], list[str]]:
    """(exit code, stdout, stderr) of `artrepo ARGS` run one `way`, run ids and durations masked; modules loaded."""
    import re

    out = cwd / "probe.json"
    proc = subprocess.run([sys.executable, "-c", RUN_PROBE.format(clicky=CLICKY), way, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "PROBE_OUT": str(out)})
    loaded = json.loads(out.read_text())
    masked = [re.sub(r"\brun [0-9a-f]{12,40}\b", "run RUN", re.sub(r"\d+\.\d\ds\)", "T)", text))
              for text in (proc.stdout, proc.stderr)]
    return (proc.returncode, *masked), loaded


@pytest.mark.parametrize("args, plain", [
    (["run", "pipes.py:linear2", "-p", "i=7"], True),  # cached: the first run below filled the cache
    (["run", "pipes.py:linear2", "--parameter", "i=8", "-p", "i=7"], True),
    (["run", "missing.py"], True),
    (["run", "pipes.py:nope"], True),
    (["run", "pipes.py"], True),  # two pipelines: name one
    (["run", "pipes.py:other", "-p", "zz=1"], True),  # no such parameter
    (["run", "pipes.py:linear2", "-p", "i"], False),  # not KEY=VALUE: click's usage error
    (["run", "pipes.py:linear2", "-p"], False),
    (["run", "pipes.py:linear2", "-p", "i=7", "--explain"], False),
    (["run", "-h"], False),
    (["run"], False),
    (["run", "pipes.py:linear2", "extra"], False),
])
def test_plain_run_skips_click_and_says_what_click_would(args, plain, project):
    """`artrepo run FILE[:PIPELINE] [-p K=V]` loads no click, with the same output and exit code as through click."""
    (project / "pipes.py").write_text(TWO_PIPELINES)
    subprocess.run([sys.executable, "-m", "artrepo", "run", "pipes.py:linear2", "-p", "i=7"], cwd=project,
                   check=True, capture_output=True, timeout=60)
    fast, fast_loaded = artrepo_by("fast", *args, cwd=project)
    slow, slow_loaded = artrepo_by("click", *args, cwd=project)
    assert fast == slow
    assert ("click" not in fast_loaded) is plain, fast_loaded
    assert "click" in slow_loaded
    if args[:2] == ["run", "pipes.py:linear2"] and plain:  # a cached run: nothing but what it needs
        assert fast[0] == 0 and "step inc: cached" in fast[1] and "(2 steps, 2 cached, T)" in fast[1]
        assert fast_loaded == []


def test_plain_run_outside_a_repository_fails_alike(tmp_path):
    (tmp_path / "pipes.py").write_text(TWO_PIPELINES)
    fast, fast_loaded = artrepo_by("fast", "run", "pipes.py:linear2", cwd=tmp_path)
    assert fast == artrepo_by("click", "run", "pipes.py:linear2", cwd=tmp_path)[0]
    assert fast[0] == 1 and fast[2].startswith("artrepo: error: ") and fast_loaded == []
