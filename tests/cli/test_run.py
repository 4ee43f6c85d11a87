"""`artrepo run`, `log` and `show` for runs, as real subprocesses, with crashes and races."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from artrepo_testing import ROOT, git_fsck, run_cli

PIPELINE = textwrap.dedent('''
    import os
    import time
    from typing_extensions import Annotated
    from artrepo import pipeline, step

    def scale(x):
        return x * 2

    @step
    def load(n: int = 3) -> Annotated[list, "numbers"]:
        return list(range(n))

    @step
    def doubled(values: list) -> Annotated[list, "doubled"]:
        if os.environ.get("MARK"):
            open(os.environ["MARK"], "w").close()
            time.sleep(60)
        if os.environ.get("FAIL"):
            raise RuntimeError("doubling failed")
        return [scale(v) for v in values]

    @pipeline
    def numbers_pipeline(n: int = 3):
        doubled(load(n=n))
''')


@pytest.fixture
def pipe_file(project):
    path = project / "pipe.py"
    path.write_text(PIPELINE)
    return path


def _runs(cwd):
    return json.loads(run_cli("log", "--json", cwd=cwd, check=True).stdout)


def test_finetuning_example_runs_end_to_end(project):
    pytest.importorskip("sklearn")
    shutil.copy(ROOT / "examples" / "finetuning.py", project / "finetuning.py")
    proc = subprocess.run([sys.executable, "finetuning.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = _runs(project)
    assert [r["pipeline"] for r in runs] == ["model_finetuning_pipeline"] * 2
    assert all(r["status"] == "completed" for r in runs)
    models = json.loads(run_cli("log", "my_model", "--json", cwd=project, check=True).stdout)
    assert [m["version"] for m in models] == ["3", "2", "1"]
    newest = json.loads(run_cli("show", runs[0]["id"][:10], "--json", cwd=project, check=True).stdout)
    (step,) = newest["steps"]
    assert step["name"] == "model_finetuner_step" and step["outputs"]["my_model"] == models[0]["id"]
    assert step["inputs"]["model"] == models[1]["id"]
    shown = json.loads(run_cli("show", "my_model", "--json", cwd=project, check=True).stdout)
    assert shown["producer"]["run_id"] == runs[0]["id"] and "accuracy" in shown["run_metadata"]
    log = subprocess.run(["git", "--git-dir", ".artrepo", "log", "--format=%s",
                          "refs/artrepo/pipelines/model_finetuning_pipeline"],
                         cwd=project, capture_output=True, text=True, check=True).stdout.splitlines()
    assert log == ["run model_finetuning_pipeline: completed (1 steps, 0 cached)",
                   "run model_finetuning_pipeline: completed (2 steps, 0 cached)"]
    git_fsck(project)


def test_run_parameters_config_and_explain(project, pipe_file):
    first = run_cli("run", "pipe.py", "-p", "n=4", cwd=project, check=True)
    assert "step load: completed" in first.stdout
    second = run_cli("run", "pipe.py", "-p", "n=4", "--explain", cwd=project, check=True)
    assert "step doubled: cached" in second.stdout and second.stdout.count("cache hit") == 2
    (project / "conf.yaml").write_text("parameters: {n: 5}\nsteps:\n  doubled:\n    outputs:\n"
                                       "      doubled: {name: twice, version: v5}\n")
    third = run_cli("run", "pipe.py", "--config", "conf.yaml", "--explain", cwd=project, check=True)
    assert "cache miss: parameter 'n' changed" in third.stdout
    assert json.loads(run_cli("show", "twice:v5", "--json", cwd=project, check=True).stdout)["version"] == "v5"
    again = run_cli("run", "pipe.py", "--config", "conf.yaml", cwd=project, check=True)
    assert "step doubled: cached" in again.stdout  # the custom version saves nothing again
    forced = run_cli("run", "pipe.py", "--config", "conf.yaml", "--no-cache", cwd=project)
    assert forced.returncode == 1 and "twice:v5 already exists" in forced.stderr and "Traceback" not in forced.stderr
    assert len(_runs(project)) == 4


def test_helper_change_invalidates_the_step_that_calls_it(project, pipe_file):
    run_cli("run", "pipe.py", cwd=project, check=True)
    pipe_file.write_text(PIPELINE.replace("return x * 2", "return x * 3"))
    out = run_cli("run", "pipe.py", "--explain", cwd=project, check=True).stdout
    assert "step load: cached" in out
    assert "step doubled: completed" in out and "code changed" in out
    assert json.loads(run_cli("show", "doubled", "--json", cwd=project, check=True).stdout)["version"] == "2"
    cached = run_cli("run", "pipe.py", "--no-cache", "--explain", cwd=project, check=True).stdout
    assert "caching is off (--no-cache)" in cached


def test_failed_step_exits_1_and_rerun_serves_succeeded_steps_from_cache(project, pipe_file):
    failed = run_cli("run", "pipe.py", cwd=project, env={"FAIL": "1"})
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [failed.stderr.strip()]  # one line
    assert "doubling failed" in failed.stderr and "Traceback" not in failed.stderr
    (run,) = _runs(project)
    assert run["status"] == "failed"
    shown = json.loads(run_cli("show", run["id"], "--json", cwd=project, check=True).stdout)
    assert [(s["name"], s["status"]) for s in shown["steps"]] == [("load", "completed"), ("doubled", "failed")]
    fixed = run_cli("run", "pipe.py", cwd=project, check=True).stdout
    assert "step load: cached" in fixed and "step doubled: completed" in fixed


def test_sigkill_mid_step_leaves_a_valid_repository(project, pipe_file, tmp_path):
    mark = tmp_path / "in-step"
    proc = subprocess.Popen([sys.executable, "-m", "artrepo", "run", "pipe.py"], cwd=project,
                            env={**os.environ, "MARK": str(mark)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not mark.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert mark.exists(), "the step never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    git_fsck(project)
    assert _runs(project) == []
    assert not list((project / ".artrepo" / "refs" / "artrepo").glob("runs/*"))
    out = run_cli("run", "pipe.py", cwd=project, check=True).stdout
    assert "step doubled: completed" in out
    (run,) = _runs(project)
    assert run["status"] == "completed"
    git_fsck(project)


def test_two_concurrent_runs_are_both_recorded(project, pipe_file):
    procs = [subprocess.Popen([sys.executable, "-m", "artrepo", "run", "pipe.py", "--no-cache"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    runs = _runs(project)
    assert len(runs) == 2 and {r["status"] for r in runs} == {"completed"}
    versions = json.loads(run_cli("log", "doubled", "--json", cwd=project, check=True).stdout)
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    log = subprocess.run(["git", "--git-dir", ".artrepo", "log", "--format=%H", "refs/artrepo/pipelines/numbers_pipeline"],
                         cwd=project, capture_output=True, text=True, check=True).stdout.split()
    assert sorted(log) == sorted(r["commit"] for r in runs)
    git_fsck(project)


def test_target_errors_are_one_line_before_running(project, pipe_file):
    (project / "two.py").write_text(PIPELINE + "\n@pipeline\ndef other():\n    load()\n")
    cases = [(("run", "two.py"), "several pipelines"), (("run", "pipe.py:nope"), "no pipeline 'nope'"),
             (("run", "missing.py"), "no such file"), (("run", "pipe.py", "-p", "zz=1"), "unexpected keyword")]
    for args, message in cases:
        proc = run_cli(*args, cwd=project)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1
    assert _runs(project) == [] and run_cli("list", "--json", cwd=project, check=True).stdout.strip() == "[]"
